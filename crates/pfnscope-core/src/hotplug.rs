//! Memory offlining (mm/memory_hotplug.c, v6.12): `offline_pages()`
//! isolates the range, then migrates and retries until every page is free
//! or a signal arrives. The kernel has no retry limit; the model takes a
//! budget of rounds from the user so a stuck page ends the simulation with a
//! clear message instead of never returning.

use crate::alloc::Gfp;
use crate::contig::ContigError;
use crate::error::Errno;
use crate::geometry::PfnRange;
use crate::isolation::IsolFlags;
use crate::machine::Machine;
use crate::migrate::MigrateStats;
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageFlags, PageKind, PageWord, Tag};
use crate::trace::{KernelFn, StepKind};

/// What a successful offline cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfflineStats {
    /// Rounds of the outer scan/migrate/test loop.
    pub rounds: u32,
    pub migration: MigrateStats,
}

impl Machine {
    /// `scan_movable_pages()`: the first LRU, movable_ops or hugetlb page
    /// in `[start, end)`.
    fn scan_movable_pages(&self, start: u64, end: u64) -> Option<u64> {
        (start..end).find(|&p| {
            self.page(p).as_in_use().is_some_and(|u| {
                !u.flags.contains(PageFlags::TAIL) && (u.flags.contains(PageFlags::LRU) || matches!(u.kind, PageKind::MovableOps | PageKind::Hugetlb))
            })
        })
    }

    /// `do_migrate_range()` (v6.12): isolate what can be isolated from
    /// `start` on and migrate it (MIGRATE_SYNC, MR_MEMORY_HOTPLUG); failures
    /// are put back for the next round.
    fn do_migrate_range(&mut self, start: u64, end: u64, stats: &mut MigrateStats) {
        self.enter(KernelFn::DoMigrateRange);
        let mut list = Vec::new();
        let mut pfn = start;
        while pfn < end {
            pfn = self.isolate_migratepages_range(pfn, end, &mut list);
            if list.is_empty() {
                continue;
            }
            let r = self.migrate_pages_to(&mut list, stats, Some(Gfp::USER_MOVABLE));
            self.putback_movable_pages(&mut list);
            if r == Err(Errno::ENOMEM) {
                break;
            }
        }
        self.leave();
    }

    /// `offline_pages()` (v6.12) for a pageblock-aligned range in one zone:
    /// `zone_pcp_disable`, `start_isolate_page_range(MEMORY_OFFLINE |
    /// REPORT_FAILURE)`, the `MEM_GOING_OFFLINE` notifier (drivers drop
    /// their references to PageOffline pages), then rounds of
    /// `scan_movable_pages` / `do_migrate_range` / `test_pages_isolated`
    /// until the range is free, and `__offline_isolated_pages`, which leaves
    /// every page PageOffline. `budget` bounds the rounds: when it runs out
    /// the model stops with -EINTR as if the user had sent a signal.
    ///
    /// Simplified: memory-block and section alignment are relaxed to
    /// pageblocks; the zone's managed pages are not adjusted.
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
            // MEM_GOING_OFFLINE: drivers drop their PageOffline references.
            for p in start..end {
                if let Some(u) = self.page(p).as_in_use().filter(|u| u.kind == PageKind::Offline && u.refcount > 0) {
                    self.set_page(p, PageWord::in_use(InUse { refcount: 0, ..u }));
                }
            }
            loop {
                if stats.rounds >= budget {
                    break 'done Err(err(Errno::EINTR, self.scan_movable_pages(start, end), format!(
                        "the step budget of {budget} rounds ran out; the kernel keeps retrying until a signal arrives"
                    )));
                }
                stats.rounds += 1;
                if self.fatal_signal_pending {
                    break 'done Err(err(Errno::EINTR, None, "signal backoff".into()));
                }
                let mut pfn = start;
                self.enter(KernelFn::ScanMovablePages);
                while let Some(found) = self.scan_movable_pages(pfn, end) {
                    self.note(StepKind::Action, Some(PfnRange::new(found, found + 1)), || format!("movable page at {found:#x}"));
                    self.do_migrate_range(found, end, &mut stats.migration);
                    let next = self.scan_movable_pages(found, end);
                    if next == Some(found) {
                        // It did not move this round: on to the test.
                        break;
                    }
                    pfn = next.unwrap_or(end);
                }
                self.leave();
                match self.test_pages_isolated(start, end, flags) {
                    Ok(()) => break,
                    Err(fin) => {
                        let r = stats.rounds;
                        self.note(StepKind::Decision, Some(PfnRange::new(fin, fin + 1)), || format!("round {r}: {fin:#x} is still busy; try again"));
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
            for q in p + 1..p + (1 << order) {
                self.set_page(q, PageWord::FREE_TAIL);
            }
            self.free_one_page(p, zi, order, crate::buddy::Fpi::TO_TAIL);
            p += 1 << order;
        }
        self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("{nr} pages online again"));
        self.leave();
        Ok(())
    }
}
