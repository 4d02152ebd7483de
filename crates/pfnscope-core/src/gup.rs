//! Pinning user pages (mm/gup.c, v6.12).
//!
//! A pin (`FOLL_PIN`) raises the refcount, so migration sees more
//! references than it expects and fails with -EAGAIN. `FOLL_LONGTERM` pins
//! are refused on CMA and ZONE_MOVABLE pages: GUP first migrates such a page
//! elsewhere (`check_and_migrate_movable_pages`), and fails if it cannot.
//! Like the kernel for small folios, a pin adds `GUP_PIN_COUNTING_BIAS`
//! (1024) to the refcount; the model also counts pins in `pincount` for
//! every folio (the kernel keeps `_pincount` only for large ones).

use crate::alloc::Gfp;
use crate::error::{Error, Result};
use crate::geometry::{PfnRange, ZoneType};
use crate::machine::Machine;
use crate::migrate::MigrateStats;
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageFlags, PageWord};
use crate::trace::{KernelFn, StepKind};

/// `GUP_PIN_COUNTING_BIAS`.
pub const GUP_PIN_COUNTING_BIAS: u16 = 1024;

impl Machine {
    /// `folio_is_longterm_pinnable()`: not in CMA, not in ZONE_MOVABLE.
    pub fn is_longterm_pinnable(&self, pfn: u64) -> bool {
        self.get_pageblock_migratetype(pfn) != MigrateType::Cma
            && self.zone_of(pfn).is_none_or(|zi| self.zones[zi].zone_type != ZoneType::Movable)
    }

    /// `pin_user_pages()` of one folio: returns the PFN pinned, which for a
    /// long-term pin of a CMA or ZONE_MOVABLE page is where GUP migrated it.
    pub fn pin_user_page(&mut self, pfn: u64, longterm: bool) -> Result<u64> {
        let (head, _) = self.allocation_at(pfn).ok_or(Error::NotAllocated { pfn })?;
        let p = self.page(head).as_in_use().ok_or(Error::NotAllocated { pfn })?;
        if !p.kind.is_lru() {
            return Err(Error::PinFailed { pfn, why: format!("{} pages are not user memory", p.kind.label()) });
        }
        self.enter(KernelFn::PinUserPages);
        let mut at = head;
        if longterm && !self.is_longterm_pinnable(head) {
            self.enter(KernelFn::CheckAndMigrateMovablePages);
            self.lru_add_drain_all();
            let mut list = Vec::new();
            self.isolate_migratepages_range(head, head + 1, &mut list);
            let mut stats = MigrateStats::default();
            // GFP_USER without __GFP_MOVABLE (memalloc_pin_save): no CMA,
            // no ZONE_MOVABLE.
            let target = Gfp { name: "GFP_USER", migratetype: MigrateType::Unmovable, highest_zone: ZoneType::Normal, atomic: false, high: false };
            let r = if list.is_empty() { Ok(1) } else { self.migrate_pages_to(&mut list, &mut stats, Some(target), crate::migrate::MigrateLoop::Batched) };
            self.putback_movable_pages(&mut list);
            let moved = stats.moved.first().map(|&(_, new)| new);
            self.leave();
            match (r, moved) {
                (Ok(0), Some(new)) => at = new,
                _ => {
                    self.leave();
                    return Err(Error::PinFailed { pfn, why: "FOLL_LONGTERM on a CMA or ZONE_MOVABLE page, and it could not be migrated away".into() });
                }
            }
        }
        let q = self.page(at).as_in_use().expect("pinned folio is in use");
        let flags = if longterm { q.flags | PageFlags::LONGTERM_PIN } else { q.flags };
        let q = InUse { pincount: q.pincount.saturating_add(1), refcount: q.refcount.saturating_add(GUP_PIN_COUNTING_BIAS), flags, ..q };
        self.set_page(at, PageWord::in_use(q));
        self.note(StepKind::Action, Some(PfnRange::new(at, at + 1)), || {
            format!("pinned {at:#x}{} (pincount {})", if longterm { " with FOLL_LONGTERM" } else { "" }, q.pincount)
        });
        self.leave();
        Ok(at)
    }

    /// `unpin_user_page()`: drops one pin.
    pub fn unpin_user_page(&mut self, pfn: u64) -> Result<()> {
        let p = self.page(pfn).as_in_use().filter(|p| p.pincount > 0).ok_or(Error::PinFailed { pfn, why: "not pinned".into() })?;
        let pincount = p.pincount - 1;
        let flags = if pincount == 0 { p.flags.difference(PageFlags::LONGTERM_PIN) } else { p.flags };
        self.set_page(pfn, PageWord::in_use(InUse { pincount, refcount: p.refcount.saturating_sub(GUP_PIN_COUNTING_BIAS), flags, ..p }));
        Ok(())
    }
}
