//! Contiguous allocation (mm/page_alloc.c, v6.12): `alloc_contig_range()`,
//! `free_contig_range()` and `alloc_contig_pages()`.

use serde::{Deserialize, Serialize};

use crate::buddy::Fpi;
use crate::error::Errno;
use crate::geometry::PfnRange;
use crate::isolation::IsolFlags;
use crate::machine::Machine;
use crate::migrate::MigrateStats;
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageFlags, PageKind, PageWord, Tag};
use crate::trace::{KernelFn, StepKind};

/// Why a contiguous allocation failed: the kernel's error code, the page
/// that stopped it when there is one, and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{errno}: {reason}")]
pub struct ContigError {
    pub errno: Errno,
    pub pfn: Option<u64>,
    pub reason: String,
}

impl ContigError {
    fn new(errno: Errno, pfn: Option<u64>, reason: impl Into<String>) -> ContigError {
        ContigError { errno, pfn, reason: reason.into() }
    }
}

/// What a successful contiguous allocation cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContigStats {
    pub migration: MigrateStats,
    /// Windows tried by `alloc_contig_pages()` with a full isolate, migrate
    /// and test cycle.
    pub attempts: u32,
}

impl Machine {
    /// `isolate_freepages_range()` in strict mode: take every free block
    /// from `start` to `end` off the (isolated) free lists. A page that is
    /// not free fails the whole range; what was taken goes back. Returns
    /// `outer_end`, which can lie past `end`, and the blocks taken.
    fn isolate_freepages_range(&mut self, start: u64, end: u64) -> Option<(u64, Vec<(u64, u8)>)> {
        self.enter(KernelFn::IsolateFreepagesRange);
        let mut taken = Vec::new();
        let mut pfn = start;
        let mut failed = None;
        while pfn < end {
            let w = self.page(pfn);
            if !w.is_buddy() {
                failed = Some(pfn);
                break;
            }
            let order = w.order();
            self.__isolate_free_page(pfn, order);
            taken.push((pfn, order));
            pfn += 1 << order;
        }
        let result = match failed {
            None => {
                self.note(StepKind::Action, Some(PfnRange::new(start, pfn)), || format!("took {} free block(s) off the isolated lists, {start:#x}-{pfn:#x}", taken.len()));
                Some((pfn, taken))
            }
            Some(bad) => {
                for (p, o) in taken {
                    let zi = self.zone_of(p).expect("in zone");
                    self.free_one_page(p, zi, o, Fpi::NONE);
                }
                self.note(StepKind::Failure, Some(PfnRange::new(bad, bad + 1)), || format!("{bad:#x} is not free: -EBUSY"));
                None
            }
        };
        self.leave();
        result
    }

    /// `split_free_pages()` and `prep_new_page()`: every taken block becomes
    /// order-0 pages with refcount 1, held by the caller.
    fn split_free_pages(&mut self, blocks: &[(u64, u8)]) {
        self.enter(KernelFn::SplitFreePages);
        let mut n = 0;
        for &(pfn, order) in blocks {
            self.set_pages(pfn, 1 << order, PageWord::in_use(InUse::new(PageKind::Contig)));
            self.guest_write(pfn, 1 << order);
            n += 1 << order;
        }
        self.note(StepKind::Action, None, || format!("split the taken blocks into {n} order-0 pages"));
        self.leave();
    }

    /// `alloc_contig_range()` (v6.12) for `[start, end)` in one zone,
    /// with `migratetype` MOVABLE or CMA:
    ///
    /// 1. `start_isolate_page_range()`; on failure -EBUSY with no migration;
    /// 2. `drain_all_pages(zone)`;
    /// 3. `__alloc_contig_migrate_range()`; -EINTR and -ENOMEM return,
    ///    -EBUSY is ignored so the test below names the busy page;
    /// 4. `outer_start = find_large_buddy(start)`;
    /// 5. `test_pages_isolated(outer_start, end)`, else -EBUSY;
    /// 6. `isolate_freepages_range()`, else -EBUSY;
    /// 7. without `__GFP_COMP`: `split_free_pages()` and free the overhang
    ///    `[outer_start, start)` and `[end, outer_end)`; with it, one
    ///    compound page if the range is exactly a power of two, else -EINVAL
    ///    (the kernel then leaks the taken pages; pfnscope frees them and
    ///    says so in the trace);
    /// 8. `undo_isolate_page_range()`, always.
    ///
    /// On success `[start, end)` is held as [`PageKind::Contig`] pages.
    pub fn alloc_contig_range(&mut self, start: u64, end: u64, migratetype: MigrateType, gfp_comp: bool) -> Result<ContigStats, ContigError> {
        let zi = self.check_contig_args(start, end, migratetype)?;
        self.enter(KernelFn::AllocContigRange);
        let mut stats = ContigStats::default();
        self.note(StepKind::Action, Some(PfnRange::new(start, end)), || {
            format!("alloc_contig_range({start:#x}, {end:#x}, {migratetype}): {} pages", end - start)
        });
        let result = 'done: {
            if let Err(e) = self.start_isolate_page_range(start, end, migratetype, IsolFlags::default()) {
                let what = self.describe_page(e.pfn);
                break 'done Err(ContigError::new(Errno::EBUSY, Some(e.pfn), format!("pageblock isolation failed at {:#x} ({what})", e.pfn)));
            }
            self.drain_all_pages(Some(zi));
            match self.__alloc_contig_migrate_range(start, end, &mut stats.migration) {
                Err(Errno::EINTR) => break 'done Err(ContigError::new(Errno::EINTR, None, "a fatal signal interrupted migration")),
                Err(Errno::ENOMEM) => break 'done Err(ContigError::new(Errno::ENOMEM, None, "no migration target could be allocated")),
                _ => {}
            }
            self.enter(KernelFn::FindLargeBuddy);
            let outer_start = self.find_large_buddy(start);
            if outer_start != start {
                self.note(StepKind::Decision, Some(PfnRange::new(outer_start, start)), || {
                    format!("a free block at {outer_start:#x} covers start: outer_start = {outer_start:#x}")
                });
            }
            self.leave();
            if let Err(fin) = self.test_pages_isolated(outer_start, end, IsolFlags::default()) {
                let what = self.describe_page(fin);
                break 'done Err(ContigError::new(Errno::EBUSY, Some(fin), format!("PFNs {outer_start:#x}-{end:#x} busy: {fin:#x} is {what}")));
            }
            let Some((outer_end, blocks)) = self.isolate_freepages_range(outer_start, end) else {
                break 'done Err(ContigError::new(Errno::EBUSY, None, "a page in the range was not free when taken"));
            };
            if !gfp_comp {
                self.split_free_pages(&blocks);
                if start != outer_start {
                    self.free_contig_pages_raw(outer_start, start - outer_start);
                }
                if end != outer_end {
                    self.free_contig_pages_raw(end, outer_end - end);
                }
                Ok(stats)
            } else if start == outer_start && end == outer_end && (end - start).is_power_of_two() {
                let order = (end - start).trailing_zeros() as u8;
                let head = InUse { compound_order: order, ..InUse::new(PageKind::Contig) }.with_flags(PageFlags::HEAD);
                let tail = InUse { refcount: 0, flags: PageFlags::TAIL, ..head };
                self.set_page(start, PageWord::in_use(head));
                self.set_pages(start + 1, end - start - 1, PageWord::in_use(tail));
                self.guest_write(start, end - start);
                Ok(stats)
            } else {
                // 6.12 WARNs and returns -EINVAL with the taken blocks still
                // on its private lists: they are never freed. pfnscope
                // frees them, so the machine stays usable, and says so.
                self.note(StepKind::Failure, Some(PfnRange::new(outer_start, outer_end)), || {
                    format!("WARN: PFN range: requested [{start:#x}, {end:#x}), allocated [{outer_start:#x}, {outer_end:#x}): -EINVAL; the kernel leaks the taken pages here")
                });
                for &(p, o) in &blocks {
                    self.free_one_page(p, zi, o, Fpi::NONE);
                }
                self.note(StepKind::Decision, Some(PfnRange::new(outer_start, outer_end)), || {
                    "pfnscope: the leaked blocks are given back to the free lists (the kernel never frees them)".into()
                });
                Err(ContigError::new(Errno::EINVAL, None, format!("__GFP_COMP needs an exact power-of-two range; got {outer_start:#x}-{outer_end:#x}")))
            }
        };
        self.undo_isolate_page_range(start, end, migratetype);
        match &result {
            Ok(s) => self.note(StepKind::Action, Some(PfnRange::new(start, end)), || {
                format!("alloc_contig_range succeeded: {} folio(s) migrated, {} reclaimed", s.migration.migrated, s.migration.reclaimed)
            }),
            Err(e) => {
                let (r, p) = (e.to_string(), e.pfn);
                self.note(StepKind::Failure, p.map(|p| PfnRange::new(p, p + 1)), || format!("alloc_contig_range failed: {r}"))
            }
        }
        self.leave();
        result
    }

    /// The checks the kernel leaves to its callers, made typed errors by
    /// pfnscope (its guards, not the kernel's):
    /// an empty or reversed range, one outside every zone or across zones,
    /// a migratetype other than MOVABLE or CMA.
    fn check_contig_args(&self, start: u64, end: u64, migratetype: MigrateType) -> Result<usize, ContigError> {
        if end <= start {
            return Err(ContigError::new(Errno::EINVAL, None, format!("empty or reversed range {start:#x}-{end:#x}")));
        }
        if !matches!(migratetype, MigrateType::Movable | MigrateType::Cma) {
            return Err(ContigError::new(Errno::EINVAL, None, format!("migratetype must be Movable or CMA, not {migratetype}")));
        }
        let zi = self.zone_of(start).ok_or_else(|| ContigError::new(Errno::EINVAL, Some(start), format!("{start:#x} is in no zone")))?;
        if self.zone_of(end - 1) != Some(zi) {
            return Err(ContigError::new(Errno::EINVAL, Some(end - 1), format!("{start:#x}-{end:#x} crosses a zone boundary")));
        }
        // The kernel trusts callers that pass MIGRATE_CMA to name a CMA
        // range (undo would turn other pageblocks into CMA); refuse it.
        if migratetype == MigrateType::Cma {
            let nr = self.geo.pageblock_nr_pages();
            let mut p = self.pageblock_start_pfn(start);
            while p < end {
                if self.get_pageblock_migratetype(p) != MigrateType::Cma {
                    return Err(ContigError::new(Errno::EINVAL, Some(p), format!("pfnscope refuses MIGRATE_CMA over pageblock {p:#x}, which is {} (the kernel trusts its caller here, and its undo would make the block CMA)", self.get_pageblock_migratetype(p))));
                }
                p += nr;
            }
        }
        Ok(zi)
    }

    /// Frees pages the caller holds one by one (`__free_page()` each).
    fn free_contig_pages_raw(&mut self, pfn: u64, nr: u64) {
        self.enter(KernelFn::FreeContigRange);
        let zi = self.zone_of(pfn).expect("in zone");
        for p in pfn..pfn + nr {
            self.set_page(p, PageWord::taken(0));
            self.free_unref_page(p, zi, 0);
        }
        self.leave();
    }

    /// `free_contig_range()` (v6.12): give back what `alloc_contig_range()`
    /// returned, page by page (or the whole compound page). Refuses, with
    /// nothing changed, a range holding pages that are not a contiguous
    /// allocation.
    pub fn free_contig_range(&mut self, pfn: u64, nr: u64) -> Result<(), ContigError> {
        if nr == 0 {
            return Err(ContigError::new(Errno::EINVAL, None, "a count of zero"));
        }
        let head = self.page(pfn).as_in_use();
        if let Some(h) = head.filter(|h| h.flags.contains(PageFlags::HEAD) && h.kind == PageKind::Contig) {
            if 1u64 << h.compound_order != nr {
                return Err(ContigError::new(Errno::EINVAL, Some(pfn), format!("{pfn:#x} is an order-{} folio, not {nr} pages", h.compound_order)));
            }
            self.enter(KernelFn::FreeContigRange);
            let r = self.free_pages(pfn, h.compound_order).map(|_| ()).map_err(|e| ContigError::new(Errno::EINVAL, Some(pfn), e.to_string()));
            self.leave();
            return r;
        }
        if let Some(bad) = (pfn..pfn + nr).find(|&p| self.page(p).as_in_use().is_none_or(|u| u.kind != PageKind::Contig || u.refcount == 0 || u.flags.contains(PageFlags::TAIL))) {
            return Err(ContigError::new(Errno::EINVAL, Some(bad), format!("{bad:#x} is not a page of a contiguous allocation ({})", self.describe_page(bad))));
        }
        self.enter(KernelFn::FreeContigRange);
        self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + nr)), || format!("free_contig_range({pfn:#x}, {nr})"));
        let end = pfn + nr;
        let chunk = self.free_contig_chunk(nr);
        let mut p = pfn;
        let mut r = Ok(());
        while p < end && r.is_ok() {
            let to = ((p / chunk + 1) * chunk).min(end);
            let zi = self.zone_of(p).expect("checked");
            let (buddy, pcp) = (self.zone_free_pages(zi), self.zone_pcp_pages(zi));
            // Every page was checked above; a failure here would be a model
            // bug, reported rather than hidden, with the call stack balanced.
            // The fold spans the whole range: the per-cpu lists drain pages
            // freed by earlier chunks.
            r = self.folded(PfnRange::new(pfn, end), |m| {
                (p..to).try_for_each(|q| m.free_pages(q, 0).map(|_| ()).map_err(|e| ContigError::new(Errno::EINVAL, Some(q), e.to_string())))
            });
            let (buddy, pcp) = (self.zone_free_pages(zi) - buddy, self.zone_pcp_pages(zi) as i64 - pcp as i64);
            self.note(StepKind::Action, Some(PfnRange::new(p, to)), || {
                format!("__free_page() on each of {:#x}-{to:#x} ({} pages): the per-cpu lists {} {} page(s), the buddy lists {} {} (free_pcppages_bulk, then merging)",
                    p, to - p, if pcp < 0 { "lost" } else { "gained" }, pcp.abs(), if buddy < 0 { "lost" } else { "gained" }, buddy.abs())
            });
            p = to;
        }
        self.leave();
        r
    }

    /// How many pages of a `free_contig_range()` one trace step frees: a
    /// pageblock, or more so that a range takes at most 64 steps. The
    /// kernel frees page by page; pfnscope does too, and folds each chunk
    /// into one step (its merges and drains are in the journal, not in
    /// steps of their own).
    fn free_contig_chunk(&self, nr: u64) -> u64 {
        let pb = self.geo.pageblock_nr_pages();
        nr.div_ceil(64).div_ceil(pb).max(1) * pb
    }

    /// `pfn_range_valid_contig()`: every page online, in the zone, not
    /// reserved, not hugetlb.
    pub fn pfn_range_valid_contig(&self, zi: usize, start: u64, nr: u64) -> Result<(), u64> {
        for p in start..start + nr {
            let w = self.page(p);
            let bad = w.tag() == Tag::Hole
                || self.zone_of(p) != Some(zi)
                || w.as_in_use().is_some_and(|u| matches!(u.kind, PageKind::Reserved | PageKind::Hugetlb));
            if bad {
                return Err(p);
            }
        }
        Ok(())
    }

    /// `alloc_contig_pages()` (v6.12): for each zone the GFP mask allows,
    /// try windows starting at `ALIGN(zone_start, nr)` in steps of `nr`; a
    /// cheap `pfn_range_valid_contig()` skips windows with holes, reserved
    /// or hugetlb pages, and every other window costs a full
    /// `alloc_contig_range(MOVABLE)`. Returns the first PFN.
    pub fn alloc_contig_pages(&mut self, nr: u64, gfp: crate::alloc::Gfp) -> Result<(u64, ContigStats), ContigError> {
        if nr == 0 {
            return Err(ContigError::new(Errno::EINVAL, None, "a count of zero"));
        }
        self.enter(KernelFn::AllocContigPages);
        let mut attempts = 0;
        let zones: Vec<usize> = (0..self.zones.len()).rev().filter(|&zi| self.zones[zi].zone_type <= gfp.highest_zone).collect();
        let mut found = None;
        let mut skipped = 0u64;
        'zones: for zi in zones {
            let span = self.zones[zi].span;
            // ALIGN() as the kernel macro computes it (meant for powers of two).
            let mut pfn = (span.start + nr - 1) & !(nr - 1);
            while pfn + nr <= span.end && pfn >= span.start {
                if let Err(bad) = self.pfn_range_valid_contig(zi, pfn, nr) {
                    skipped += 1;
                    self.enter(KernelFn::PfnRangeValidContig);
                    let what = self.describe_page(bad);
                    self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + nr)), || format!("window {pfn:#x} skipped: {bad:#x} is {what}"));
                    self.leave();
                } else {
                    attempts += 1;
                    if let Ok(mut s) = self.alloc_contig_range(pfn, pfn + nr, MigrateType::Movable, false) {
                        s.attempts = attempts;
                        found = Some((pfn, s));
                        break 'zones;
                    }
                }
                pfn += nr;
            }
        }
        let result = found.ok_or_else(|| {
            ContigError::new(Errno::ENOMEM, None, format!("no window of {nr} pages could be taken ({attempts} tried, {skipped} skipped by pfn_range_valid_contig)"))
        });
        self.leave();
        result
    }
}
