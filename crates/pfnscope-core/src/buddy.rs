//! The buddy free lists of mm/page_alloc.c (v6.12): adding and removing
//! blocks, freeing with merging, and splitting on allocation.

use crate::geometry::PfnRange;
use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::page::{PageWord, Tag};
use crate::trace::{KernelFn, StepKind};
use crate::zone::ZoneCounter;

/// `fpi_t` flags for freeing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fpi {
    /// `FPI_TO_TAIL`: put the freed block at the list tail (onlining,
    /// unisolation, reporting put-back).
    pub to_tail: bool,
    /// `FPI_SKIP_REPORT_NOTIFY`.
    pub skip_report_notify: bool,
}

impl Fpi {
    pub const NONE: Fpi = Fpi { to_tail: false, skip_report_notify: false };
    pub const TO_TAIL: Fpi = Fpi { to_tail: true, skip_report_notify: false };
}

impl Machine {
    /// `account_freepages()`: NR_FREE_PAGES and NR_FREE_CMA_PAGES follow
    /// the list type; ISOLATE blocks are not counted (6.12).
    pub(crate) fn account_freepages(&mut self, zi: usize, nr: i64, mt: MigrateType) {
        if mt == MigrateType::Isolate {
            return;
        }
        self.add_zone_counter(zi, ZoneCounter::FreePages, nr);
        if mt == MigrateType::Cma {
            self.add_zone_counter(zi, ZoneCounter::FreeCmaPages, nr);
        } else if mt == MigrateType::HighAtomic {
            self.add_zone_counter(zi, ZoneCounter::NrFreeHighatomic, nr);
        }
    }

    /// `add_to_free_list()` with `set_buddy_order()`: the page becomes a
    /// `PageBuddy` head of `order` on `free_list[mt]`, at the head or tail,
    /// and is accounted.
    ///
    /// Simplified: the model accounts free pages at the moment a block joins
    /// or leaves a list, so every traced step is self-consistent; the kernel
    /// does the same arithmetic, batched at function boundaries (for
    /// example `page_del_and_expand()` accounts once after `expand()`).
    pub(crate) fn add_to_free_list(&mut self, pfn: u64, zi: usize, order: u8, mt: MigrateType, tail: bool) {
        self.set_page(pfn, PageWord::listed(Tag::Buddy, order));
        self.free_list_link(pfn, zi, order, mt, tail);
        self.add_zone_counter(zi, ZoneCounter::NrFree(order), 1);
        self.account_freepages(zi, 1i64 << order, mt);
        self.region_account(zi, pfn, 1i64 << order);
    }

    /// `del_page_from_free_list()`: off the list, `PageBuddy` and
    /// `PageReported` cleared, unaccounted; the block is now
    /// [`Tag::Taken`], owned by the caller.
    pub(crate) fn del_page_from_free_list(&mut self, pfn: u64, zi: usize, order: u8, mt: MigrateType) {
        self.region_release_for(zi, pfn);
        if self.page(pfn).reported() {
            self.count_reported(zi, order, false);
        }
        self.free_list_unlink(pfn, zi, order, mt);
        self.set_page(pfn, PageWord::taken(order));
        self.add_zone_counter(zi, ZoneCounter::NrFree(order), -1);
        self.account_freepages(zi, -(1i64 << order), mt);
        self.region_account(zi, pfn, -(1i64 << order));
    }

    /// `move_to_free_list()`: to the tail of another type's list.
    pub(crate) fn move_to_free_list(&mut self, pfn: u64, zi: usize, order: u8, old_mt: MigrateType, new_mt: MigrateType) {
        self.region_release_for(zi, pfn);
        self.free_list_unlink(pfn, zi, order, old_mt);
        self.free_list_link(pfn, zi, order, new_mt, true);
        self.account_freepages(zi, -(1i64 << order), old_mt);
        self.account_freepages(zi, 1i64 << order, new_mt);
    }

    /// Links a free block into `free_list[mt]` of `order`: at its head or
    /// tail, or, with the 2013 region allocator, at the head or tail of its
    /// region's stretch of the sorted list.
    fn free_list_link(&mut self, pfn: u64, zi: usize, order: u8, mt: MigrateType, tail: bool) {
        if self.region_allocator_on() {
            self.sorted_list_add(pfn, zi, order, mt, tail);
        } else {
            let head = self.zones[zi].free_list(order, mt.index());
            self.list_add(self.page_node(pfn), head, tail);
        }
    }

    /// Unlinks a free block from `free_list[mt]` of `order`.
    fn free_list_unlink(&mut self, pfn: u64, zi: usize, order: u8, mt: MigrateType) {
        if self.region_allocator_on() {
            self.sorted_list_del(pfn, zi, order, mt);
        } else {
            self.list_del(self.page_node(pfn));
        }
    }

    /// `page_is_buddy()` (mm/internal.h): free, of equal order, same zone.
    pub(crate) fn page_is_buddy(&self, buddy_pfn: u64, order: u8, zi: usize) -> bool {
        let w = self.page(buddy_pfn);
        w.is_buddy() && w.order() == order && self.zone_of(buddy_pfn) == Some(zi)
    }

    /// `find_buddy_page_pfn()`: the buddy is at `pfn ^ (1 << order)`.
    pub(crate) fn find_buddy_page_pfn(&self, pfn: u64, order: u8, zi: usize) -> Option<u64> {
        let buddy_pfn = pfn ^ (1 << order);
        self.page_is_buddy(buddy_pfn, order, zi).then_some(buddy_pfn)
    }

    /// `buddy_merge_likely()`: would the block formed with our (busy) buddy
    /// have a free buddy itself? Then freeing goes to the tail, so the pages
    /// stay free longer and the bigger merge has a chance.
    fn buddy_merge_likely(&self, pfn: u64, order: u8, zi: usize) -> bool {
        if order + 1 >= self.geo.max_order {
            return false;
        }
        let higher = pfn & !(1u64 << order);
        self.find_buddy_page_pfn(higher, order + 1, zi).is_some()
    }

    /// `__free_one_page()` (mm/page_alloc.c, v6.12): merge with free buddies
    /// up to MAX_PAGE_ORDER, then put the block on its list.
    ///
    /// At or above pageblock_order, blocks of different types merge only if
    /// both are mergeable (UNMOVABLE, MOVABLE, RECLAIMABLE), and the buddy's
    /// pageblock takes our type so `expand()` later files the halves right.
    /// Simplified: no shuffling (`CONFIG_SHUFFLE_PAGE_ALLOCATOR` off), no
    /// debug guard pages, and compaction capture is not modelled.
    pub(crate) fn __free_one_page(&mut self, mut pfn: u64, zi: usize, mut order: u8, mt: MigrateType, fpi: Fpi) {
        self.enter(KernelFn::FreeOnePage);
        let first = pfn;
        let first_order = order;
        self.set_page(pfn, PageWord::taken(order));
        while order < self.geo.max_order {
            let Some(buddy) = self.find_buddy_page_pfn(pfn, order, zi) else { break };
            let mut buddy_mt = mt;
            if order >= self.geo.pageblock_order {
                buddy_mt = self.get_pageblock_migratetype(buddy);
                if mt != buddy_mt && (!mt.is_mergeable() || !buddy_mt.is_mergeable()) {
                    self.note(StepKind::Decision, Some(PfnRange::new(buddy, buddy + (1 << order))), || {
                        format!("buddy {buddy:#x} is free but {buddy_mt} cannot merge with {mt} above pageblock_order")
                    });
                    break;
                }
            }
            self.del_page_from_free_list(buddy, zi, order, buddy_mt);
            if buddy_mt != mt {
                // Match buddy type so expand() files sub-blocks correctly.
                self.set_pageblock_migratetype(buddy, mt);
            }
            let combined = pfn & buddy;
            self.set_page(pfn.max(buddy), PageWord::FREE_TAIL);
            self.set_page(combined, PageWord::taken(order + 1));
            pfn = combined;
            order += 1;
        }
        let to_tail = fpi.to_tail || self.buddy_merge_likely(pfn, order, zi);
        self.add_to_free_list(pfn, zi, order, mt, to_tail);
        self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << order))), || {
            let merged = if order > first_order {
                format!("merged with {} buddies into", order - first_order)
            } else {
                "no free buddy; stays".into()
            };
            format!(
                "freed order-{first_order} {first:#x}: {merged} an order-{order} block at {pfn:#x} on the {} of free_list[{mt}]",
                if to_tail { "tail" } else { "head" }
            )
        });
        if !fpi.skip_report_notify {
            self.page_reporting_notify_free(order);
        }
        self.region_after_free(zi, pfn, order);
        self.leave();
    }

    /// `expand()` (v6.12): split a block of order `high` down to `low`; the
    /// caller keeps the low part, each upper half goes to `free_list[mt]`
    /// one order down. Returns the pages put back (`nr_added`).
    pub(crate) fn expand(&mut self, zi: usize, pfn: u64, low: u8, mut high: u8, mt: MigrateType) -> u64 {
        if high == low {
            return 0;
        }
        self.enter(KernelFn::Expand);
        let start_high = high;
        let mut nr_added = 0;
        while high > low {
            high -= 1;
            let size = 1u64 << high;
            self.add_to_free_list(pfn + size, zi, high, mt, false);
            nr_added += size;
        }
        self.set_page(pfn, PageWord::taken(low));
        self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << start_high))), || {
            format!("split order-{start_high} {pfn:#x} down to order {low}: {nr_added} pages back on {mt} lists")
        });
        self.leave();
        nr_added
    }

    /// `page_del_and_expand()`: the block leaves its list and the part
    /// beyond `low` goes back; the caller owns the low part.
    pub(crate) fn page_del_and_expand(&mut self, zi: usize, pfn: u64, low: u8, high: u8, mt: MigrateType) {
        self.del_page_from_free_list(pfn, zi, high, mt);
        self.expand(zi, pfn, low, high, mt);
    }

    /// `__rmqueue_smallest()`: the head of the smallest non-empty list of
    /// this type at or above `order`.
    pub(crate) fn __rmqueue_smallest(&mut self, zi: usize, order: u8, mt: MigrateType) -> Option<u64> {
        for current in order..=self.geo.max_order {
            let head = self.zones[zi].free_list(current, mt.index());
            if let Some(pfn) = self.list_first(head) {
                self.enter(KernelFn::RmqueueSmallest);
                self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << current))), || {
                    format!("took order-{current} {pfn:#x} from the head of free_list[{mt}] for an order-{order} request")
                });
                self.page_del_and_expand(zi, pfn, order, current, mt);
                self.leave();
                return Some(pfn);
            }
        }
        None
    }

    /// `free_area_empty()`.
    pub(crate) fn free_area_empty(&self, zi: usize, order: u8, mt: MigrateType) -> bool {
        self.list_empty(self.zones[zi].free_list(order, mt.index()))
    }
}

#[cfg(test)]
mod tests {
    use crate::geometry::MachineSpec;
    use crate::machine::Machine;
    use crate::migratetype::MigrateType;
    use crate::page::Tag;

    use super::Fpi;

    fn machine() -> Machine {
        Machine::new(MachineSpec::teaching_16m()).unwrap()
    }

    #[test]
    fn rmqueue_smallest_splits_the_head_block_and_expand_files_the_halves() {
        let mut m = machine();
        // The smallest movable block at or above order 0 is the order-6
        // block at 0x40; expand() leaves orders 5..0 at 0x60, 0x50, 0x48,
        // 0x44, 0x42, 0x41.
        let pfn = m.__rmqueue_smallest(0, 0, MigrateType::Movable).unwrap();
        assert_eq!(pfn, 0x40);
        for (order, at) in [(5u8, 0x60u64), (4, 0x50), (3, 0x48), (2, 0x44), (1, 0x42), (0, 0x41)] {
            assert_eq!(m.free_list_pfns(0, order, MigrateType::Movable), vec![at], "order {order}");
            assert_eq!(m.page(at).order(), order);
        }
        assert_eq!(m.nr_free(0, 6), 0);
        assert_eq!(m.zone_free_pages(0), 4096 - 64 - 1);
    }

    #[test]
    fn free_one_page_merges_back_to_the_original_block() {
        let mut m = machine();
        let pfn = m.__rmqueue_smallest(0, 0, MigrateType::Movable).unwrap();
        m.__free_one_page(pfn, 0, 0, MigrateType::Movable, Fpi::NONE);
        // buddy = pfn ^ (1 << order) all the way up to order 6 at 0x40; the
        // order-6 block's buddy 0x00 is reserved, so merging stops there.
        assert_eq!(m.page(0x40).tag(), Tag::Buddy);
        assert_eq!(m.page(0x40).order(), 6);
        for order in 0..6 {
            assert_eq!(m.nr_free(0, order), 0);
        }
        assert_eq!(m.zone_free_pages(0), 4096 - 64);
    }

    #[test]
    fn cma_and_movable_do_not_merge_above_pageblock_order() {
        let mut m = machine();
        // Take the order-10 block at 0x400 and free its halves as CMA and
        // MOVABLE pageblocks: they must stay two order-9 blocks.
        m.del_page_from_free_list(0x400, 0, 10, MigrateType::Movable);
        m.set_pageblock_migratetype(0x400, MigrateType::Cma);
        m.__free_one_page(0x400, 0, 9, MigrateType::Cma, Fpi::NONE);
        m.__free_one_page(0x600, 0, 9, MigrateType::Movable, Fpi::NONE);
        assert_eq!(m.free_list_pfns(0, 9, MigrateType::Cma), vec![0x400]);
        assert!(m.free_list_pfns(0, 9, MigrateType::Movable).contains(&0x600));
        assert!(!m.free_list_pfns(0, 10, MigrateType::Movable).contains(&0x400));
    }

    #[test]
    fn buddies_in_different_zones_never_merge() {
        // teaching-64m: DMA ends and Normal starts at 0x1000; 0xc00 (DMA) and
        // 0x1000 are not buddies, but 0x800 + 0xc00 ... stop at the zone edge:
        // every order-10 block of DMA and Normal stays within its zone.
        let m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        m.check_invariants().unwrap();
        let dma = m.zone_index(crate::geometry::ZoneType::Dma).unwrap();
        for pfn in m.free_list_pfns(dma, 10, MigrateType::Movable) {
            assert!(pfn + 1024 <= 0x1000);
        }
        // 0x800 order 11 would be the merge of 0x800 and 0xc00 (both free in
        // DMA): MAX_PAGE_ORDER stops it at order 10.
        assert_eq!(m.page(0x800).order(), 10);
        assert_eq!(m.page(0xc00).order(), 10);
    }

    #[test]
    fn freeing_goes_to_the_tail_when_a_bigger_merge_is_likely() {
        let mut m = machine();
        // Split the order-6 block at 0x40 down to four order-4 pieces we own:
        // 0x40, 0x50 taken; 0x60 (order 5) stays free.
        let a = m.__rmqueue_smallest(0, 4, MigrateType::Movable).unwrap();
        let b = m.__rmqueue_smallest(0, 4, MigrateType::Movable).unwrap();
        assert_eq!((a, b), (0x40, 0x50));
        // Another free order-4 block goes on the list head first.
        let c = m.__rmqueue_smallest(0, 4, MigrateType::Movable).unwrap();
        assert_eq!(c, 0x60);
        m.__free_one_page(c, 0, 4, MigrateType::Movable, Fpi::NONE);
        // Freeing 0x40: its buddy 0x50 is busy, but the order-5 buddy of
        // their pair (0x60) is free, so buddy_merge_likely puts 0x40 last.
        m.__free_one_page(a, 0, 4, MigrateType::Movable, Fpi::NONE);
        let list = m.free_list_pfns(0, 4, MigrateType::Movable);
        assert_eq!(list.last(), Some(&0x40), "{list:x?}");
    }

    #[test]
    fn mergeable_types_merge_and_the_buddy_block_takes_our_type() {
        let mut m = machine();
        m.del_page_from_free_list(0x400, 0, 10, MigrateType::Movable);
        m.set_pageblock_migratetype(0x600, MigrateType::Unmovable);
        m.__free_one_page(0x600, 0, 9, MigrateType::Unmovable, Fpi::NONE);
        m.__free_one_page(0x400, 0, 9, MigrateType::Movable, Fpi::NONE);
        assert!(m.free_list_pfns(0, 10, MigrateType::Movable).contains(&0x400));
        assert_eq!(m.get_pageblock_migratetype(0x600), MigrateType::Movable);
    }
}
