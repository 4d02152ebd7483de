//! Page isolation (mm/page_isolation.c and its helpers in mm/page_alloc.c,
//! v6.12): marking pageblocks MIGRATE_ISOLATE so the allocator hands out
//! nothing from them, checking that a range is free, and undoing it.

use crate::buddy::Fpi;
use crate::diagnose::Rule;
use crate::geometry::{PfnRange, ZoneType};
use crate::machine::{Machine, VmEvent};
use crate::migratetype::MigrateType;
use crate::page::{PageFlags, PageKind, PageWord, Tag};
use crate::trace::{KernelFn, StepKind};

/// `isol_flags` of the isolation calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IsolFlags {
    /// `MEMORY_OFFLINE`: HWPoison and PageOffline pages pass.
    pub memory_offline: bool,
    /// `REPORT_FAILURE`: dump the offending page.
    pub report_failure: bool,
}

/// One page as `has_unmovable_pages()` sees it.
pub(crate) enum Unmovable {
    /// Movable or free: go on at this PFN.
    Next(u64),
    /// Refused, by this rule.
    Refuse(Rule),
}

/// Why a range could not be isolated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsolateFailure {
    /// The page that stopped it.
    pub pfn: u64,
}

impl Machine {
    /// `has_unmovable_pages()` (v6.12) over `[start, end)` within one
    /// pageblock: the first page isolation must refuse, by the table of the
    /// domain brief, section 2. Pinned pages are *not* detected here.
    pub fn has_unmovable_pages(&self, start: u64, end: u64, migratetype: MigrateType, flags: IsolFlags) -> Option<u64> {
        if self.get_pageblock_migratetype(start) == MigrateType::Cma {
            // CMA allocations must isolate CMA blocks; nobody else may.
            return (migratetype != MigrateType::Cma).then_some(start);
        }
        let movable_zone = self.zone_of(start).is_some_and(|zi| self.zones[zi].zone_type == ZoneType::Movable);
        let mut pfn = start;
        while pfn < end {
            match self.unmovable_page(pfn, movable_zone, flags) {
                Unmovable::Next(next) => pfn = next,
                Unmovable::Refuse(_) => return Some(pfn),
            }
        }
        None
    }

    /// `has_unmovable_pages()`'s verdict on one page: where its scan goes
    /// next, or the rule by which it refuses the page.
    pub(crate) fn unmovable_page(&self, pfn: u64, movable_zone: bool, flags: IsolFlags) -> Unmovable {
        let w = self.page(pfn);
        let Some(p) = w.as_in_use() else {
            // Free (buddy, pcp, in flight): refcount 0. A hole has no
            // struct page online; the kernel sees PG_reserved.
            return match w.tag() {
                Tag::Hole => Unmovable::Refuse(Rule::Hole),
                Tag::Buddy => Unmovable::Next(pfn + (1 << w.order())),
                _ => Unmovable::Next(pfn + 1),
            };
        };
        if p.kind == PageKind::Reserved {
            return Unmovable::Refuse(Rule::Reserved);
        }
        if movable_zone {
            return Unmovable::Next(pfn + 1);
        }
        if p.flags.intersects(PageFlags::HEAD | PageFlags::TAIL) {
            let (head, order, hp) = self.folio_of(pfn, p);
            let movable = hp.kind == PageKind::Hugetlb || hp.flags.contains(PageFlags::LRU) || hp.kind == PageKind::MovableOps;
            if !movable {
                return Unmovable::Refuse(if hp.flags.contains(PageFlags::LRU_BATCH) { Rule::LruBatch } else { Rule::Unmovable });
            }
            return Unmovable::Next(head + (1 << order));
        }
        if p.refcount == 0 {
            return Unmovable::Next(pfn + 1);
        }
        let offline_ok = flags.memory_offline && matches!(p.kind, PageKind::HwPoison | PageKind::Offline);
        if offline_ok || p.kind == PageKind::MovableOps || p.flags.contains(PageFlags::LRU) {
            return Unmovable::Next(pfn + 1);
        }
        Unmovable::Refuse(if p.flags.contains(PageFlags::LRU_BATCH) { Rule::LruBatch } else { Rule::Unmovable })
    }

    /// `find_large_buddy()` (6.10+): a free block that starts at or before
    /// `start` and covers it; `start` itself if none.
    pub fn find_large_buddy(&self, start: u64) -> u64 {
        let mut pfn = start;
        let mut order = 0u8;
        while !self.page(pfn).is_buddy() {
            order += 1;
            if order > self.geo.max_order {
                return start;
            }
            pfn &= !0u64 << order;
        }
        if pfn + (1 << self.page(pfn).order()) > start {
            pfn
        } else {
            start
        }
    }

    /// `free_one_page()` (6.10+): free a block through `split_large_buddy()`,
    /// so a block larger than a pageblock is freed piece by piece under each
    /// pageblock's own type (freelist hygiene).
    pub(crate) fn free_one_page(&mut self, pfn: u64, zi: usize, order: u8, fpi: Fpi) {
        if order > self.geo.pageblock_order {
            self.split_large_buddy(zi, pfn, order, fpi);
        } else {
            let mt = self.get_pageblock_migratetype(pfn);
            self.__free_one_page(pfn, zi, order, mt, fpi);
        }
    }

    /// `split_large_buddy()` (6.10+): re-free a block we own in
    /// pageblock-sized pieces, each under its own pageblock's type.
    pub(crate) fn split_large_buddy(&mut self, zi: usize, pfn: u64, order: u8, fpi: Fpi) {
        self.enter(KernelFn::SplitLargeBuddy);
        let end = pfn + (1 << order);
        let piece = order.min(self.geo.pageblock_order);
        for p in (pfn..end).step_by(1 << piece) {
            if p != pfn {
                self.set_page(p, PageWord::taken(piece));
            }
        }
        self.set_page(pfn, PageWord::taken(piece));
        self.note(StepKind::Action, Some(PfnRange::new(pfn, end)), || {
            format!("split order-{order} {pfn:#x} into order-{piece} pieces, each freed under its pageblock's type")
        });
        let mut p = pfn;
        while p < end {
            let mt = self.get_pageblock_migratetype(p);
            self.__free_one_page(p, zi, piece, mt, fpi);
            p += 1 << piece;
        }
        self.leave();
    }

    /// `move_freepages_block_isolate()` (6.10+): move a pageblock's free
    /// pages to `mt`'s lists; a free block larger than the pageblock is
    /// split first so only this pageblock changes type.
    pub(crate) fn move_freepages_block_isolate(&mut self, zi: usize, pfn: u64, mt: MigrateType) -> bool {
        let Some((start, _, _)) = self.prep_move_freepages_block(zi, pfn, false) else { return false };
        self.enter(KernelFn::MoveFreepagesBlockIsolate);
        if self.geo.pageblock_order < self.geo.max_order {
            self.enter(KernelFn::FindLargeBuddy);
            let head = self.find_large_buddy(start);
            let large = if head != start {
                Some(head)
            } else {
                let w = self.page(start);
                (w.is_buddy() && w.order() > self.geo.pageblock_order).then_some(start)
            };
            if let Some(head) = large {
                let order = self.page(head).order();
                self.note(StepKind::Decision, Some(PfnRange::new(head, head + (1 << order))), || {
                    format!("free order-{order} block {head:#x} covers pageblock {start:#x}: split it")
                });
                self.leave();
                let old = self.get_pageblock_migratetype(head);
                self.del_page_from_free_list(head, zi, order, old);
                self.set_pageblock_migratetype(start, mt);
                self.split_large_buddy(zi, head, order, Fpi::NONE);
                self.leave();
                return true;
            }
            self.leave();
        }
        let old = self.get_pageblock_migratetype(start);
        self.__move_freepages_block(zi, start, old, mt);
        self.leave();
        true
    }

    /// `set_migratetype_isolate()` (v6.12): isolate one pageblock unless it
    /// is already isolated or `has_unmovable_pages()` finds a page in
    /// `[start, end)` (clipped to the block).
    pub(crate) fn set_migratetype_isolate(&mut self, block: u64, migratetype: MigrateType, flags: IsolFlags, start: u64, end: u64) -> Result<(), IsolateFailure> {
        self.enter(KernelFn::SetMigratetypeIsolate);
        let nr = self.geo.pageblock_nr_pages();
        let zi = self.zone_of(block.max(start)).or_else(|| self.zone_of(block)).unwrap_or(0);
        let result = if self.get_pageblock_migratetype(block) == MigrateType::Isolate {
            self.note(StepKind::Failure, Some(PfnRange::new(block, block + nr)), || {
                format!("pageblock {block:#x} is already isolated: someone else owns it (-EBUSY)")
            });
            Err(IsolateFailure { pfn: block })
        } else {
            let (cs, ce) = (block.max(start), (block + nr).min(end));
            self.enter(KernelFn::HasUnmovablePages);
            let unmovable = self.has_unmovable_pages(cs, ce, migratetype, flags);
            if let Some(bad) = unmovable {
                let what = self.describe_page(bad);
                self.note(StepKind::Failure, Some(PfnRange::new(bad, bad + 1)), || format!("{bad:#x} is unmovable: {what}"));
            } else {
                self.note(StepKind::Action, Some(PfnRange::new(cs, ce)), || format!("no unmovable page in {cs:#x}-{ce:#x}"));
            }
            self.leave();
            match unmovable {
                Some(bad) => {
                    self.count_vm_event(VmEvent::IsolateFail, 1);
                    Err(IsolateFailure { pfn: bad })
                }
                None if !self.move_freepages_block_isolate(zi, block, MigrateType::Isolate) => Err(IsolateFailure { pfn: block }),
                None => {
                    self.note(StepKind::Action, Some(PfnRange::new(block, block + nr)), || format!("pageblock {block:#x} is now MIGRATE_ISOLATE"));
                    Ok(())
                }
            }
        };
        self.leave();
        result
    }

    /// `__isolate_free_page()` (v6.12): take a free block off its list for
    /// the caller. Outside ISOLATE blocks it must pass the watermark as if
    /// allocated (min + the block, an order-0 check with ALLOC_CMA); a
    /// block of at least half a pageblock resets every mergeable pageblock
    /// it covers to MOVABLE with `move_freepages_block()`. The block is then
    /// in flight. Returns false if the watermark refused it.
    pub(crate) fn __isolate_free_page(&mut self, pfn: u64, order: u8) -> bool {
        let zi = self.zone_of(pfn).expect("free page in a zone");
        let mt = self.get_pageblock_migratetype(pfn);
        self.enter(KernelFn::IsolateFreePage);
        if mt != MigrateType::Isolate {
            let watermark = self.zones[zi].watermark[crate::zone::Wmark::Min as usize] + (1u64 << order);
            if !self.zone_watermark_ok(zi, 0, watermark, crate::geometry::ZoneType::Dma, crate::AllocFlags::CMA) {
                self.note(StepKind::Failure, Some(PfnRange::new(pfn, pfn + (1 << order))), || {
                    format!("taking order-{order} {pfn:#x} would break the min watermark + {} pages: refused", 1u64 << order)
                });
                self.leave();
                return false;
            }
        }
        self.del_page_from_free_list(pfn, zi, order, mt);
        if order + 1 >= self.geo.pageblock_order {
            let nr = self.geo.pageblock_nr_pages();
            let end = pfn + (1u64 << order) - 1;
            let mut p = pfn;
            while p < end {
                let bmt = self.get_pageblock_migratetype(p);
                if bmt.is_mergeable() {
                    if bmt != MigrateType::Movable {
                        self.note(StepKind::Decision, Some(PfnRange::new(p, p + nr)), || format!("isolating at least half a pageblock resets {bmt} pageblock {p:#x} to MOVABLE"));
                    }
                    self.move_freepages_block(zi, p, bmt, MigrateType::Movable);
                }
                p += nr;
            }
        }
        self.leave();
        true
    }

    /// `unset_migratetype_isolate()` (v6.12): give the pageblock back to
    /// `migratetype`. A free block of pageblock_order or more whose buddy is
    /// not isolated is taken out and re-freed so it can merge; otherwise the
    /// free pages move to the list tails.
    pub(crate) fn unset_migratetype_isolate(&mut self, block: u64, migratetype: MigrateType) {
        if self.get_pageblock_migratetype(block) != MigrateType::Isolate {
            return;
        }
        self.enter(KernelFn::UnsetMigratetypeIsolate);
        let zi = self.zone_of(block).expect("isolated block in a zone");
        let nr = self.geo.pageblock_nr_pages();
        let w = self.page(block);
        let mut refree = None;
        if w.is_buddy() {
            let order = w.order();
            if order >= self.geo.pageblock_order && order < self.geo.max_order {
                if let Some(buddy) = self.find_buddy_page_pfn(block, order, zi) {
                    if self.get_pageblock_migratetype(buddy) != MigrateType::Isolate {
                        refree = Some(order);
                    }
                }
            }
        }
        match refree {
            Some(order) => {
                self.__isolate_free_page(block, order);
                self.change_pageblock_range(block, order, migratetype);
                self.enter(KernelFn::PutbackIsolatedPage);
                self.__free_one_page(block, zi, order, migratetype, Fpi { to_tail: true, skip_report_notify: true });
                self.leave();
            }
            None => {
                self.move_freepages_block_isolate(zi, block, migratetype);
            }
        }
        self.note(StepKind::Action, Some(PfnRange::new(block, block + nr)), || format!("pageblock {block:#x} is {migratetype} again"));
        self.leave();
    }

    /// `isolate_single_pageblock()` (v6.12): isolate the pageblock at
    /// `boundary` (or before it), then check from the MAX_ORDER-aligned start
    /// that nothing in use straddles the boundary: a crossing hugetlb folio
    /// is migrated away with `__alloc_contig_migrate_range()`, any other
    /// crossing compound page makes it fail (the 6.10 freelist-hygiene
    /// series stopped migrating LRU and `__PageMovable` ones here: they are
    /// not expected to exceed a pageblock).
    fn isolate_single_pageblock(&mut self, boundary: u64, flags: IsolFlags, before: bool, skip_isolation: bool, migratetype: MigrateType) -> Result<(), IsolateFailure> {
        let nr = self.geo.pageblock_nr_pages();
        let block = if before { boundary - nr } else { boundary };
        self.enter(KernelFn::IsolateSinglePageblock);
        let result = 'done: {
            let Some(zi) = self.zone_of(block) else {
                break 'done Err(IsolateFailure { pfn: block });
            };
            if !skip_isolation {
                if let Err(e) = self.set_migratetype_isolate(block, migratetype, flags, block, block + nr) {
                    break 'done Err(e);
                }
            }
            let online = |m: &Machine, p: u64| m.zone_of(p).is_some() && m.page(p).tag() != Tag::Hole;
            if (before && !online(self, boundary)) || (!before && !online(self, boundary.wrapping_sub(1))) {
                break 'done Ok(());
            }
            let start = (block & !(self.geo.max_order_nr_pages() - 1)).max(self.zones[zi].span.start);
            let mut pfn = start;
            while pfn < boundary {
                let w = self.page(pfn);
                if w.is_buddy() {
                    pfn += 1 << w.order();
                    continue;
                }
                if let Some(p) = w.as_in_use() {
                    if p.flags.intersects(PageFlags::HEAD | PageFlags::TAIL) {
                        let (head, order, hp) = self.folio_of(pfn, p);
                        let folio_end = head + (1 << order);
                        if folio_end <= boundary {
                            pfn = folio_end;
                            continue;
                        }
                        if hp.kind == PageKind::Hugetlb {
                            self.note(StepKind::Decision, Some(PfnRange::new(head, folio_end)), || {
                                format!("order-{order} hugetlb folio {head:#x} straddles {boundary:#x}: migrate it out of the way")
                            });
                            let mut stats = crate::migrate::MigrateStats::default();
                            if self.__alloc_contig_migrate_range(head, folio_end, &mut stats).is_ok() {
                                pfn = folio_end;
                                continue;
                            }
                        }
                        self.note(StepKind::Failure, Some(PfnRange::new(head, folio_end)), || {
                            if hp.kind == PageKind::Hugetlb {
                                format!("hugetlb folio {head:#x} could not be migrated")
                            } else {
                                format!("order-{order} compound page {head:#x} straddles {boundary:#x}; only hugetlb is migrated here (6.10+)")
                            }
                        });
                        if !skip_isolation {
                            self.unset_migratetype_isolate(block, migratetype);
                        }
                        break 'done Err(IsolateFailure { pfn: head });
                    }
                }
                pfn += 1;
            }
            Ok(())
        };
        self.leave();
        result
    }

    /// `start_isolate_page_range()` (v6.12): isolate every pageblock that
    /// `[start, end)` touches, the edge blocks through
    /// `isolate_single_pageblock()`; on failure undo and return the page
    /// that stopped it (-EBUSY).
    pub fn start_isolate_page_range(&mut self, start: u64, end: u64, migratetype: MigrateType, flags: IsolFlags) -> Result<(), IsolateFailure> {
        let nr = self.geo.pageblock_nr_pages();
        let istart = self.pageblock_start_pfn(start);
        let iend = end.div_ceil(nr) * nr;
        self.enter(KernelFn::StartIsolatePageRange);
        self.note(StepKind::Action, Some(PfnRange::new(istart, iend)), || {
            format!("isolate pageblocks {istart:#x}-{iend:#x} for {start:#x}-{end:#x}")
        });
        let result = 'done: {
            if let Err(e) = self.isolate_single_pageblock(istart, flags, false, false, migratetype) {
                break 'done Err(e);
            }
            let skip = istart == iend - nr;
            if let Err(e) = self.isolate_single_pageblock(iend, flags, true, skip, migratetype) {
                self.unset_migratetype_isolate(istart, migratetype);
                break 'done Err(e);
            }
            let mut pfn = istart + nr;
            while pfn + nr < iend {
                if self.zone_of(pfn).is_some() {
                    if let Err(e) = self.set_migratetype_isolate(pfn, migratetype, flags, start, end) {
                        self.undo_isolate_page_range(istart, pfn, migratetype);
                        self.unset_migratetype_isolate(iend - nr, migratetype);
                        break 'done Err(e);
                    }
                }
                pfn += nr;
            }
            Ok(())
        };
        if let Err(e) = result {
            let p = e.pfn;
            self.note(StepKind::Failure, Some(PfnRange::new(p, p + 1)), || format!("isolation failed at {p:#x}: -EBUSY"));
        }
        self.leave();
        result
    }

    /// `undo_isolate_page_range()`: unisolate every isolated pageblock the
    /// range touches.
    pub fn undo_isolate_page_range(&mut self, start: u64, end: u64, migratetype: MigrateType) {
        let nr = self.geo.pageblock_nr_pages();
        self.enter(KernelFn::UndoIsolatePageRange);
        let mut pfn = self.pageblock_start_pfn(start);
        while pfn < end {
            if self.zone_of(pfn).is_some() && self.get_pageblock_migratetype(pfn) == MigrateType::Isolate {
                self.unset_migratetype_isolate(pfn, migratetype);
            }
            pfn += nr;
        }
        self.leave();
    }

    /// `test_pages_isolated()` (v6.12): every pageblock isolated and every
    /// page free buddy memory (whole blocks skipped); with
    /// `memory_offline`, HWPoison and unreferenced PageOffline pages pass.
    /// Returns the first PFN that is not (the tracepoint's `fin_pfn`).
    ///
    /// As in the kernel, the pageblock check steps from `start` by
    /// pageblock_nr_pages and looks at the first online page of each step,
    /// so for an unaligned start `fin_pfn` is `start` plus whole pageblocks,
    /// not a pageblock boundary, and the last pageblock can go unchecked
    /// when the range ends less than a pageblock past the last step.
    pub fn test_pages_isolated(&mut self, start: u64, end: u64, flags: IsolFlags) -> Result<(), u64> {
        self.enter(KernelFn::TestPagesIsolated);
        let nr = self.geo.pageblock_nr_pages();
        let online = |m: &Machine, p: u64| m.zone_of(p).is_some() && m.page(p).tag() != Tag::Hole;
        let mut fin = start;
        let mut ok = true;
        let mut p = start;
        while p < end {
            // __first_valid_page(p, pageblock_nr_pages)
            if let Some(first) = (p..p + nr).find(|&q| online(self, q)) {
                if self.get_pageblock_migratetype(first) != MigrateType::Isolate {
                    ok = false;
                    fin = p;
                    break;
                }
            }
            p += nr;
        }
        if ok {
            fin = start;
            while fin < end {
                let w = self.page(fin);
                if w.is_buddy() {
                    fin += 1 << w.order();
                    continue;
                }
                let passes = w.as_in_use().is_some_and(|u| {
                    flags.memory_offline && (u.kind == PageKind::HwPoison || (u.kind == PageKind::Offline && u.refcount == 0))
                });
                if passes {
                    fin += 1;
                } else {
                    break;
                }
            }
            ok = fin >= end;
        }
        let result = if ok { Ok(()) } else { Err(fin) };
        match result {
            Ok(()) => self.note(StepKind::Action, Some(PfnRange::new(start, end)), || format!("test_pages_isolated: start_pfn={start:#x} end_pfn={end:#x} fin_pfn={end:#x} ret=success")),
            Err(f) => {
                let what = self.describe_page(f);
                self.note(StepKind::Failure, Some(PfnRange::new(f, f + 1)), || {
                    format!("test_pages_isolated: start_pfn={start:#x} end_pfn={end:#x} fin_pfn={f:#x} ret=fail ({what})")
                })
            }
        }
        self.leave();
        result
    }

    /// A few words on what a page is, for failure messages.
    pub fn describe_page(&self, pfn: u64) -> String {
        let w = self.page(pfn);
        match w.state() {
            crate::page::PageState::InUse(p) => {
                let mut s = p.kind.label().to_string();
                if p.pincount > 0 {
                    s += if p.flags.contains(PageFlags::LONGTERM_PIN) { ", long-term pinned" } else { ", pinned" };
                }
                if p.flags.contains(PageFlags::LRU_BATCH) {
                    s += ", in a per-cpu LRU batch";
                }
                if p.flags.contains(PageFlags::WRITEBACK) {
                    s += ", under writeback";
                }
                s
            }
            crate::page::PageState::Pcp { .. } => "on a per-cpu list".into(),
            crate::page::PageState::FreeTail => "inside a free block that starts earlier".into(),
            crate::page::PageState::Hole => "a hole".into(),
            crate::page::PageState::Taken { .. } => "in flight".into(),
            crate::page::PageState::Buddy { .. } => "free".into(),
        }
    }
}
