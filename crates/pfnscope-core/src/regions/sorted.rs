//! The "sorted buddy" lists of the 2013 series: each `free_list[mt]` in
//! region order, each region's first entry and count kept beside the list
//! (the series' `mr_list[]`), so a block is inserted at its region's place
//! without walking the list, and the list head is always the lowest
//! region's block.
//!
//! A block added at the head goes first in its region; at the tail, last
//! in its region. Simplified: the series also kept a bitmap of the
//! regions present on each list to find the next one; pfnscope scans the
//! regions above, which are few.

use crate::machine::Machine;
use crate::migratetype::MigrateType;

impl Machine {
    /// The first entry (node) of region `r` on a list, if it has any.
    pub(crate) fn mr_first(&self, zi: usize, order: u8, mt: MigrateType, r: usize) -> Option<u32> {
        let v = self.store.counter(self.mr_counter(zi, order, mt, r));
        (v > 0).then(|| (v - 1) as u32)
    }

    /// Entries of region `r` on `free_list[mt]` of `order`.
    pub fn mr_count(&self, zi: usize, order: u8, mt: MigrateType, r: usize) -> u64 {
        self.store.counter(self.mr_counter(zi, order, mt, r) + 1) as u64
    }

    fn set_mr(&mut self, zi: usize, order: u8, mt: MigrateType, r: usize, first: Option<u32>, count_delta: i64) {
        let i = self.mr_counter(zi, order, mt, r);
        self.store.set_counter(i, first.map_or(0, |n| n as i64 + 1));
        self.store.add_counter(i + 1, count_delta);
    }

    /// `add_to_freelist()` of the series: the block goes into its region's
    /// stretch of the list.
    pub(crate) fn sorted_list_add(&mut self, pfn: u64, zi: usize, order: u8, mt: MigrateType, tail: bool) {
        let r = self.region_of(zi, pfn);
        let node = self.page_node(pfn);
        let head = self.zones[zi].free_list(order, mt.index());
        let first = self.mr_first(zi, order, mt, r);
        match first {
            Some(f) if !tail => {
                // First of its region: just before the old first.
                self.list_add(node, f, true);
                self.set_mr(zi, order, mt, r, Some(node), 1);
            }
            _ => {
                // Last of its region: just before the next region's first,
                // or at the end of the list.
                let next = (r + 1..self.zone_regions(zi)).find_map(|q| self.mr_first(zi, order, mt, q));
                self.list_add(node, next.unwrap_or(head), true);
                self.set_mr(zi, order, mt, r, Some(first.unwrap_or(node)), 1);
            }
        }
    }

    /// The list removal, keeping the region's first entry and count.
    pub(crate) fn sorted_list_del(&mut self, pfn: u64, zi: usize, order: u8, mt: MigrateType) {
        let r = self.region_of(zi, pfn);
        let node = self.page_node(pfn);
        let head = self.zones[zi].free_list(order, mt.index());
        let mut first = self.mr_first(zi, order, mt, r);
        if first == Some(node) {
            first = if self.mr_count(zi, order, mt, r) > 1 { self.list_next(pfn, head).map(|p| self.page_node(p)) } else { None };
        }
        self.list_del(node);
        self.set_mr(zi, order, mt, r, first, -1);
    }
}
