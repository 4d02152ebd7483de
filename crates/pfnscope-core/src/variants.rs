//! The seeds' historical variants, runnable on the same state as 6.12 for
//! side-by-side comparison: seed 001's `alloc_contig_range()` with the
//! isolation and migration of v4.9 (the last kernel whose code takes the
//! seed's three arguments; v4.10 added a gfp mask), and seed 002's 2010
//! `alloc_contig_pages()` with the isolation of 2.6.36, the tree it was
//! written against. Their list mechanics are the model's (6.12 freelist
//! hygiene); what differs is each algorithm's steps, as its seed document
//! and its kernel show them.

use crate::contig::{ContigError, ContigStats};
use crate::error::Errno;
use crate::geometry::{PfnRange, ZoneType};
use crate::isolation::IsolFlags;
use crate::machine::Machine;
use crate::migrate::{MigrateLoop, MigrateStats};
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageFlags, PageKind, PageWord, Tag};
use crate::trace::{KernelFn, StepKind};

/// The kernel generation whose isolation a variant runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Era {
    /// v4.9, the last kernel with seed 001's three-argument code.
    V4,
    /// 2.6.36, the tree the 2010 RFC was written against.
    Rfc2010,
}

impl Era {
    fn set_migratetype_isolate(self) -> KernelFn {
        match self {
            Era::V4 => KernelFn::SetMigratetypeIsolateV4,
            Era::Rfc2010 => KernelFn::SetMigratetypeIsolate2010,
        }
    }
}

/// `NR_MOVE_AT_ONCE_PAGES` of the 2010 RFC.
pub const NR_MOVE_AT_ONCE_PAGES: usize = 256;
/// `CONTIG_ALLOC_MIGRATION_RETRY` of the 2010 RFC.
pub const CONTIG_ALLOC_MIGRATION_RETRY: i32 = 5;
/// Rounds after which the model stops the RFC's migration loop, which can
/// spin forever when an LRU page lies below the window.
pub const LIVELOCK_GUARD: u32 = 64;

impl Machine {
    /// `MAX_ORDER_NR_PAGES` as kernels before 6.4 meant it (MAX_ORDER was
    /// exclusive: 2^(MAX_ORDER-1) pages), max'ed with the pageblock: the
    /// alignment of `pfn_max_align_down/up`.
    fn pfn_max_align(&self) -> u64 {
        self.geo.max_order_nr_pages().max(self.geo.pageblock_nr_pages())
    }

    /// `has_unmovable_pages()` as in v4.9 (mm/page_alloc.c): nothing in
    /// ZONE_MOVABLE and nothing in a MOVABLE or CMA pageblock is looked at
    /// ("movable" at once); otherwise, over the whole pageblock, a page in
    /// use that is not on the LRU is unmovable (hugetlb and free blocks are
    /// skipped; compound tails have no references).
    fn has_unmovable_pages_v4(&self, block: u64) -> Option<u64> {
        let in_movable = self.zone_of(block).is_some_and(|zi| self.zones[zi].zone_type == ZoneType::Movable);
        let mt = self.get_pageblock_migratetype(block);
        if in_movable || matches!(mt, MigrateType::Movable | MigrateType::Cma) {
            return None;
        }
        let end = block + self.geo.pageblock_nr_pages();
        let mut pfn = block;
        while pfn < end {
            let w = self.page(pfn);
            match w.as_in_use() {
                None if w.is_buddy() => pfn += 1 << w.order(),
                None => pfn += 1,
                Some(u) if u.kind == PageKind::Hugetlb => {
                    let (head, order) = self.allocation_at(pfn).unwrap_or((pfn, 0));
                    pfn = (head + (1 << order)).max(pfn + 1);
                }
                Some(u) if u.refcount == 0 || u.flags.contains(PageFlags::LRU) => pfn += 1,
                Some(_) => return Some(pfn),
            }
        }
        None
    }

    /// One pageblock of an older kernel's `start_isolate_page_range()`:
    /// `set_migratetype_isolate()` with that kernel's exemptions, then
    /// `drain_all_pages()` after every block it isolates (moved to the
    /// callers in 5.11).
    fn set_migratetype_isolate_old(&mut self, b: u64, era: Era) -> Result<(), u64> {
        let nr = self.geo.pageblock_nr_pages();
        let zi = self.zone_of(b).expect("caller checked");
        self.enter(era.set_migratetype_isolate());
        let t = self.get_pageblock_migratetype(b);
        let refused = if t == MigrateType::Isolate {
            self.note(StepKind::Failure, Some(PfnRange::new(b, b + nr)), || {
                format!("pfnscope: pageblock {b:#x} is already isolated by someone else; this kernel did not check and would isolate it twice, pfnscope refuses with -EBUSY as kernels since v4.20 do")
            });
            Some(b)
        } else {
            match era {
                Era::V4 => {
                    self.enter(KernelFn::HasUnmovablePagesV4);
                    let bad = self.has_unmovable_pages_v4(b);
                    match bad {
                        Some(p) => {
                            let what = self.describe_page(p);
                            self.note(StepKind::Failure, Some(PfnRange::new(p, p + 1)), || format!("{t} pageblock: {p:#x} is in use and not on the LRU ({what})"));
                        }
                        None if matches!(t, MigrateType::Movable | MigrateType::Cma) => {
                            self.note(StepKind::Decision, Some(PfnRange::new(b, b + nr)), || format!("a {t} pageblock is taken to be movable without looking at its pages"))
                        }
                        None => self.note(StepKind::Action, Some(PfnRange::new(b, b + nr)), || format!("no unmovable page in {b:#x}-{:#x}", b + nr)),
                    }
                    self.leave();
                    bad
                }
                Era::Rfc2010 => {
                    let in_movable = self.zones[zi].zone_type == ZoneType::Movable;
                    if t == MigrateType::Movable || in_movable {
                        self.note(StepKind::Decision, Some(PfnRange::new(b, b + nr)), || format!("a {t} pageblock{} is isolated without looking at its pages", if in_movable { " in ZONE_MOVABLE" } else { "" }));
                        None
                    } else {
                        self.note(StepKind::Failure, Some(PfnRange::new(b, b + nr)), || {
                            format!("pageblock {b:#x} is {t}, not Movable, and no balloon driver accounts for its pages (MEM_ISOLATE_COUNT finds none)")
                        });
                        Some(b)
                    }
                }
            }
        };
        let result = match refused {
            Some(p) => Err(p),
            None => {
                self.move_freepages_block_isolate(zi, b, MigrateType::Isolate);
                self.note(StepKind::Action, Some(PfnRange::new(b, b + nr)), || format!("pageblock {b:#x} is now MIGRATE_ISOLATE"));
                match era {
                    Era::V4 => self.drain_all_pages(Some(zi)),
                    Era::Rfc2010 => self.drain_all_pages(None),
                }
                Ok(())
            }
        };
        self.leave();
        result
    }

    /// Isolates whole pageblocks one by one, undoing on failure: the
    /// pre-5.19 `start_isolate_page_range()`.
    fn isolate_blocks_whole(&mut self, start: u64, end: u64, mt: MigrateType, era: Era) -> Result<(), u64> {
        let nr = self.geo.pageblock_nr_pages();
        let mut b = start;
        while b < end {
            if self.zone_of(b).is_some() {
                if let Err(p) = self.set_migratetype_isolate_old(b, era) {
                    self.undo_isolate_page_range(start, b, mt);
                    return Err(p);
                }
            }
            b += nr;
        }
        Ok(())
    }

    /// `alloc_contig_range()` as in v4.x (seed 001): isolation widened to
    /// MAX_ORDER alignment and checked over whole pageblocks; any migration
    /// error aborts; LRU and per-cpu drains come after migration;
    /// `outer_start` is found by rounding down order by order until a
    /// PageBuddy head appears, and -EBUSY if none does.
    pub fn alloc_contig_range_v4(&mut self, start: u64, end: u64, migratetype: MigrateType) -> Result<ContigStats, ContigError> {
        if end <= start || self.zone_of(start).is_none() || self.zone_of(end - 1) != self.zone_of(start) {
            return Err(ContigError { errno: Errno::EINVAL, pfn: Some(start), reason: format!("bad range {start:#x}-{end:#x}") });
        }
        let zi = self.zone_of(start).expect("checked");
        let align = self.pfn_max_align();
        let (istart, iend) = (start & !(align - 1), end.div_ceil(align) * align);
        self.enter(KernelFn::AllocContigRangeV4);
        self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("alloc_contig_range({start:#x}, {end:#x}, {migratetype}): {} pages", end - start));
        self.note(StepKind::Decision, Some(PfnRange::new(istart, iend)), || {
            format!("v4.9: isolation widened to MAX_ORDER alignment: {istart:#x}-{iend:#x} for {start:#x}-{end:#x}")
        });
        let mut stats = ContigStats::default();
        let result = 'done: {
            self.enter(KernelFn::StartIsolatePageRange);
            let iso = self.isolate_blocks_whole(istart, iend, migratetype, Era::V4);
            self.leave();
            if let Err(p) = iso {
                // v4.x returns here; there is nothing to undo.
                self.leave();
                let what = self.describe_page(p);
                return Err(ContigError { errno: Errno::EBUSY, pfn: Some(p), reason: format!("pageblock isolation failed at {p:#x} ({what})") });
            }
            if let Err(e) = self.alloc_contig_migrate_range_as(start, end, &mut stats.migration, true) {
                break 'done Err(ContigError { errno: e, pfn: stats.migration.failed.first().copied(), reason: format!("migration failed: {e} (v4.x gives up here)") });
            }
            self.lru_add_drain_all();
            self.drain_all_pages(Some(zi));
            let mut order = 0u8;
            let mut outer_start = start;
            while !self.page(outer_start).is_buddy() {
                order += 1;
                if order > self.geo.max_order {
                    self.note(StepKind::Failure, Some(PfnRange::new(start, start + 1)), || "no PageBuddy head at any order below MAX_ORDER: -EBUSY".into());
                    break 'done Err(ContigError { errno: Errno::EBUSY, pfn: Some(start), reason: "no free buddy block found for outer_start".into() });
                }
                outer_start &= !0u64 << order;
            }
            if let Err(fin) = self.test_pages_isolated(outer_start, end, IsolFlags::default()) {
                break 'done Err(ContigError { errno: Errno::EBUSY, pfn: Some(fin), reason: format!("[{outer_start:#x}, {end:#x}) PFNs busy") });
            }
            self.take_isolated_free_pages(outer_start, end, start)
                .map(|()| stats)
        };
        self.undo_isolate_page_range(istart, iend, migratetype);
        self.leave();
        result
    }

    /// `isolate_freepages_range()` and the head and tail `free_contig_range()`
    /// of the older code: take the free blocks from `outer_start` and give
    /// back what lies outside `[start, end)`.
    fn take_isolated_free_pages(&mut self, outer_start: u64, end: u64, start: u64) -> Result<(), ContigError> {
        self.enter(KernelFn::IsolateFreepagesRange);
        let mut pfn = outer_start;
        while pfn < end {
            let w = self.page(pfn);
            if !w.is_buddy() {
                self.leave();
                return Err(ContigError { errno: Errno::EBUSY, pfn: Some(pfn), reason: format!("{pfn:#x} was not free when taken") });
            }
            let order = w.order();
            self.__isolate_free_page(pfn, order);
            for p in pfn..pfn + (1 << order) {
                self.set_page(p, PageWord::in_use(InUse::new(PageKind::Contig)));
            }
            self.guest_write(pfn, 1 << order);
            pfn += 1 << order;
        }
        let outer_end = pfn;
        self.note(StepKind::Action, Some(PfnRange::new(outer_start, outer_end)), || format!("took {outer_start:#x}-{outer_end:#x} off the isolated lists"));
        self.leave();
        if start > outer_start {
            self.free_contig_range(outer_start, start - outer_start)?;
        }
        if outer_end > end {
            self.free_contig_range(end, outer_end - end)?;
        }
        Ok(())
    }

    /// `do_migrate_range()` of the 2010 RFC: from `start`, take at most 256
    /// LRU pages; any in-use page that is not on the LRU makes it give up
    /// with -EBUSY (after putting back what it took). Returns the number of
    /// pages that failed to migrate, or the error.
    fn do_migrate_range_2010(&mut self, start: u64, end: u64, stats: &mut MigrateStats) -> Result<usize, Errno> {
        self.enter(KernelFn::DoMigrateRange2010);
        let mut list = Vec::new();
        let mut not_managed = None;
        let mut pfn = start;
        while pfn < end && list.len() < NR_MOVE_AT_ONCE_PAGES {
            if let Some(u) = self.page(pfn).as_in_use() {
                if u.refcount > 0 && !u.flags.contains(PageFlags::TAIL) {
                    let (head, order) = self.allocation_at(pfn).unwrap_or((pfn, 0));
                    if u.flags.contains(PageFlags::LRU) {
                        let q = InUse { flags: u.flags.difference(PageFlags::LRU).union(PageFlags::ISOLATED), ..u };
                        self.set_page(head, PageWord::in_use(q));
                        list.push(head);
                    } else {
                        not_managed.get_or_insert(pfn);
                    }
                    pfn = head + (1 << order);
                    continue;
                }
            }
            pfn += 1;
        }
        let result = if let Some(bad) = not_managed {
            let what = self.describe_page(bad);
            self.note(StepKind::Failure, Some(PfnRange::new(bad, bad + 1)), || format!("{bad:#x} is in use but not on the LRU ({what}): -EBUSY"));
            self.putback_movable_pages(&mut list);
            Err(Errno::EBUSY)
        } else if list.is_empty() {
            Ok(0)
        } else {
            // hotremove_migrate_alloc(): alloc_page(GFP_HIGHUSER_MOVABLE).
            let r = self.migrate_pages_to(&mut list, stats, Some(crate::alloc::Gfp::HIGHUSER_MOVABLE), MigrateLoop::Legacy);
            self.putback_movable_pages(&mut list);
            r
        };
        self.leave();
        result
    }

    /// The next run of System RAM (no holes, inside a zone) that
    /// intersects `[from, end)`, clipped to it: one call of
    /// `walk_system_ram_range()`'s callback.
    fn system_ram_chunk(&self, from: u64, end: u64) -> Option<(u64, u64)> {
        let ram = |p: u64| self.zone_of(p).is_some() && self.page(p).tag() != Tag::Hole;
        let first = (from..end).find(|&p| ram(p))?;
        let last = (first..end).find(|&p| !ram(p)).unwrap_or(end);
        Some((first, last))
    }

    /// `__find_contig_block()` of the 2010 RFC: the first RAM chunk in
    /// `[base, end)` whose MAX_ORDER-aligned part is strictly longer than
    /// `pages` (`__get_contig_block()`), then windows in it, stepping by
    /// MAX_ORDER_NR_PAGES, while `pfn + pages < chunk end` (strict, so a
    /// window that ends exactly at the chunk's end is never tried); the
    /// first window that isolates wins; otherwise the next chunk, while
    /// `chunk end + pages < end`.
    fn find_contig_block_2010(&mut self, mut base: u64, end: u64, pages: u64) -> Option<u64> {
        let align = self.pfn_max_align();
        loop {
            let mut chunk = None;
            let mut from = base;
            while let Some((cs, ce)) = self.system_ram_chunk(from, end) {
                let (p, e) = (cs.div_ceil(align) * align, ce & !(align - 1));
                if e >= p && e - p > pages {
                    chunk = Some((p, e));
                    break;
                }
                from = ce;
            }
            let (cbase, cend) = chunk?;
            let mut pfn = cbase;
            while pfn + pages < cend {
                if self.isolate_blocks_whole(pfn, pfn + pages, MigrateType::Movable, Era::Rfc2010).is_ok() {
                    return Some(pfn);
                }
                pfn += align;
            }
            if cend + pages < end {
                base = cend;
            } else {
                return None;
            }
        }
    }

    /// `alloc_contig_freed_pages()` of the 2010 RFC: take every free block
    /// of the window off the lists. Its loop advances `page` but tests
    /// `pfn`, which never moves: the second pass looks at the first page
    /// again, no longer PageBuddy, and hits `VM_BUG_ON(!PageBuddy(page))`
    /// (or, without CONFIG_DEBUG_VM, unlinks it again and never ends). The
    /// model names the bug in the trace and takes the window as the patch
    /// meant to.
    fn alloc_contig_freed_pages_2010(&mut self, found: u64, end: u64) -> Result<(), ContigError> {
        self.enter(KernelFn::AllocContigFreedPages2010);
        let first_order = self.page(found).is_buddy().then(|| self.page(found).order());
        self.note(StepKind::Failure, Some(PfnRange::new(found, found + 1)), || {
            let first = first_order.map_or("its first page".to_string(), |o| format!("the order-{o} block at {found:#x}"));
            format!("bug in the RFC: `while (pfn < end)` never advances pfn; after taking {first} the loop looks at {found:#x} again, no longer PageBuddy: VM_BUG_ON, or list corruption and an endless loop without CONFIG_DEBUG_VM")
        });
        self.note(StepKind::Decision, Some(PfnRange::new(found, end)), || {
            "pfnscope: advances pfn block by block, as the patch meant, to show the rest of the window taken".into()
        });
        let r = self.take_isolated_free_pages(found, end, found);
        self.leave();
        r
    }

    /// `alloc_contig_pages()` of the 2010 RFC (seed 002), with the 2.6.36
    /// isolation it ran on: look for a MAX_ORDER-aligned window of RAM
    /// above `hint` whose pageblocks isolate (MOVABLE blocks, or any block
    /// in ZONE_MOVABLE, without looking at their pages; a drain after
    /// each), migrate its LRU pages out 256 at a time with 5 retries
    /// (targets from `alloc_page(GFP_HIGHUSER_MOVABLE)`), drain, test, and
    /// take the free pages. The patch's quirks are kept and shown: its
    /// window bounds are strict (`base + pages < end`, `pfn + pages <
    /// chunk end`, a chunk strictly longer than the request), a window that
    /// fails the test stays isolated and the search starts again from the
    /// hint (`goto retry`), `alloc_contig_freed_pages()` never advances its
    /// PFN (see there), and the final `undo_isolate_page_range(found,
    /// pages)` passes a page count where an end PFN belongs, so the taken
    /// window stays isolated. Returns the first PFN; the size is rounded up
    /// to MAX_ORDER_NR_PAGES.
    pub fn alloc_contig_pages_2010(&mut self, hint: u64, nr: u64) -> Result<(u64, ContigStats), ContigError> {
        if nr == 0 {
            return Err(ContigError { errno: Errno::EINVAL, pfn: None, reason: "a size of zero".into() });
        }
        let align = self.pfn_max_align();
        let pages = nr.div_ceil(align) * align;
        let hint = hint.div_ceil(align) * align;
        self.enter(KernelFn::AllocContigPages2010);
        self.note(StepKind::Action, None, || format!("2010 RFC: {nr} pages rounded up to {pages}, search above {hint:#x}"));
        let mut stats = ContigStats::default();
        let span = self.pfn_span();
        let result = loop {
            // retry: the one node's window.
            let node_end = span.end;
            let base = hint.max(span.start).div_ceil(align) * align;
            let end = node_end & !(align - 1);
            self.enter(KernelFn::FindContigBlock2010);
            let found = if node_end >= hint + pages && base + pages < end { self.find_contig_block_2010(base, end, pages) } else { None };
            self.leave();
            let Some(found) = found else {
                break Err(ContigError { errno: Errno::ENOMEM, pfn: None, reason: format!("no isolatable window of {pages} pages above {hint:#x}") });
            };
            stats.attempts += 1;
            let end = found + pages;
            self.note(StepKind::Decision, Some(PfnRange::new(found, end)), || format!("window {found:#x}-{end:#x} isolated"));
            // scan_lru_pages() returns 0 for "none", and the loop tests
            // `start < end`, so it runs once even with no LRU page.
            let mut retry = CONTIG_ALLOC_MIGRATION_RETRY;
            let scan = |m: &Machine, from: u64| (from.max(span.start)..end).find(|&p| m.page(p).as_in_use().is_some_and(|u| u.flags.contains(PageFlags::LRU))).unwrap_or(0);
            let mut start = scan(self, found);
            let mut spins = 0;
            while start < end {
                spins += 1;
                if spins > LIVELOCK_GUARD {
                    self.note(StepKind::Failure, Some(PfnRange::new(start, start + 1)), || {
                        format!("pfnscope: stopped after {LIVELOCK_GUARD} rounds; the RFC's loop would spin forever: scan_lru_pages() keeps returning {start:#x}, below the window, where do_migrate_range() never looks")
                    });
                    break;
                }
                if self.do_migrate_range_2010(found, end, &mut stats.migration) != Ok(0) {
                    let gave_up = retry < 0;
                    retry -= 1;
                    if gave_up {
                        break;
                    }
                    self.lru_add_drain_all();
                    self.drain_all_pages(None);
                }
                start = scan(self, start);
                if start == 0 {
                    break;
                }
            }
            self.lru_add_drain_all();
            self.drain_all_pages(None);
            if self.test_pages_isolated(found, end, IsolFlags::default()).is_err() {
                self.note(StepKind::Failure, Some(PfnRange::new(found, end)), || "test failed: goto retry, from the hint again, leaving this window isolated".into());
                continue;
            }
            if let Err(e) = self.alloc_contig_freed_pages_2010(found, end) {
                break Err(e);
            }
            self.enter(KernelFn::UndoIsolatePageRange);
            self.note(StepKind::Decision, Some(PfnRange::new(found, end)), || {
                format!("undo_isolate_page_range({found:#x}, {pages:#x}): the end is a count, below the start, so nothing is unisolated")
            });
            if pages > found {
                self.undo_isolate_page_range(found, pages.min(end), MigrateType::Movable);
            }
            self.leave();
            break Ok((found, stats));
        };
        self.leave();
        result
    }
}
