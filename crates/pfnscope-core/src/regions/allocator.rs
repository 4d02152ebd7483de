//! The per-zone region allocator of the 2013 series: the page allocator's
//! back end, trading only whole regions.
//!
//! - Page allocator to region allocator: when a free makes a region's
//!   memory all free MAX_ORDER blocks (`can_return_region`), its blocks
//!   leave the buddy lists for the region allocator.
//! - Region allocator to page allocator: when a migratetype's lists run
//!   dry, the lowest region held goes onto that type's lists and its
//!   pageblocks take the type (`__del_from_region_allocator`).
//!
//! Blocks held by the region allocator stay `PageBuddy` heads of
//! MAX_ORDER (they are free memory, counted in NR_FREE_PAGES) but sit on
//! no list and are not in `free_area[order].nr_free`; their pageblocks are
//! MOVABLE, so code that meets one by PFN moves the whole region to the
//! MOVABLE lists first, as the seed's `move_freepages()` does.

use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::page::PageWord;
use crate::trace::{KernelFn, StepKind};
use crate::zone::ZoneCounter;

impl Machine {
    /// `can_return_region()`: every present page of the region is a free
    /// MAX_ORDER block on a list of a type the region allocator may take
    /// (not CMA, ISOLATE or HIGHATOMIC: pfnscope keeps those reservations
    /// out of it).
    pub(crate) fn can_return_region(&self, zi: usize, r: usize) -> bool {
        if !self.region_allocator_on() || self.region_in_allocator(zi, r) {
            return false;
        }
        let present = self.region_present_pages(zi, r);
        if present == 0 || self.region_free_pages(zi, r) != present || !self.region_all_max_blocks(zi, r) {
            return false;
        }
        self.region_blocks(zi, r).all(|p| self.get_pageblock_migratetype(p).is_mergeable())
    }

    /// Hands region `r` back to the region allocator if it can go.
    pub(crate) fn try_return_region(&mut self, zi: usize, r: usize) -> bool {
        if !self.can_return_region(zi, r) {
            return false;
        }
        self.enter(KernelFn::AddToRegionAllocator2013);
        let span = self.region_span(zi, r);
        let max = self.geo.max_order;
        let blocks: Vec<u64> = self.region_blocks(zi, r).filter(|&p| self.page(p).is_buddy()).collect();
        for &p in &blocks {
            let mt = self.get_pageblock_migratetype(p);
            self.del_page_from_free_list(p, zi, max, mt);
            // Free memory still, off every list.
            self.add_zone_counter(zi, ZoneCounter::FreePages, 1 << max);
            self.region_account(zi, p, 1 << max);
            let node = self.page_node(p);
            self.set_page(p, PageWord::listed(crate::page::Tag::Buddy, max).with_prev(node).with_next(node));
            self.change_pageblock_range(p, max, MigrateType::Movable);
        }
        let i = self.region_ra_counter(zi, r);
        self.store.set_counter(i, 1);
        let zone = self.zones[zi].name();
        self.note(StepKind::Action, Some(span), || {
            format!("region {r} of {zone} is all free: its {} MAX_ORDER blocks go back to the region allocator (it could be powered down)", blocks.len())
        });
        self.leave();
        true
    }

    /// After a free made a MAX_ORDER block: can its region go back?
    #[inline]
    pub(crate) fn region_after_free(&mut self, zi: usize, pfn: u64, order: u8) {
        if order == self.geo.max_order && self.region_allocator_on() {
            let r = self.region_of(zi, pfn);
            self.try_return_region(zi, r);
        }
    }

    /// `__del_from_region_allocator()`: region `r` leaves the region
    /// allocator for `mt`'s buddy lists, its pageblocks set to `mt`.
    pub(crate) fn __del_from_region_allocator(&mut self, zi: usize, r: usize, mt: MigrateType) {
        self.enter(KernelFn::DelFromRegionAllocator2013);
        let i = self.region_ra_counter(zi, r);
        self.store.set_counter(i, 0);
        let max = self.geo.max_order;
        let span = self.region_span(zi, r);
        let blocks: Vec<u64> = self.region_blocks(zi, r).filter(|&p| self.page(p).is_buddy()).collect();
        for &p in &blocks {
            self.add_zone_counter(zi, ZoneCounter::FreePages, -(1 << max));
            self.region_account(zi, p, -(1 << max));
            self.change_pageblock_range(p, max, mt);
            self.add_to_free_list(p, zi, max, mt, true);
        }
        let zone = self.zones[zi].name();
        self.note(StepKind::Decision, Some(span), || format!("region {r} of {zone} leaves the region allocator: {} MAX_ORDER blocks onto the {mt} lists", blocks.len()));
        self.leave();
    }

    /// The region allocator's answer to an empty `free_list[mt]`: the
    /// lowest region it holds goes to `mt`. False if it holds none.
    pub(crate) fn region_allocator_refill(&mut self, zi: usize, mt: MigrateType) -> bool {
        if !self.region_allocator_on() {
            return false;
        }
        let Some(r) = (0..self.zone_regions(zi)).find(|&r| self.region_in_allocator(zi, r)) else { return false };
        self.note(StepKind::Decision, None, || format!("free_list[{mt}] ran dry: the region allocator hands out its lowest region, {r}"));
        self.__del_from_region_allocator(zi, r, mt);
        true
    }

    /// Before a free block held by the region allocator is touched by PFN
    /// (isolated, moved, taken): its whole region goes to the MOVABLE lists
    /// first, as seed 003's `move_freepages()` does.
    #[inline]
    pub(crate) fn region_release_for(&mut self, zi: usize, pfn: u64) {
        if self.region_allocator_on() {
            let r = self.region_of(zi, pfn);
            if self.region_in_allocator(zi, r) {
                self.__del_from_region_allocator(zi, r, MigrateType::Movable);
            }
        }
    }

    /// Whether a zone's region allocator holds any region. It asks from
    /// the top: allocation fills the low regions, so held ones sit high.
    pub(crate) fn region_allocator_has(&self, zi: usize) -> bool {
        self.region_allocator_on() && (0..self.zone_regions(zi)).rev().any(|r| self.region_in_allocator(zi, r))
    }
}
