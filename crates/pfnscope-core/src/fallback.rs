//! Falling back to another migratetype's free lists, claiming or stealing
//! (mm/page_alloc.c, v6.12, after the 6.10 freelist-hygiene series), and the
//! MIGRATE_HIGHATOMIC reserve.

use crate::alloc::AllocFlags;
use crate::geometry::PfnRange;
use crate::machine::{Machine, VmEvent};
use crate::migratetype::MigrateType;
use crate::page::Tag;
use crate::trace::{KernelFn, StepKind};
use crate::zone::ZoneCounter;

/// `watermark_boost_factor`'s default (percent x 100 of the high watermark).
pub const WATERMARK_BOOST_FACTOR: u64 = 15_000;

impl Machine {
    /// `can_steal_fallback()`: may the whole pageblock be claimed?
    pub(crate) fn can_steal_fallback(&self, order: u8, start_mt: MigrateType) -> bool {
        let pb = self.geo.pageblock_order;
        order >= pb
            || order >= pb / 2
            || start_mt == MigrateType::Reclaimable
            || start_mt == MigrateType::Unmovable
    }

    /// `find_suitable_fallback()`: the first type in `fallbacks[mt]` with a
    /// free block of this order, and whether its block may be claimed.
    pub(crate) fn find_suitable_fallback(&self, zi: usize, order: u8, mt: MigrateType, only_stealable: bool) -> Option<(MigrateType, bool)> {
        if self.nr_free(zi, order) == 0 {
            return None;
        }
        for &fallback in mt.fallbacks() {
            if self.free_area_empty(zi, order, fallback) {
                continue;
            }
            let can_steal = self.can_steal_fallback(order, mt);
            if !only_stealable || can_steal {
                return Some((fallback, can_steal));
            }
        }
        None
    }

    /// `__rmqueue_fallback()` (v6.12): search the other types from the
    /// largest order down (from pageblock_order with ALLOC_NOFRAGMENT); a
    /// movable request that cannot claim the block takes the smallest
    /// suitable block instead.
    pub(crate) fn __rmqueue_fallback(&mut self, zi: usize, order: u8, start_mt: MigrateType, flags: AllocFlags) -> Option<u64> {
        let pb = self.geo.pageblock_order;
        let min_order = if order < pb && flags.contains(AllocFlags::NOFRAGMENT) { pb } else { order };
        self.enter(KernelFn::RmqueueFallback);
        let mut found = None;
        for current in (min_order..=self.geo.max_order).rev() {
            if let Some((fallback, can_steal)) = self.find_suitable_fallback(zi, current, start_mt, false) {
                if !can_steal && start_mt == MigrateType::Movable && current > order {
                    // find_smallest: steal the smallest block instead.
                    found = (order..=self.geo.max_order).find_map(|o| {
                        self.find_suitable_fallback(zi, o, start_mt, false).map(|(f, c)| (o, f, c))
                    });
                } else {
                    found = Some((current, fallback, can_steal));
                }
                break;
            }
        }
        let Some((current, fallback, can_steal)) = found else {
            self.note(StepKind::Failure, None, || {
                let floor = if min_order > order { " (ALLOC_NOFRAGMENT: whole pageblocks only)" } else { "" };
                format!("no {start_mt} fallback at order {min_order} or above{floor}")
            });
            self.leave();
            return None;
        };
        let pfn = self.list_first(self.zones[zi].free_list(current, fallback.index()))?;
        self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + (1 << current))), || {
            format!("{start_mt} request falls back to order-{current} {fallback} block {pfn:#x} (fallbacks[{start_mt}])")
        });
        let page = self.steal_suitable_fallback(zi, pfn, current, order, start_mt, can_steal);
        // trace_mm_page_alloc_extfrag(): fragmenting = fallback order below pageblock_order.
        self.count_vm_event(VmEvent::ExtfragFallbacks, 1);
        if current < pb {
            self.count_vm_event(VmEvent::ExtfragFragmenting, 1);
        }
        self.leave();
        page
    }

    /// `steal_suitable_fallback()` (v6.12): claim the whole pageblock when
    /// the block is large or enough of the pageblock is free or "alike";
    /// otherwise take just the one block and leave the pageblock's type.
    pub(crate) fn steal_suitable_fallback(&mut self, zi: usize, pfn: u64, current: u8, order: u8, start_mt: MigrateType, whole_block: bool) -> Option<u64> {
        self.enter(KernelFn::StealSuitableFallback);
        let block_mt = self.get_pageblock_migratetype(pfn);
        let pb = self.geo.pageblock_order;
        let result = 'steal: {
            if block_mt == MigrateType::HighAtomic {
                break 'steal None;
            }
            if self.region_allocator_on() {
                self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + (1 << current))), || {
                    format!("region allocator (2013): borrow the block; pageblock ownership stays {block_mt}")
                });
                break 'steal None;
            }
            if current >= pb {
                // Take ownership of every pageblock the block covers.
                self.del_page_from_free_list(pfn, zi, current, block_mt);
                self.change_pageblock_range(pfn, current, start_mt);
                self.expand(zi, pfn, order, current, start_mt);
                self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + (1 << current))), || {
                    format!("order {current} >= pageblock_order: the block's pageblocks become {start_mt}")
                });
                break 'steal Some(Some(pfn));
            }
            self.boost_watermark(zi);
            if !whole_block {
                break 'steal None;
            }
            let Some((start, free, movable)) = self.prep_move_freepages_block(zi, pfn, true) else { break 'steal None };
            let nr = self.geo.pageblock_nr_pages();
            let alike = if start_mt == MigrateType::Movable {
                movable
            } else if block_mt == MigrateType::Movable {
                nr - (free + movable)
            } else {
                0
            };
            if free + alike >= nr / 2 {
                self.note(StepKind::Decision, Some(PfnRange::new(start, start + nr)), || {
                    format!("claim: {free} free + {alike} alike pages >= half the pageblock; it becomes {start_mt}")
                });
                self.__move_freepages_block(zi, start, block_mt, start_mt);
                break 'steal Some(self.__rmqueue_smallest(zi, order, start_mt));
            }
            self.note(StepKind::Decision, Some(PfnRange::new(start, start + nr)), || {
                format!("steal one block: only {free} free + {alike} alike of {nr} pages; the pageblock stays {block_mt}")
            });
            None
        };
        let page = match result {
            Some(page) => page,
            None => {
                // single_page:
                self.page_del_and_expand(zi, pfn, order, current, block_mt);
                Some(pfn)
            }
        };
        self.leave();
        page
    }

    /// `prep_move_freepages_block()`: the pageblock must lie in the zone;
    /// counts its free pages and its LRU or movable_ops pages when `count`
    /// (the kernel's `num_free` and `num_movable` not NULL). Without them
    /// the kernel still walks the block, which changes nothing; pfnscope
    /// skips that walk.
    pub(crate) fn prep_move_freepages_block(&self, zi: usize, pfn: u64, count: bool) -> Option<(u64, u64, u64)> {
        let start = self.pageblock_start_pfn(pfn);
        let end = start + self.geo.pageblock_nr_pages();
        let span = self.zones[zi].span;
        if !span.contains(start) || !span.contains(end - 1) {
            return None;
        }
        if !count {
            return Some((start, 0, 0));
        }
        let (mut free, mut movable) = (0, 0);
        let mut p = start;
        while p < end {
            let w = self.page(p);
            if w.is_buddy() {
                free += 1 << w.order();
                p += 1 << w.order();
                continue;
            }
            let Some(u) = w.as_in_use() else {
                p += 1;
                continue;
            };
            // PageLRU() reads the folio's head (PF_HEAD): every page of an
            // LRU folio counts, tails too; __PageMovable() reads the page's
            // own mapping, which only a head has. The kernel steps page by
            // page; a folio's pages are counted at once.
            use crate::page::PageFlags;
            let (head, end_of_folio) = match (u.flags.contains(PageFlags::TAIL), u.flags.contains(PageFlags::HEAD)) {
                (true, _) => match self.allocation_at(p) {
                    Some((h, o)) => (self.page(h).as_in_use().unwrap_or(u), h + (1 << o)),
                    None => (u, p + 1),
                },
                (false, true) => (u, p + (1 << u.compound_order)),
                _ => (u, p + 1),
            };
            let run = end_of_folio.min(end) - p;
            if head.flags.contains(PageFlags::LRU) {
                movable += run;
            } else if u.kind == crate::page::PageKind::MovableOps && !u.flags.contains(PageFlags::TAIL) {
                movable += 1;
            }
            p += run;
        }
        Some((start, free, movable))
    }

    /// `__move_freepages_block()`: every free block in the pageblock moves
    /// to `new_mt`'s lists, and the pageblock takes the new type.
    pub(crate) fn __move_freepages_block(&mut self, zi: usize, start: u64, old_mt: MigrateType, new_mt: MigrateType) -> u64 {
        self.enter(KernelFn::MoveFreepagesBlock);
        let end = start + self.geo.pageblock_nr_pages();
        let mut moved = 0;
        let mut p = start;
        while p < end {
            let w = self.page(p);
            if w.tag() != Tag::Buddy {
                // The kernel steps one page at a time; one search is the same.
                let (i, j) = (self.idx(p), self.idx(end));
                p += first_buddy(&self.store.pages()[i..j]).unwrap_or(j - i) as u64;
                continue;
            }
            if self.page_in_region_allocator(p) {
                // Seed 003: move the whole region to the MOVABLE lists,
                // then try this page again from there.
                let r = self.region_of(zi, p);
                self.enter(KernelFn::MoveFreepages2013);
                self.note(StepKind::Decision, Some(PfnRange::new(p, p + (1 << w.order()))), || format!("{p:#x} is in the region allocator: region {r} goes to the MOVABLE lists first"));
                self.__del_from_region_allocator(zi, r, MigrateType::Movable);
                self.leave();
                continue;
            }
            let order = w.order();
            self.move_to_free_list(p, zi, order, old_mt, new_mt);
            p += 1 << order;
            moved += 1 << order;
        }
        self.set_pageblock_migratetype(start, new_mt);
        self.note(StepKind::Action, Some(PfnRange::new(start, end)), || {
            format!("moved {moved} free pages from {old_mt} to {new_mt} lists; pageblock is now {new_mt}")
        });
        self.leave();
        moved
    }

    /// `move_freepages_block()`: `None` if the pageblock straddles the zone.
    pub(crate) fn move_freepages_block(&mut self, zi: usize, pfn: u64, old_mt: MigrateType, new_mt: MigrateType) -> Option<u64> {
        let (start, _, _) = self.prep_move_freepages_block(zi, pfn, false)?;
        Some(self.__move_freepages_block(zi, start, old_mt, new_mt))
    }

    /// `change_pageblock_range()`: set the type of every pageblock a block
    /// of `order` covers.
    pub(crate) fn change_pageblock_range(&mut self, pfn: u64, order: u8, mt: MigrateType) {
        let nr = self.geo.pageblock_nr_pages();
        let count = (1u64 << order).div_ceil(nr);
        for b in 0..count {
            self.set_pageblock_migratetype(pfn + b * nr, mt);
        }
    }

    /// `boost_watermark()`: a fragmenting fallback raises the zone's
    /// watermarks by a pageblock, up to 150% of the high watermark, to make
    /// kswapd reclaim and compact before the next one. Skipped in zones of
    /// fewer than four pageblocks.
    pub(crate) fn boost_watermark(&mut self, zi: usize) -> bool {
        let nr = self.geo.pageblock_nr_pages();
        let z = &self.zones[zi];
        if nr * 4 > z.managed_pages {
            return false;
        }
        let max_boost = z.watermark[2] * WATERMARK_BOOST_FACTOR / 10_000;
        if max_boost == 0 {
            return false;
        }
        let max_boost = max_boost.max(nr) as i64;
        let cur = self.zone_counter(zi, ZoneCounter::WatermarkBoost);
        let new = (cur + nr as i64).min(max_boost);
        self.enter(KernelFn::BoostWatermark);
        self.add_zone_counter(zi, ZoneCounter::WatermarkBoost, new - cur);
        self.note(StepKind::Action, None, || format!("watermark_boost {cur} -> {new} pages"));
        self.leave();
        true
    }

    /// `reserve_highatomic_pageblock()` (v6.12): after a successful
    /// high-order atomic allocation, reserve its pageblock, up to about 1%
    /// of the zone.
    pub(crate) fn reserve_highatomic_pageblock(&mut self, pfn: u64, order: u8, zi: usize) {
        let nr = self.geo.pageblock_nr_pages();
        let managed = self.zones[zi].managed_pages;
        if managed / 100 < nr {
            return;
        }
        let max_managed = (managed / 100).div_ceil(nr) * nr;
        if self.zone_counter(zi, ZoneCounter::NrReservedHighatomic) as u64 >= max_managed {
            return;
        }
        let mt = self.get_pageblock_migratetype(pfn);
        if !mt.is_mergeable() {
            return;
        }
        self.enter(KernelFn::ReserveHighatomicPageblock);
        if order < self.geo.pageblock_order {
            if self.move_freepages_block(zi, pfn, mt, MigrateType::HighAtomic).is_some() {
                self.add_zone_counter(zi, ZoneCounter::NrReservedHighatomic, nr as i64);
            }
        } else {
            self.change_pageblock_range(pfn, order, MigrateType::HighAtomic);
            self.add_zone_counter(zi, ZoneCounter::NrReservedHighatomic, 1 << order);
        }
        let start = self.pageblock_start_pfn(pfn);
        self.note(StepKind::Decision, Some(PfnRange::new(start, start + nr)), || {
            format!("reserved pageblock {start:#x} as HighAtomic after an order-{order} atomic allocation")
        });
        self.leave();
    }

    /// `unreserve_highatomic_pageblock()` (v6.12): give one reserved
    /// pageblock with free memory back to `mt`. Without `force`, a zone keeps
    /// its last reserved pageblock. Returns whether a block was given back.
    pub(crate) fn unreserve_highatomic_pageblock(&mut self, mt: MigrateType, force: bool) -> bool {
        let nr = self.geo.pageblock_nr_pages();
        for zi in 0..self.zones.len() {
            let reserved = self.zone_counter(zi, ZoneCounter::NrReservedHighatomic);
            if !force && reserved as u64 <= nr {
                continue;
            }
            for order in 0..=self.geo.max_order {
                let head = self.zones[zi].free_list(order, MigrateType::HighAtomic.index());
                let Some(pfn) = self.list_first(head) else { continue };
                self.enter(KernelFn::UnreserveHighatomicPageblock);
                let block_mt = self.get_pageblock_migratetype(pfn);
                if block_mt == MigrateType::HighAtomic {
                    let size = (nr.max(1 << order) as i64).min(self.zone_counter(zi, ZoneCounter::NrReservedHighatomic));
                    self.add_zone_counter(zi, ZoneCounter::NrReservedHighatomic, -size);
                }
                let moved = if order < self.geo.pageblock_order {
                    self.move_freepages_block(zi, pfn, block_mt, mt).is_some()
                } else {
                    self.move_to_free_list(pfn, zi, order, block_mt, mt);
                    self.change_pageblock_range(pfn, order, mt);
                    true
                };
                self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + nr.max(1 << order))), || {
                    format!("gave a HighAtomic reserve back to {mt}")
                });
                self.leave();
                if moved {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::alloc::AllocFlags;
    use crate::geometry::MachineSpec;
    use crate::machine::{Machine, VmEvent};
    use crate::migratetype::MigrateType;
    use crate::page::{InUse, PageFlags, PageKind, PageWord};

    fn machine() -> Machine {
        Machine::new(MachineSpec::teaching_16m()).unwrap()
    }

    /// PageLRU() of a tail page reads its head: an anon THP's 256 pages all
    /// count as movable, so a pageblock mostly of anon folios is not
    /// claimed by an unmovable fallback; a slab page counts as alike.
    #[test]
    fn every_page_of_an_lru_folio_counts_as_movable() {
        let mut m = machine();
        m.alloc_pages_at(0x200, 8, PageKind::Anon).unwrap();
        m.alloc_pages_at(0x300, 0, PageKind::Anon).unwrap();
        m.alloc_pages_at(0x301, 0, PageKind::SlabUnmovable).unwrap();
        m.lru_add_drain_all();
        let zi = m.zone_of(0x200).unwrap();
        let (start, free, movable) = m.prep_move_freepages_block(zi, 0x2a0, true).unwrap();
        assert_eq!((start, free, movable), (0x200, 512 - 258, 257));
    }

    #[test]
    fn unmovable_fallback_takes_the_largest_movable_block_and_claims_it() {
        let mut m = machine();
        // No UNMOVABLE or RECLAIMABLE memory at boot: the request falls back
        // to MOVABLE, starting from the largest order (10), whose first block
        // 0x400 is >= pageblock_order, so both its pageblocks turn UNMOVABLE.
        let pfn = m.__rmqueue_fallback(0, 0, MigrateType::Unmovable, AllocFlags::empty()).unwrap();
        assert_eq!(pfn, 0x400);
        assert_eq!(m.get_pageblock_migratetype(0x400), MigrateType::Unmovable);
        assert_eq!(m.get_pageblock_migratetype(0x600), MigrateType::Unmovable);
        assert_eq!(m.free_list_pfns(0, 9, MigrateType::Unmovable), vec![0x600]);
        assert_eq!(m.vm_event(VmEvent::ExtfragFallbacks), 1);
        assert_eq!(m.vm_event(VmEvent::ExtfragFragmenting), 0);
    }

    #[test]
    fn nofragment_refuses_blocks_below_pageblock_order() {
        let mut m = machine();
        // Leave MOVABLE free memory only below pageblock_order.
        for pfn in [0x400u64, 0x800, 0xc00] {
            m.del_page_from_free_list(pfn, 0, 10, MigrateType::Movable);
        }
        m.del_page_from_free_list(0x200, 0, 9, MigrateType::Movable);
        assert!(m.__rmqueue_fallback(0, 0, MigrateType::Unmovable, AllocFlags::NOFRAGMENT).is_none());
        assert!(m.__rmqueue_fallback(0, 0, MigrateType::Unmovable, AllocFlags::empty()).is_some());
        assert_eq!(m.vm_event(VmEvent::ExtfragFragmenting), 1);
    }

    #[test]
    fn small_steal_keeps_the_pageblock_type_when_too_little_is_free() {
        let mut m = machine();
        // Keep only the order-6 block at 0x40 free in the first pageblock
        // (0x000-0x1ff: 64 reserved pages, 64 free, 384 taken).
        for (pfn, order) in [(0x80u64, 7u8), (0x100, 8), (0x200, 9), (0x400, 10), (0x800, 10), (0xc00, 10)] {
            m.del_page_from_free_list(pfn, 0, order, MigrateType::Movable);
            for p in pfn..pfn + (1 << order) {
                m.set_page(p, PageWord::in_use(InUse::new(PageKind::Anon).with_flags(PageFlags::LRU)));
            }
        }
        let pfn = m.__rmqueue_fallback(0, 0, MigrateType::Unmovable, AllocFlags::empty()).unwrap();
        assert_eq!(pfn, 0x40);
        // 64 free + 64 alike (the reserved pages) < 256, the other 384 are
        // LRU pages: steal just the page; the block stays MOVABLE and
        // the split halves stay on MOVABLE lists (6.10+ hygiene).
        assert_eq!(m.get_pageblock_migratetype(0x40), MigrateType::Movable);
        assert_eq!(m.free_list_pfns(0, 5, MigrateType::Movable), vec![0x60]);
        assert_eq!(m.vm_event(VmEvent::ExtfragFragmenting), 1);
    }

    #[test]
    fn fragmenting_fallback_boosts_the_watermark_up_to_150_percent_of_high() {
        let mut m = Machine::new(MachineSpec::x86_64_pc(4)).unwrap();
        let zi = m.zone_index(crate::geometry::ZoneType::Normal).unwrap();
        let high = m.zones()[zi].watermark[2] as i64;
        let max_boost = (high * 15_000 / 10_000).max(512);
        let mut steps = 0;
        while m.boost_watermark(zi) {
            steps += 1;
            let boost = m.zone_counter(zi, crate::zone::ZoneCounter::WatermarkBoost);
            assert!(boost <= max_boost);
            if boost == max_boost {
                break;
            }
        }
        assert_eq!(steps as u64, (max_boost as u64).div_ceil(512));
        // Zones under four pageblocks are never boosted.
        let mut small = machine();
        assert!(small.boost_watermark(0)); // 4032 managed >= 2048
        let mut spec = MachineSpec::teaching_16m();
        spec.zones[0].reserved = vec![crate::geometry::PfnRange::new(0, 0xa00)];
        let mut tiny = Machine::new(spec).unwrap();
        assert!(!tiny.boost_watermark(0));
    }

    #[test]
    fn find_suitable_fallback_walks_the_table_in_order() {
        let mut m = machine();
        // Put an order-10 block on each of RECLAIMABLE and UNMOVABLE.
        for (pfn, mt) in [(0x400u64, MigrateType::Reclaimable), (0x800, MigrateType::Unmovable)] {
            m.del_page_from_free_list(pfn, 0, 10, MigrateType::Movable);
            m.change_pageblock_range(pfn, 10, mt);
            m.__free_one_page(pfn, 0, 10, mt, crate::buddy::Fpi::NONE);
        }
        // MOVABLE falls back to RECLAIMABLE first, UNMOVABLE to RECLAIMABLE,
        // RECLAIMABLE to UNMOVABLE.
        assert_eq!(m.find_suitable_fallback(0, 10, MigrateType::Movable, false), Some((MigrateType::Reclaimable, true)));
        assert_eq!(m.find_suitable_fallback(0, 10, MigrateType::Unmovable, false), Some((MigrateType::Reclaimable, true)));
        assert_eq!(m.find_suitable_fallback(0, 10, MigrateType::Reclaimable, false), Some((MigrateType::Unmovable, true)));
        // Below pageblock_order / 2 a movable request may not steal.
        assert_eq!(m.find_suitable_fallback(0, 6, MigrateType::Movable, true), None);
        assert_eq!(m.find_suitable_fallback(0, 3, MigrateType::Movable, false), None);
    }

    #[test]
    fn can_steal_fallback_follows_the_kernel_rule() {
        let m = machine();
        assert!(m.can_steal_fallback(0, MigrateType::Unmovable));
        assert!(m.can_steal_fallback(0, MigrateType::Reclaimable));
        assert!(!m.can_steal_fallback(3, MigrateType::Movable));
        assert!(m.can_steal_fallback(4, MigrateType::Movable)); // 4 >= 9 / 2
    }
}

/// The index of the first free block head in `words`: eight words at a
/// time without a branch, then one by one.
fn first_buddy(words: &[crate::page::PageWord]) -> Option<usize> {
    let mut k = 0;
    for chunk in words.chunks_exact(8) {
        if chunk.iter().fold(false, |any, w| any | w.is_buddy()) {
            break;
        }
        k += 8;
    }
    words[k..].iter().position(|w| w.is_buddy()).map(|i| k + i)
}
