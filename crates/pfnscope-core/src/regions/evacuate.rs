//! `kmempowerd`: the series' per-node kthread that empties lightly used
//! regions with the contiguous allocator's migration code, so they can go
//! back to the region allocator and be powered down. Region 0 is never
//! evacuated: it is where the migrated pages go.
//!
//! pfnscope runs one pass on request. Simplified: "lightly used" is a
//! threshold the caller chooses (the series' own heuristics are not in the
//! seed); regions are taken highest first, so the pages move down; the
//! migration targets come from the sorted lists, lowest region first.

use serde::{Deserialize, Serialize};

use crate::isolation::IsolFlags;
use crate::machine::Machine;
use crate::migrate::MigrateStats;
use crate::migratetype::MigrateType;
use crate::trace::{KernelFn, StepKind};

/// What one `kmempowerd` pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvacuationStats {
    /// Regions tried (lightly used, not region 0).
    pub tried: usize,
    /// Regions emptied and handed back to the region allocator.
    pub emptied: usize,
    /// Regions whose isolation failed on an unmovable page.
    pub refused: usize,
    pub migrated: u64,
}

impl Machine {
    /// One `kmempowerd` pass: every region but each zone's region 0 whose
    /// used pages are at most `max_used_pct` percent of its memory is
    /// isolated, its pages migrated away, and, if it emptied, given to the
    /// region allocator.
    pub fn kmempowerd(&mut self, max_used_pct: u8) -> EvacuationStats {
        let mut stats = EvacuationStats::default();
        if !self.region_allocator_on() {
            return stats;
        }
        self.enter(KernelFn::Kmempowerd2013);
        self.note(StepKind::Action, None, || format!("kmempowerd wakes: regions at most {max_used_pct}% used, highest first, move their pages down; region 0 of each zone is the target"));
        for zi in 0..self.zones.len() {
            for r in (1..self.zone_regions(zi)).rev() {
                let present = self.region_present_pages(zi, r);
                let used = present - self.region_free_pages(zi, r).min(present);
                if present == 0 || used == 0 || used * 100 > present * max_used_pct as u64 {
                    continue;
                }
                stats.tried += 1;
                let span = self.region_span(zi, r);
                self.note(StepKind::Decision, Some(span), || format!("region {r}: {used} of {present} pages in use, at most {max_used_pct}%: evacuate it"));
                if let Err(e) = self.start_isolate_page_range(span.start, span.end, MigrateType::Movable, IsolFlags::default()) {
                    let what = self.describe_page(e.pfn);
                    self.note(StepKind::Failure, Some(span), || format!("region {r} cannot be evacuated: {:#x} is {what}", e.pfn));
                    stats.refused += 1;
                    continue;
                }
                self.drain_all_pages(Some(zi));
                let mut m = MigrateStats::default();
                let _ = self.__alloc_contig_migrate_range(span.start, span.end, &mut m);
                stats.migrated += m.migrated;
                self.undo_isolate_page_range(span.start, span.end, MigrateType::Movable);
                self.drain_all_pages(Some(zi));
                if self.region_in_allocator(zi, r) || self.try_return_region(zi, r) {
                    stats.emptied += 1;
                } else {
                    let left = self.region_present_pages(zi, r) - self.region_free_pages(zi, r);
                    self.note(StepKind::Failure, Some(span), || format!("region {r} still holds {left} page(s) that could not be moved"));
                }
            }
        }
        let (free, all) = self.powerable_regions();
        let s = stats.clone();
        self.note(StepKind::Action, None, || {
            format!("kmempowerd sleeps: {} region(s) tried, {} emptied, {} refused; {free} of {all} regions could be powered down", s.tried, s.emptied, s.refused)
        });
        self.leave();
        stats
    }
}
