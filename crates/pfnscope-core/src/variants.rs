//! The seeds' historical variants, runnable on the same state as 6.12 for
//! side-by-side comparison. Their list mechanics are the model's (6.12
//! freelist hygiene); what differs is each algorithm's steps, as its seed
//! document shows them.

use crate::contig::{ContigError, ContigStats};
use crate::error::Errno;
use crate::geometry::PfnRange;
use crate::isolation::IsolFlags;
use crate::machine::Machine;
use crate::migrate::MigrateStats;
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageFlags, PageKind, PageWord, Tag};
use crate::trace::{KernelFn, StepKind};

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

    /// Isolates whole pageblocks one by one, undoing on failure: the
    /// pre-5.19 `start_isolate_page_range()`.
    fn isolate_blocks_whole(&mut self, start: u64, end: u64, mt: MigrateType, only_movable_type: bool) -> Result<(), u64> {
        let nr = self.geo.pageblock_nr_pages();
        let mut b = start;
        while b < end {
            if self.zone_of(b).is_some() {
                let r = if only_movable_type {
                    // 2010: set_migratetype_isolate() only required a
                    // MOVABLE pageblock; nothing looked at its pages.
                    if self.get_pageblock_migratetype(b) != MigrateType::Movable {
                        let t = self.get_pageblock_migratetype(b);
                        self.note(StepKind::Failure, Some(PfnRange::new(b, b + nr)), || format!("pageblock {b:#x} is {t}, not Movable"));
                        Err(b)
                    } else {
                        let zi = self.zone_of(b).expect("checked");
                        self.move_freepages_block_isolate(zi, b, MigrateType::Isolate);
                        Ok(())
                    }
                } else {
                    self.set_migratetype_isolate(b, mt, IsolFlags::default(), b, b + nr).map_err(|e| e.pfn)
                };
                if let Err(p) = r {
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
        self.note(StepKind::Decision, Some(PfnRange::new(istart, iend)), || {
            format!("v4.x: isolation widened to MAX_ORDER alignment: {istart:#x}-{iend:#x} for {start:#x}-{end:#x}")
        });
        let mut stats = ContigStats::default();
        let result = 'done: {
            self.enter(KernelFn::StartIsolatePageRange);
            let iso = self.isolate_blocks_whole(istart, iend, migratetype, false);
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
            let r = self.migrate_pages(&mut list, stats);
            self.putback_movable_pages(&mut list);
            r
        };
        self.leave();
        result
    }

    /// `alloc_contig_pages()` of the 2010 RFC (seed 002): find a
    /// MAX_ORDER-aligned window of RAM above `hint` whose pageblocks can be
    /// isolated, migrate its LRU pages out 256 at a time with 5 retries,
    /// drain, test, and take the free pages. Two quirks of the patch are
    /// kept and shown: a window that fails the test stays isolated when the
    /// search moves on, and the final `undo_isolate_page_range(found,
    /// pages)` passes a page count where an end PFN belongs, so the taken
    /// window stays isolated too. Returns the first PFN; the size is
    /// rounded up to MAX_ORDER_NR_PAGES.
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
        let node_end = (span.end / align) * align;
        let mut base = hint.max(span.start.div_ceil(align) * align);
        let result = loop {
            // __find_contig_block(): the next RAM window that isolates.
            self.enter(KernelFn::FindContigBlock2010);
            let mut found = None;
            let mut pfn = base;
            while pfn + pages <= node_end {
                let ram = (pfn..pfn + pages).all(|p| self.zone_of(p).is_some() && self.page(p).tag() != Tag::Hole);
                if ram && self.isolate_blocks_whole(pfn, pfn + pages, MigrateType::Movable, true).is_ok() {
                    found = Some(pfn);
                    break;
                }
                pfn += align;
            }
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
                        format!("the RFC's loop would spin forever: scan_lru_pages() keeps returning {start:#x}, below the window, where do_migrate_range() never looks; the model stops it")
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
                self.note(StepKind::Failure, Some(PfnRange::new(found, end)), || "test failed: goto retry, leaving this window isolated".into());
                base = found + align;
                continue;
            }
            // alloc_contig_freed_pages(): every page taken with count 1.
            if let Err(e) = self.take_isolated_free_pages(found, end, found) {
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
