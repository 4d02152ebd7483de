//! Memory offlining (mm/memory_hotplug.c, v6.12): `offline_pages()`
//! isolates the range, then migrates and retries until every page is free
//! or a signal arrives. The kernel has no retry limit; pfnscope takes a
//! budget of rounds from the user so a stuck page ends the simulation with a
//! clear message instead of never returning, and says the budget is its own.

use crate::contig::ContigError;
use crate::error::Errno;
use crate::geometry::PfnRange;
use crate::isolation::IsolFlags;
use crate::machine::Machine;
use crate::migrate::{MigrateLoop, MigrateStats};
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageFlags, PageKind, PageWord, Tag};
use crate::trace::{KernelFn, StepKind};

/// What a successful offline cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfflineStats {
    /// Rounds of the inner scan-and-migrate loop, which pfnscope's budget
    /// counts.
    pub rounds: u32,
    pub migration: MigrateStats,
}

/// What `scan_movable_pages()` found.
enum Scan {
    /// A movable page to migrate, at this PFN.
    Movable(u64),
    /// -ENOENT: nothing movable is left.
    NoEnt,
    /// -EBUSY: a PageOffline page its driver still holds.
    Busy(u64),
}

impl Machine {
    /// `scan_movable_pages()` (v6.12): the first LRU page (a tail reads its
    /// head's flag), `__PageMovable` page or in-use hugetlb folio in
    /// `[start, end)`; a PageOffline page still referenced after
    /// MEM_GOING_OFFLINE is -EBUSY.
    fn scan_movable_pages(&self, start: u64, end: u64) -> Scan {
        let mut pfn = start;
        while pfn < end {
            if let Some(u) = self.page(pfn).as_in_use() {
                let head = if u.flags.contains(PageFlags::TAIL) {
                    self.allocation_at(pfn).and_then(|(h, _)| self.page(h).as_in_use()).unwrap_or(u)
                } else {
                    u
                };
                if head.flags.contains(PageFlags::LRU) || matches!(head.kind, PageKind::MovableOps | PageKind::Hugetlb) {
                    return Scan::Movable(pfn);
                }
                if u.kind == PageKind::Offline && u.refcount > 0 {
                    return Scan::Busy(pfn);
                }
            }
            pfn += 1;
        }
        Scan::NoEnt
    }

    /// `do_migrate_range()` (v6.12): isolate every folio in `[start, end)`
    /// that can be isolated (`isolate_folio_to_list()`: hugetlb, LRU or
    /// movable_ops; the whole range at once, with none of compaction's
    /// batching or its pinned-anon skip), migrate them (MIGRATE_SYNC,
    /// MR_MEMORY_HOTPLUG, targets from `alloc_migration_target()` with
    /// GFP_USER|__GFP_MOVABLE), and put back what failed.
    fn do_migrate_range(&mut self, start: u64, end: u64, stats: &mut MigrateStats) {
        self.enter(KernelFn::DoMigrateRange);
        let mut list = Vec::new();
        let mut pfn = start;
        while pfn < end {
            let Some(u) = self.page(pfn).as_in_use() else {
                pfn += 1;
                continue;
            };
            let (head, order, hp) = self.folio_of(pfn, u);
            let next = (head + (1 << order)).max(pfn + 1);
            // folio_try_get() fails on a folio with no references.
            if hp.refcount > 0 && !hp.flags.contains(PageFlags::ISOLATED) {
                let lru = hp.flags.contains(PageFlags::LRU);
                if lru || matches!(hp.kind, PageKind::MovableOps | PageKind::Hugetlb) {
                    let flags = hp.flags.difference(PageFlags::LRU).union(PageFlags::ISOLATED);
                    self.set_page(head, PageWord::in_use(InUse { flags, ..hp }));
                    list.push(head);
                }
            }
            pfn = next;
        }
        let n = list.len();
        self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("isolated {n} folio(s) in {start:#x}-{end:#x}"));
        if !list.is_empty() {
            let r = self.migrate_pages_to(&mut list, stats, None, MigrateLoop::Batched);
            if r.is_err() || !list.is_empty() {
                let left = list.len();
                self.note(StepKind::Failure, None, || format!("migrating {left} folio(s) failed; they go back and the scan finds them again"));
            }
            self.putback_movable_pages(&mut list);
        }
        self.leave();
    }

    /// `offline_pages()` (v6.12) for a pageblock-aligned range in one zone:
    /// `zone_pcp_disable`, `lru_cache_disable`,
    /// `start_isolate_page_range(MEMORY_OFFLINE | REPORT_FAILURE)`, the
    /// `MEM_GOING_OFFLINE` notifier (virtio-mem drops its references to the
    /// PageOffline pages it owns; any other still-referenced PageOffline
    /// page makes the scan fail), then the kernel's two loops: the inner one
    /// repeats `scan_movable_pages()` and `do_migrate_range()` until no
    /// movable page is left (-ENOENT; -EBUSY from the scan is "unmovable
    /// page"), the outer one runs `test_pages_isolated()` and starts the
    /// inner one again while a page is busy. A pending signal gives -EINTR
    /// ("signal backoff"); nothing else ends it. Then
    /// `__offline_isolated_pages()` leaves every page PageOffline.
    ///
    /// pfnscope's departures: `budget` bounds the rounds of the inner loop
    /// (each scan counts one), and when it runs out the model stops with
    /// -EINTR as if a signal had arrived, saying that the budget is
    /// pfnscope's; memory-block and section alignment are relaxed to
    /// pageblocks; `dissolve_free_hugetlb_folios()` has nothing to do (the
    /// model keeps no free hugetlb pool); the zone's managed pages are not
    /// adjusted.
    pub fn offline_pages(&mut self, start: u64, nr: u64, budget: u32) -> Result<OfflineStats, ContigError> {
        let nrb = self.geo.pageblock_nr_pages();
        let end = start + nr;
        let err = |errno, pfn, reason: String| ContigError { errno, pfn, reason };
        if nr == 0 || !start.is_multiple_of(nrb) || !nr.is_multiple_of(nrb) {
            return Err(err(Errno::EINVAL, None, format!("offlining needs a non-empty pageblock-aligned range, not {start:#x}+{nr}")));
        }
        let zi = self.zone_of(start).ok_or_else(|| err(Errno::EINVAL, Some(start), format!("{start:#x} is in no zone")))?;
        if self.zone_of(end - 1) != Some(zi) {
            return Err(err(Errno::EINVAL, Some(end - 1), "the range crosses a zone boundary".into()));
        }
        if (start..end).any(|p| self.page(p).tag() == Tag::Hole) {
            return Err(err(Errno::EINVAL, None, "the range has holes".into()));
        }
        self.enter(KernelFn::OfflinePages);
        self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("offline_pages({start:#x}, {nr})"));
        self.enter(KernelFn::ZonePcpDisable);
        self.drain_all_pages(Some(zi));
        self.pcp_disabled += 1;
        self.note(StepKind::Action, None, || "per-cpu lists drained and disabled for the zone".into());
        self.leave();
        self.lru_cache_disable();
        let mut stats = OfflineStats::default();
        let flags = IsolFlags { memory_offline: true, report_failure: true };
        let result = 'done: {
            if let Err(e) = self.start_isolate_page_range(start, end, MigrateType::Movable, flags) {
                let what = self.describe_page(e.pfn);
                break 'done Err(err(Errno::EBUSY, Some(e.pfn), format!("failure to isolate range: {:#x} is {what}", e.pfn)));
            }
            // MEM_GOING_OFFLINE: virtio-mem drops its references to the
            // PageOffline pages it fake-offlined. Other PageOffline pages
            // (a balloon's) keep theirs, and the scan below refuses them.
            let mut dropped = 0;
            for p in start..end {
                if let Some(u) = self.page(p).as_in_use().filter(|u| u.kind == PageKind::Offline && u.refcount > 0) {
                    if self.virtio_mem_owns(p) {
                        self.set_page(p, PageWord::in_use(InUse { refcount: 0, ..u }));
                        dropped += 1;
                    }
                }
            }
            if dropped > 0 {
                self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("MEM_GOING_OFFLINE: virtio-mem dropped its references to {dropped} PageOffline page(s)"));
            }
            loop {
                let mut pfn = start;
                loop {
                    if stats.rounds >= budget {
                        let at = match self.scan_movable_pages(start, end) {
                            Scan::Movable(p) | Scan::Busy(p) => Some(p),
                            Scan::NoEnt => None,
                        };
                        self.note(StepKind::Failure, at.map(|p| PfnRange::new(p, p + 1)), || {
                            format!("pfnscope: the budget of {budget} rounds ran out; the kernel has no limit and would keep retrying until a signal arrives")
                        });
                        break 'done Err(err(Errno::EINTR, at, format!(
                            "pfnscope's budget of {budget} rounds ran out (the kernel keeps retrying until a signal arrives)"
                        )));
                    }
                    stats.rounds += 1;
                    if self.fatal_signal_pending {
                        break 'done Err(err(Errno::EINTR, None, "signal backoff".into()));
                    }
                    self.enter(KernelFn::ScanMovablePages);
                    let scan = self.scan_movable_pages(pfn, end);
                    match scan {
                        Scan::Movable(found) => self.note(StepKind::Action, Some(PfnRange::new(found, found + 1)), || format!("movable page at {found:#x}")),
                        Scan::NoEnt => self.note(StepKind::Action, None, || format!("no movable page left in {pfn:#x}-{end:#x}: -ENOENT")),
                        Scan::Busy(p) => self.note(StepKind::Failure, Some(PfnRange::new(p, p + 1)), || format!("{p:#x} is PageOffline and still referenced: -EBUSY")),
                    }
                    self.leave();
                    match scan {
                        Scan::Movable(found) => {
                            pfn = found;
                            self.do_migrate_range(found, end, &mut stats.migration);
                        }
                        Scan::NoEnt => break,
                        Scan::Busy(p) => {
                            let what = self.describe_page(p);
                            break 'done Err(err(Errno::EBUSY, Some(p), format!("unmovable page: {p:#x} is {what}")));
                        }
                    }
                }
                match self.test_pages_isolated(start, end, flags) {
                    Ok(()) => break,
                    Err(fin) => {
                        let r = stats.rounds;
                        self.note(StepKind::Decision, Some(PfnRange::new(fin, fin + 1)), || format!("after {r} round(s): {fin:#x} is still busy; scan again"));
                    }
                }
            }
            // __offline_isolated_pages(): take every free page off the lists.
            self.enter(KernelFn::OfflineIsolatedPages);
            let mut p = start;
            while p < end {
                let w = self.page(p);
                if w.is_buddy() {
                    let order = w.order();
                    self.__isolate_free_page(p, order);
                    for q in p..p + (1 << order) {
                        self.set_page(q, PageWord::in_use(InUse { refcount: 0, ..InUse::new(PageKind::Offline) }));
                    }
                    p += 1 << order;
                } else {
                    p += 1;
                }
            }
            self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("{nr} pages offline"));
            self.leave();
            Ok(())
        };
        // Offlined pageblocks stay isolated until onlined again; a failure
        // gives them back.
        if result.is_err() {
            self.undo_isolate_page_range(start, end, MigrateType::Movable);
        }
        self.lru_cache_enable();
        self.pcp_disabled -= 1;
        match &result {
            Ok(()) => {}
            Err(e) => {
                let r = e.to_string();
                self.note(StepKind::Failure, e.pfn.map(|p| PfnRange::new(p, p + 1)), || format!("offlining failed: {r}"))
            }
        }
        self.leave();
        result.map(|()| stats)
    }

    /// `online_pages()`: give an offlined range back to the buddy allocator
    /// as MOVABLE, freed to the list tails.
    pub fn online_pages(&mut self, start: u64, nr: u64) -> Result<(), ContigError> {
        let end = start + nr;
        let offline = |m: &Machine, p: u64| m.page(p).as_in_use().is_some_and(|u| u.kind == PageKind::Offline && u.refcount == 0);
        if nr == 0 || !(start..end).all(|p| offline(self, p)) || (start..end).any(|p| self.get_pageblock_migratetype(p) != MigrateType::Isolate) {
            return Err(ContigError { errno: Errno::EINVAL, pfn: Some(start), reason: format!("{start:#x}+{nr} is not an offlined range") });
        }
        let zi = self.zone_of(start).expect("offline pages are in a zone");
        self.enter(KernelFn::OnlinePages);
        let nrb = self.geo.pageblock_nr_pages();
        let mut b = start;
        while b < end {
            self.set_pageblock_migratetype(b, MigrateType::Movable);
            b += nrb;
        }
        let mut p = start;
        while p < end {
            let mut order = (p.trailing_zeros() as u8).min(self.geo.max_order);
            while p + (1 << order) > end {
                order -= 1;
            }
            self.set_page(p, PageWord::taken(order));
            self.set_pages(p + 1, (1 << order) - 1, PageWord::FREE_TAIL);
            self.free_one_page(p, zi, order, crate::buddy::Fpi::TO_TAIL);
            p += 1 << order;
        }
        self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("{nr} pages online again"));
        self.leave();
        Ok(())
    }
}
