//! Allocating and freeing pages: GFP masks, watermarks, the zonelist walk
//! of `get_page_from_freelist()` and the public `alloc_pages` / `free_pages`
//! entry points (mm/page_alloc.c, v6.12).

use serde::{Deserialize, Serialize};

use crate::error::{Errno, Error, Result};
use crate::geometry::{PfnRange, ZoneType};
use crate::machine::{Machine, VmEvent};
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageFlags, PageKind, PageWord, Tag};
use crate::trace::{KernelFn, StepKind};
use crate::zone::{Wmark, ZoneCounter};

bitflags::bitflags! {
    /// `ALLOC_*` flags (mm/internal.h), the ones the model uses.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct AllocFlags: u16 {
        /// `ALLOC_WMARK_MIN` instead of low (the slow path).
        const WMARK_MIN = 1 << 0;
        /// `ALLOC_NOFRAGMENT`: fall back only whole pageblocks.
        const NOFRAGMENT = 1 << 1;
        /// `ALLOC_CMA`: may use MIGRATE_CMA free lists.
        const CMA = 1 << 2;
        /// `ALLOC_HIGHATOMIC`: may use and create the HIGHATOMIC reserve.
        const HIGHATOMIC = 1 << 3;
        /// `ALLOC_NON_BLOCK`: cannot sleep (GFP_ATOMIC).
        const NON_BLOCK = 1 << 4;
        /// `ALLOC_MIN_RESERVE`: `__GFP_HIGH`, may dip into half the min reserve.
        const MIN_RESERVE = 1 << 5;
    }
}

impl AllocFlags {
    /// `ALLOC_RESERVES`.
    fn reserves(self) -> bool {
        self.intersects(AllocFlags::HIGHATOMIC | AllocFlags::NON_BLOCK | AllocFlags::MIN_RESERVE)
    }
}

/// A GFP mask, reduced to what decides where pages come from. It is
/// serialized by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gfp {
    /// The name, e.g. `GFP_KERNEL`.
    pub name: &'static str,
    /// From `__GFP_MOVABLE` / `__GFP_RECLAIMABLE` (`gfp_migratetype()`).
    pub migratetype: MigrateType,
    /// The highest zone the mask allows (`gfp_zone()`).
    pub highest_zone: ZoneType,
    /// No `__GFP_DIRECT_RECLAIM`: cannot sleep.
    pub atomic: bool,
    /// `__GFP_HIGH`.
    pub high: bool,
}

impl Gfp {
    pub const KERNEL: Gfp = Gfp { name: "GFP_KERNEL", migratetype: MigrateType::Unmovable, highest_zone: ZoneType::Normal, atomic: false, high: false };
    pub const KERNEL_RECLAIMABLE: Gfp = Gfp { name: "GFP_KERNEL|__GFP_RECLAIMABLE", migratetype: MigrateType::Reclaimable, highest_zone: ZoneType::Normal, atomic: false, high: false };
    pub const HIGHUSER_MOVABLE: Gfp = Gfp { name: "GFP_HIGHUSER_MOVABLE", migratetype: MigrateType::Movable, highest_zone: ZoneType::Movable, atomic: false, high: false };
    /// Migration targets for contiguous allocation and offlining
    /// (`GFP_USER|__GFP_MOVABLE`): without `__GFP_HIGHMEM` its highest zone
    /// is ZONE_NORMAL; `alloc_migration_target()` adds it for sources in
    /// ZONE_MOVABLE.
    pub const USER_MOVABLE: Gfp = Gfp { name: "GFP_USER|__GFP_MOVABLE", migratetype: MigrateType::Movable, highest_zone: ZoneType::Normal, atomic: false, high: false };
    pub const ATOMIC: Gfp = Gfp { name: "GFP_ATOMIC", migratetype: MigrateType::Unmovable, highest_zone: ZoneType::Normal, atomic: true, high: true };
    pub const DMA32: Gfp = Gfp { name: "GFP_DMA32", migratetype: MigrateType::Unmovable, highest_zone: ZoneType::Dma32, atomic: false, high: false };
    pub const DMA: Gfp = Gfp { name: "GFP_DMA", migratetype: MigrateType::Unmovable, highest_zone: ZoneType::Dma, atomic: false, high: false };

    /// Every named mask, for menus.
    pub const ALL: [Gfp; 7] = [Gfp::KERNEL, Gfp::KERNEL_RECLAIMABLE, Gfp::HIGHUSER_MOVABLE, Gfp::USER_MOVABLE, Gfp::ATOMIC, Gfp::DMA32, Gfp::DMA];

    pub fn by_name(name: &str) -> Option<Gfp> {
        Gfp::ALL.into_iter().find(|g| g.name == name)
    }
}

impl Serialize for Gfp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for Gfp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Gfp, D::Error> {
        let name = String::deserialize(d)?;
        Gfp::by_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown GFP mask {name:?}")))
    }
}

/// `MAX_NR_ZONES`: DMA, DMA32, Normal, Movable, with room to spare.
const MAX_NR_ZONES: usize = 8;

impl Machine {
    /// `wmark_pages()`: a watermark plus the zone's current boost.
    pub fn wmark_pages(&self, zi: usize, w: Wmark) -> u64 {
        self.zones[zi].watermark[w as usize] + self.zone_counter(zi, ZoneCounter::WatermarkBoost) as u64
    }

    /// `__zone_watermark_ok()` (v6.12): enough free pages above the mark
    /// plus `lowmem_reserve[highest]` after the unusable ones (the free
    /// pages of the highatomic reserve, `nr_free_highatomic`, unless
    /// ALLOC_RESERVES; CMA unless ALLOC_CMA), and for
    /// order > 0 a free block of that order that the request may use.
    pub fn zone_watermark_ok(&self, zi: usize, order: u8, mark: u64, highest: ZoneType, flags: AllocFlags) -> bool {
        let mut free = self.zone_free_pages(zi);
        let mut unusable = (1i64 << order) - 1;
        if !flags.reserves() {
            unusable += self.zone_counter(zi, ZoneCounter::NrFreeHighatomic);
        }
        if !flags.contains(AllocFlags::CMA) {
            unusable += self.zone_counter(zi, ZoneCounter::FreeCmaPages);
        }
        free -= unusable;
        let mut min = mark as i64;
        if flags.contains(AllocFlags::MIN_RESERVE) {
            min -= min / 2;
            if flags.contains(AllocFlags::NON_BLOCK) {
                min -= min / 4;
            }
        }
        if free <= min + self.zones[zi].lowmem_reserve[highest as usize] as i64 {
            return false;
        }
        if order == 0 || self.region_allocator_has(zi) {
            return true;
        }
        (order..=self.geo.max_order).any(|o| {
            self.nr_free(zi, o) > 0
                && ([MigrateType::Unmovable, MigrateType::Movable, MigrateType::Reclaimable].iter().any(|&mt| !self.free_area_empty(zi, o, mt))
                    || (flags.contains(AllocFlags::CMA) && !self.free_area_empty(zi, o, MigrateType::Cma))
                    || (flags.contains(AllocFlags::HIGHATOMIC) && !self.free_area_empty(zi, o, MigrateType::HighAtomic)))
        })
    }

    /// `__rmqueue_cma_fallback()`.
    fn __rmqueue_cma_fallback(&mut self, zi: usize, order: u8) -> Option<u64> {
        self.enter(KernelFn::RmqueueCmaFallback);
        let page = self.__rmqueue_smallest(zi, order, MigrateType::Cma);
        self.leave();
        page
    }

    /// `__rmqueue()` (v6.12): movable requests use CMA first when CMA holds
    /// more than half the zone's free pages; otherwise the request's own
    /// type, then CMA, then another type's lists.
    pub(crate) fn __rmqueue(&mut self, zi: usize, order: u8, mt: MigrateType, flags: AllocFlags) -> Option<u64> {
        self.enter(KernelFn::Rmqueue_);
        let cma = flags.contains(AllocFlags::CMA);
        let mut page = None;
        if cma && self.zone_counter(zi, ZoneCounter::FreeCmaPages) > self.zone_free_pages(zi) / 2 {
            page = self.__rmqueue_cma_fallback(zi, order);
        }
        if page.is_none() {
            page = self.__rmqueue_smallest(zi, order, mt);
        }
        if page.is_none() && self.region_allocator_refill(zi, mt) {
            page = self.__rmqueue_smallest(zi, order, mt);
        }
        if page.is_none() && cma {
            page = self.__rmqueue_cma_fallback(zi, order);
        }
        if page.is_none() {
            page = self.__rmqueue_fallback(zi, order, mt, flags);
        }
        self.leave();
        page
    }

    /// `rmqueue_buddy()`: straight from the free lists, with the HIGHATOMIC
    /// reserve first for ALLOC_HIGHATOMIC and last for non-blocking requests.
    fn rmqueue_buddy(&mut self, zi: usize, order: u8, mt: MigrateType, flags: AllocFlags) -> Option<u64> {
        self.enter(KernelFn::RmqueueBuddy);
        let mut page = None;
        if flags.contains(AllocFlags::HIGHATOMIC) {
            page = self.__rmqueue_smallest(zi, order, MigrateType::HighAtomic);
        }
        if page.is_none() {
            page = self.__rmqueue(zi, order, mt, flags);
        }
        if page.is_none() && flags.contains(AllocFlags::NON_BLOCK) {
            page = self.__rmqueue_smallest(zi, order, MigrateType::HighAtomic);
        }
        self.leave();
        page
    }

    /// `rmqueue()`: per-cpu lists for the orders they hold, buddy otherwise.
    fn rmqueue(&mut self, zi: usize, order: u8, mt: MigrateType, flags: AllocFlags) -> Option<u64> {
        self.enter(KernelFn::Rmqueue);
        let mut page = None;
        if self.pcp_allowed_order(order) {
            page = self.rmqueue_pcplist(zi, order, mt, flags);
        }
        if page.is_none() {
            page = self.rmqueue_buddy(zi, order, mt, flags);
        }
        self.leave();
        page
    }

    /// The zones a mask may use, preferred first (the zonelist, one node),
    /// without allocating on the hot path: a machine has at most
    /// `MAX_NR_ZONES` zones.
    fn zonelist(&self, gfp: Gfp) -> impl Iterator<Item = usize> + use<> {
        let mut ids = [0usize; MAX_NR_ZONES];
        let mut n = 0;
        for zi in (0..self.zones.len()).rev() {
            if self.zones[zi].zone_type <= gfp.highest_zone && n < MAX_NR_ZONES {
                ids[n] = zi;
                n += 1;
            }
        }
        ids.into_iter().take(n)
    }

    /// `get_page_from_freelist()` (v6.12): the first zone of the zonelist
    /// above its watermark gives the page; ALLOC_NOFRAGMENT is dropped and
    /// the walk repeated if every zone failed with it.
    fn get_page_from_freelist(&mut self, gfp: Gfp, order: u8, mut flags: AllocFlags) -> Option<(usize, u64)> {
        self.enter(KernelFn::GetPageFromFreelist);
        let result = loop {
            let mut found = None;
            for zi in self.zonelist(gfp) {
                let wmark = if flags.contains(AllocFlags::WMARK_MIN) { Wmark::Min } else { Wmark::Low };
                let mark = self.wmark_pages(zi, wmark);
                if !self.zone_watermark_ok(zi, order, mark, gfp.highest_zone, flags) {
                    let (name, free) = (self.zones[zi].name(), self.zone_free_pages(zi));
                    self.enter(KernelFn::ZoneWatermarkOk);
                    self.note(StepKind::Failure, None, || format!("zone {name}: {free} free pages fail the {wmark:?} watermark of {mark} for order {order}"));
                    self.leave();
                    continue;
                }
                if let Some(pfn) = self.rmqueue(zi, order, gfp.migratetype, flags) {
                    found = Some((zi, pfn));
                    break;
                }
            }
            if found.is_none() && flags.contains(AllocFlags::NOFRAGMENT) {
                flags = flags.difference(AllocFlags::NOFRAGMENT);
                self.note(StepKind::Decision, None, || "every zone failed with ALLOC_NOFRAGMENT: retry without it".into());
                continue;
            }
            break found;
        };
        if let Some((zi, pfn)) = result {
            if flags.contains(AllocFlags::HIGHATOMIC) {
                self.reserve_highatomic_pageblock(pfn, order, zi);
            }
        }
        self.leave();
        result
    }

    /// `alloc_flags_nofragment()`: ALLOC_NOFRAGMENT when the preferred zone
    /// is ZONE_NORMAL and a DMA32 zone exists below it.
    fn alloc_flags_nofragment(&self, gfp: Gfp) -> AllocFlags {
        let preferred = self.zonelist(gfp).next().map(|zi| self.zones[zi].zone_type);
        if preferred == Some(ZoneType::Normal) && self.zone_index(ZoneType::Dma32).is_some() {
            AllocFlags::NOFRAGMENT
        } else {
            AllocFlags::empty()
        }
    }

    /// `__alloc_pages()` (v6.12), then `prep_new_page()` marks the pages as
    /// `kind`. Blocks of order > 0 are compound (`__GFP_COMP`).
    ///
    /// Simplified slow path: after the fast path (low watermark) fails, one
    /// more try at the min watermark with the atomic reserves; then a
    /// highatomic reserve is given back and the per-cpu lists drained
    /// (what direct reclaim does before retrying), and one last try. There
    /// is no reclaim, compaction or OOM killer: the request fails -ENOMEM.
    pub fn alloc_pages(&mut self, gfp: Gfp, order: u8, kind: PageKind) -> Result<u64> {
        if order > self.geo.max_order {
            return Err(Error::OrderTooLarge { order, max: self.geo.max_order });
        }
        self.enter(KernelFn::AllocPages);
        let cma = if gfp.migratetype == MigrateType::Movable { AllocFlags::CMA } else { AllocFlags::empty() };
        let fast = cma.union(self.alloc_flags_nofragment(gfp));
        let mut slow = cma.union(AllocFlags::WMARK_MIN);
        if gfp.atomic {
            slow = slow.union(AllocFlags::NON_BLOCK);
            if order > 0 {
                slow = slow.union(AllocFlags::HIGHATOMIC);
            }
        }
        if gfp.high {
            slow = slow.union(AllocFlags::MIN_RESERVE);
        }
        let mut got = self.get_page_from_freelist(gfp, order, fast);
        if got.is_none() {
            got = self.get_page_from_freelist(gfp, order, slow);
        }
        if got.is_none() && !gfp.atomic {
            self.unreserve_highatomic_pageblock(gfp.migratetype, false);
            self.drain_all_pages(None);
            got = self.get_page_from_freelist(gfp, order, slow);
        }
        let result = match got {
            Some((_, pfn)) => {
                self.prep_new_page(pfn, order, kind);
                Ok(pfn)
            }
            None => {
                self.count_vm_event(VmEvent::AllocFail, 1);
                self.note(StepKind::Failure, None, || format!("page allocation failure: order:{order}, mode:{}", gfp.name));
                Err(Error::AllocFailed { order, gfp: gfp.name.into(), errno: Errno::ENOMEM })
            }
        };
        self.leave();
        result
    }

    /// `prep_new_page()`: refcount 1 on the head; a compound page for
    /// order > 0. LRU kinds start in the CPU's LRU batch (not yet
    /// `PageLRU`), as `folio_add_lru()` leaves them.
    fn prep_new_page(&mut self, pfn: u64, order: u8, kind: PageKind) {
        self.enter(KernelFn::PrepNewPage);
        let mut head = InUse::new(kind);
        if kind.is_lru() {
            head = head.with_flags(PageFlags::LRU_BATCH).with_mapcount(u8::from(kind == PageKind::Anon));
        }
        if order > 0 {
            head.compound_order = order;
            head = head.with_flags(PageFlags::HEAD);
            if kind.is_lru() && order == self.geo.thp_order() {
                head = head.with_flags(PageFlags::THP);
            }
            let tail = InUse { refcount: 0, mapcount: 0, flags: PageFlags::TAIL, ..head };
            self.set_pages(pfn + 1, (1 << order) - 1, PageWord::in_use(tail));
        }
        self.set_page(pfn, PageWord::in_use(head));
        self.guest_write(pfn, 1 << order);
        if kind.is_lru() {
            self.folio_add_lru(pfn);
        }
        self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << order))), || format!("order-{order} {} at {pfn:#x}", kind.label()));
        self.leave();
    }

    /// Checks that `pfn` heads an allocation of `order` (what `free_pages`
    /// would accept) and returns its zone and page.
    pub fn check_allocated(&self, pfn: u64, order: u8) -> Result<(usize, InUse)> {
        if order > self.geo.max_order {
            return Err(Error::OrderTooLarge { order, max: self.geo.max_order });
        }
        let zi = self.check_pfn(pfn)?;
        if pfn & ((1 << order) - 1) != 0 {
            return Err(Error::Misaligned { pfn, order });
        }
        let p = self.page(pfn).as_in_use().ok_or(Error::NotAllocated { pfn })?;
        if p.flags.contains(PageFlags::TAIL) {
            return Err(Error::NotHead { pfn });
        }
        if p.kind == PageKind::Reserved {
            return Err(Error::Reserved { pfn });
        }
        if p.compound_order != order {
            return Err(Error::OrderMismatch { pfn, expected: order, actual: p.compound_order });
        }
        if p.refcount == 0 {
            return Err(Error::NotAllocated { pfn });
        }
        Ok((zi, p))
    }

    /// `__free_pages()`: drop a reference; at zero the block goes to this
    /// CPU's list (`free_unref_page()`) or straight to buddy. Returns whether
    /// the block was freed (a pinned page keeps its other references).
    pub fn free_pages(&mut self, pfn: u64, order: u8) -> Result<bool> {
        let (zi, p) = self.check_allocated(pfn, order)?;
        self.enter(KernelFn::FreePages);
        let freed = if p.refcount > 1 {
            self.set_page(pfn, PageWord::in_use(InUse { refcount: p.refcount - 1, ..p }));
            self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + 1)), || format!("put_page: refcount {} -> {}", p.refcount, p.refcount - 1));
            false
        } else {
            self.set_page(pfn, PageWord::taken(order));
            self.set_pages(pfn + 1, (1 << order) - 1, PageWord::FREE_TAIL);
            self.free_unref_page(pfn, zi, order);
            true
        };
        self.leave();
        Ok(freed)
    }

    /// Allocates exactly `[pfn, pfn + 2^order)` as `kind` if it is free:
    /// a block of that order on a per-cpu list is taken from it, as
    /// `rmqueue_pcplist()` would; buddy memory is split around the block the
    /// way `break_down_buddy_pages()` does for `take_page_off_buddy()`. Used
    /// to build scenarios ("a pinned page here") and to replay traces.
    pub fn alloc_pages_at(&mut self, pfn: u64, order: u8, kind: PageKind) -> Result<()> {
        if order > self.geo.max_order {
            return Err(Error::OrderTooLarge { order, max: self.geo.max_order });
        }
        let zi = self.check_pfn(pfn)?;
        if pfn & ((1 << order) - 1) != 0 {
            return Err(Error::Misaligned { pfn, order });
        }
        // A block of exactly this order on a per-cpu list: the kernel hands
        // such pages out first (rmqueue_pcplist).
        if self.page(pfn).tag() == Tag::Pcp && self.page(pfn).order() == order {
            if let Some((cpu, _)) = self.pcp_holder(zi, pfn) {
                self.pcp_pop(zi, cpu, pfn, order);
                self.prep_new_page(pfn, order, kind);
                return Ok(());
            }
        }
        let (mut head, horder) = match self.free_block_at(pfn) {
            Some((h, o)) if self.page(h).is_buddy() && o >= order => (h, o),
            _ => return Err(Error::NotFree { pfn, order }),
        };
        self.enter(KernelFn::BreakDownBuddyPages);
        let mt = self.get_pageblock_migratetype(head);
        self.del_page_from_free_list(head, zi, horder, mt);
        let mut cur = horder;
        while cur > order {
            cur -= 1;
            let half = 1u64 << cur;
            if pfn >= head + half {
                self.add_to_free_list(head, zi, cur, mt, false);
                head += half;
                self.set_page(head, PageWord::taken(cur));
            } else {
                self.add_to_free_list(head + half, zi, cur, mt, false);
                self.set_page(head, PageWord::taken(cur));
            }
        }
        self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << order))), || format!("split free order-{horder} block around {pfn:#x}"));
        self.leave();
        self.prep_new_page(pfn, order, kind);
        Ok(())
    }

    /// Sets or clears flags of an allocated page (dirty, writeback,
    /// locked), for scenarios.
    pub fn set_page_flags(&mut self, pfn: u64, set: PageFlags, clear: PageFlags) -> Result<()> {
        let allowed = PageFlags::DIRTY | PageFlags::WRITEBACK | PageFlags::LOCKED;
        let p = self.page(pfn).as_in_use().ok_or(Error::NotAllocated { pfn })?;
        let q = InUse { flags: (p.flags | (set & allowed)).difference(clear & allowed), ..p };
        self.set_page(pfn, PageWord::in_use(q));
        Ok(())
    }

    /// `folio_get()` for scenarios: a driver takes an extra reference on
    /// the folio at `pfn`, one migration does not expect.
    pub fn get_page(&mut self, pfn: u64) -> Result<()> {
        let (head, p) = self.held_folio(pfn)?;
        let refcount = p.refcount.checked_add(1).ok_or_else(|| Error::BadReference { pfn, why: "the reference count is at its limit".into() })?;
        self.set_page(head, PageWord::in_use(InUse { refcount, ..p }));
        Ok(())
    }

    /// `folio_put()` for scenarios: drop a reference [`Machine::get_page`]
    /// took. The last reference is the owner's, freed by `__free_pages`.
    pub fn put_page(&mut self, pfn: u64) -> Result<()> {
        let (head, p) = self.held_folio(pfn)?;
        if p.refcount <= 1 {
            return Err(Error::BadReference { pfn, why: "only the owner's reference is left; free the page instead".into() });
        }
        self.set_page(head, PageWord::in_use(InUse { refcount: p.refcount - 1, ..p }));
        Ok(())
    }

    fn held_folio(&self, pfn: u64) -> Result<(u64, InUse)> {
        let (head, _) = self.allocation_at(pfn).ok_or(Error::NotAllocated { pfn })?;
        let p = self.page(head).as_in_use().filter(|p| p.refcount > 0).ok_or(Error::NotAllocated { pfn })?;
        Ok((head, p))
    }

    /// The folio an in-use page `p` at `pfn` belongs to: its head PFN, its
    /// order and the head page (a page whose head is not found stands
    /// alone).
    pub(crate) fn folio_of(&self, pfn: u64, p: InUse) -> (u64, u8, InUse) {
        let (head, order) = self.allocation_at(pfn).unwrap_or((pfn, 0));
        let hp = if head == pfn { p } else { self.page(head).as_in_use().unwrap_or(p) };
        (head, order, hp)
    }

    /// The allocation a PFN belongs to: `(head pfn, order)` if in use.
    pub fn allocation_at(&self, pfn: u64) -> Option<(u64, u8)> {
        let p = self.page(pfn).as_in_use()?;
        if !p.flags.contains(PageFlags::TAIL) {
            return Some((pfn, p.compound_order));
        }
        // Walk down to the head: at most MAX_ORDER_NR_PAGES pages.
        (1..=self.geo.max_order_nr_pages()).filter_map(|d| pfn.checked_sub(d)).find_map(|q| {
            let h = self.page(q).as_in_use()?;
            (h.flags.contains(PageFlags::HEAD) && q + (1 << h.compound_order) > pfn).then_some((q, h.compound_order))
        })
    }

    /// True if a page is free memory (buddy, inside a free block, on a
    /// per-cpu list, or in flight between them).
    pub fn is_free(&self, pfn: u64) -> bool {
        matches!(self.page(pfn).tag(), Tag::Buddy | Tag::FreeTail | Tag::Pcp | Tag::Taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::MachineSpec;
    use crate::trace::KernelFn;

    #[test]
    fn order0_alloc_refills_the_pcp_list_with_a_batch() {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let zi = m.zone_index(ZoneType::Movable).unwrap();
        let pfn = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::Anon).unwrap();
        assert_eq!(m.zone_of(pfn), Some(zi));
        let batch = m.zones()[zi].pcp_batch;
        // rmqueue_bulk took `batch` pages; one was handed out.
        assert_eq!(m.pcp_count(zi, 0), batch - 1);
        let p = m.page(pfn).as_in_use().unwrap();
        assert_eq!((p.kind, p.refcount), (PageKind::Anon, 1));
        assert!(p.flags.contains(PageFlags::LRU_BATCH));
    }

    #[test]
    fn free_goes_to_the_pcp_head_and_drain_returns_it_to_buddy() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let pfn = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap();
        assert!(m.free_pages(pfn, 0).unwrap());
        assert_eq!(m.page(pfn).tag(), Tag::Pcp);
        assert_eq!(m.pcp_list_pfns(0, 0, m.order_to_pindex(m.get_pageblock_migratetype(pfn), 0))[0], pfn);
        m.drain_all_pages(None);
        assert_eq!(m.pcp_count(0, 0), 0);
        assert_eq!(m.zone_free_pages(0), 4096 - 64);
    }

    #[test]
    fn bad_frees_are_typed_errors() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let pfn = m.alloc_pages(Gfp::KERNEL, 2, PageKind::SlabUnmovable).unwrap();
        assert_eq!(m.free_pages(pfn + 1, 0), Err(Error::NotHead { pfn: pfn + 1 }));
        assert_eq!(m.free_pages(pfn, 1), Err(Error::OrderMismatch { pfn, expected: 1, actual: 2 }));
        assert!(matches!(m.free_pages(pfn, 3), Err(Error::Misaligned { .. } | Error::OrderMismatch { .. })));
        assert_eq!(m.free_pages(0x0, 0), Err(Error::Reserved { pfn: 0 }));
        assert_eq!(m.free_pages(0x10_0000, 0), Err(Error::PfnOutOfRange { pfn: 0x10_0000 }));
        assert!(m.free_pages(pfn, 2).unwrap());
        assert!(matches!(m.free_pages(pfn, 2), Err(Error::NotAllocated { .. })));
        assert!(matches!(m.alloc_pages(Gfp::KERNEL, 11, PageKind::Kernel), Err(Error::OrderTooLarge { order: 11, max: 10 })));
    }

    #[test]
    fn allocation_fails_with_enomem_when_memory_runs_out() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let mut n = 0;
        let err = loop {
            match m.alloc_pages(Gfp::KERNEL, 3, PageKind::Kernel) {
                Ok(_) => n += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(err, Error::AllocFailed { errno: Errno::ENOMEM, .. }));
        // Everything above the min watermark was handed out.
        assert!(n > 400 && n < 504, "{n}");
        assert_eq!(m.vm_event(VmEvent::AllocFail), 1);
    }

    #[test]
    fn nofragment_prefers_dma32_over_splitting_a_foreign_pageblock_in_normal() {
        // x86-64 4 GiB: Normal holds 1 GiB above 4 GiB, DMA32 the low 3 GiB.
        let mut m = Machine::new(MachineSpec::x86_64_pc(4)).unwrap();
        let normal = m.zone_index(ZoneType::Normal).unwrap();
        let dma32 = m.zone_index(ZoneType::Dma32).unwrap();
        // Leave Normal with MOVABLE memory only below pageblock_order: take
        // every order >= 9 block, so any UNMOVABLE fallback in Normal would
        // fragment a movable pageblock.
        for order in 9..=10 {
            while let Some(pfn) = m.list_first(m.zones[normal].free_list(order, MigrateType::Movable.index())) {
                m.del_page_from_free_list(pfn, normal, order, MigrateType::Movable);
                // Put half back as small blocks so Normal still has free memory.
                m.__free_one_page(pfn, normal, 8, MigrateType::Movable, crate::buddy::Fpi::NONE);
            }
        }
        let (pfn, trace) = m.record("alloc", |m| m.alloc_pages(Gfp::KERNEL, 0, PageKind::SlabUnmovable));
        let pfn = pfn.unwrap();
        // ALLOC_NOFRAGMENT: Normal refused the sub-pageblock fallback, DMA32
        // gave a whole pageblock.
        assert_eq!(m.zone_of(pfn), Some(dma32), "{:#?}", trace.steps.iter().map(|s| &s.text).collect::<Vec<_>>());
        assert!(trace.steps.iter().any(|s| s.text.contains("ALLOC_NOFRAGMENT")));
    }

    #[test]
    fn movable_requests_use_cma_first_when_it_holds_over_half_the_free_memory() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        // Turn two of the three order-10 blocks into CMA: 2048 of 4032 free
        // pages, more than half.
        for pfn in [0x800u64, 0xc00] {
            m.del_page_from_free_list(pfn, 0, 10, MigrateType::Movable);
            m.change_pageblock_range(pfn, 10, MigrateType::Cma);
            m.__free_one_page(pfn, 0, 10, MigrateType::Cma, crate::buddy::Fpi::NONE);
        }
        assert!(m.zone_counter(0, ZoneCounter::FreeCmaPages) > m.zone_free_pages(0) / 2);
        let pfn = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 4, PageKind::Anon).unwrap();
        assert_eq!(m.get_pageblock_migratetype(pfn), MigrateType::Cma);
        // An unmovable request never gets CMA memory.
        let k = m.alloc_pages(Gfp::KERNEL, 4, PageKind::Kernel).unwrap();
        assert_ne!(m.get_pageblock_migratetype(k), MigrateType::Cma);
        m.check_quiescent().unwrap();
    }

    #[test]
    fn high_order_atomic_success_reserves_its_pageblock_and_pressure_gives_it_back() {
        // A 4 GiB PC: Normal (1 GiB) has room for a reserve (1% >= 512 pages).
        let mut m = Machine::new(MachineSpec::x86_64_pc(4)).unwrap();
        // Boost every zone's watermarks by its free pages: the fast path
        // (low watermark, no reserves) fails everywhere, while GFP_ATOMIC's
        // slow path, with __GFP_HIGH and non-blocking cutting the min mark to
        // 3/8, still succeeds with ALLOC_HIGHATOMIC.
        for zi in 0..m.zones().len() {
            let f = m.zone_free_pages(zi);
            m.add_zone_counter(zi, ZoneCounter::WatermarkBoost, f);
        }
        let (pfn, trace) = m.record("atomic", |m| m.alloc_pages(Gfp::ATOMIC, 2, PageKind::Kernel));
        let pfn = pfn.unwrap();
        assert!(trace.steps.iter().any(|s| s.func == KernelFn::ReserveHighatomicPageblock));
        let zi = m.zone_of(pfn).unwrap();
        assert_eq!(m.get_pageblock_migratetype(pfn), MigrateType::HighAtomic);
        assert_eq!(m.zone_counter(zi, ZoneCounter::NrReservedHighatomic), 512);
        m.check_quiescent().unwrap();
        // The watermark check keeps back only the reserve's free pages
        // (nr_free_highatomic: less what was taken, and what the per-cpu
        // refill holds), not the whole reserved pageblock.
        let free_ha = m.zone_counter(zi, ZoneCounter::NrFreeHighatomic) as u64;
        assert!(free_ha > 0 && free_ha < 512, "{free_ha}");
        let free = m.zone_free_pages(zi) as u64;
        let highest = m.zones()[zi].zone_type;
        let mark = free - free_ha - 2 - m.zones()[zi].lowmem_reserve[highest as usize];
        assert!(m.zone_watermark_ok(zi, 0, mark, highest, AllocFlags::empty()), "free - nr_free_highatomic clears the mark");
        assert!(!m.zone_watermark_ok(zi, 0, mark + 2, highest, AllocFlags::empty()));
        // Requests without ALLOC_HIGHATOMIC never take from the reserve,
        // even for an order the reserve holds.
        let mut probe = m.clone();
        for _ in 0..64 {
            let p = probe.__rmqueue(zi, 2, MigrateType::Unmovable, AllocFlags::empty()).unwrap();
            assert_ne!(probe.get_pageblock_migratetype(p), MigrateType::HighAtomic);
        }
        // ...and a zone keeps its last reserved pageblock unless forced.
        assert!(!m.unreserve_highatomic_pageblock(MigrateType::Unmovable, false));
        assert!(m.unreserve_highatomic_pageblock(MigrateType::Unmovable, true));
        assert_eq!(m.zone_counter(zi, ZoneCounter::NrReservedHighatomic), 0);
        assert_eq!(m.get_pageblock_migratetype(pfn), MigrateType::Unmovable);
        m.check_quiescent().unwrap();
    }

    #[test]
    fn thp_allocations_are_compound_and_flagged() {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let pfn = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 9, PageKind::Anon).unwrap();
        let head = m.page(pfn).as_in_use().unwrap();
        assert!(head.flags.contains(PageFlags::THP | PageFlags::HEAD));
        assert_eq!(head.compound_order, 9);
        assert!(m.page(pfn + 511).as_in_use().unwrap().flags.contains(PageFlags::TAIL));
        assert_eq!(m.allocation_at(pfn + 300), Some((pfn, 9)));
    }

    #[test]
    fn watermark_check_counts_unusable_cma_and_highatomic() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let free = m.zone_free_pages(0) as u64;
        assert!(m.zone_watermark_ok(0, 0, free - 1, ZoneType::Normal, AllocFlags::empty()));
        assert!(!m.zone_watermark_ok(0, 0, free, ZoneType::Normal, AllocFlags::empty()));
        // order 10 needs a free order-10 block and 1023 more free pages.
        assert!(m.zone_watermark_ok(0, 10, free - 1024, ZoneType::Normal, AllocFlags::empty()));
        assert!(!m.zone_watermark_ok(0, 10, free - 1023, ZoneType::Normal, AllocFlags::empty()));
    }
}
