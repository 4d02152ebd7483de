//! Seed 004: `walk_free_mem_block()` (Wei Wang and Liang Li, 2017; posted
//! for virtio-balloon's free page hints, not merged). Under each list's
//! zone lock it calls back with every free block, highest order first; it
//! keeps no state, so every walk reports every free block again, and the
//! caller must cope with blocks that leave the lists after the callback.
//!
//! What merged instead is in [`super::mainline`]. The 2017 driver called
//! the walk when a live migration began ([`super::live_migration`]); for
//! the comparison over time ([`super::timeline`]), pfnscope's balloon
//! driver calls it every 2 s, mainline's delay, and says so in its steps.

use crate::geometry::PfnRange;
use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::trace::{KernelFn, StepKind};

use super::{Slot, PAGE_REPORTING_DELAY_MS};

/// The callback the walk hands each block to, with the machine so a
/// consumer can record what it was told. Like the seed's callback it must
/// not allocate or free: it must leave the allocator's state alone.
pub type ReportPfnRange<'a> = dyn FnMut(&mut Machine, u64, u64) -> i32 + 'a;

impl Machine {
    /// `walk_free_mem_block(opaque, min_order, report_pfn_range)` as seed
    /// 004 posts it: every populated zone; orders from MAX_ORDER - 1 (6.12's
    /// MAX_PAGE_ORDER) down to `min_order`; every migratetype in numeric
    /// order, ISOLATE included; each block as `(pfn, 1 << order)` in list
    /// order. A non-zero return ends the walk and is returned; 0 means
    /// every block was reported. Nothing promises a block is reported once.
    pub fn walk_free_mem_block(
        &mut self,
        min_order: u8,
        mut report_pfn_range: impl FnMut(u64, u64) -> i32,
    ) -> i32 {
        self.walk_free_mem_block_with(min_order, &mut |_, pfn, nr| report_pfn_range(pfn, nr))
    }

    /// The walk with a callback that may record into the machine's
    /// journaled state (the host's bitmap), as [`ReportPfnRange`] allows.
    pub fn walk_free_mem_block_with(
        &mut self,
        min_order: u8,
        report_pfn_range: &mut ReportPfnRange<'_>,
    ) -> i32 {
        self.enter(KernelFn::WalkFreeMemBlock);
        let mut ret = 0;
        'zones: for zi in 0..self.zones.len() {
            // for_each_populated_zone()
            if self.zones[zi].present_pages == 0 {
                continue;
            }
            for order in (min_order..=self.geo.max_order).rev() {
                for mt in MigrateType::ALL {
                    ret = self.walk_free_page_list(zi, order, mt, report_pfn_range);
                    if ret != 0 {
                        break 'zones;
                    }
                }
            }
        }
        self.leave();
        ret
    }

    /// `walk_free_page_list()`: one list, under the zone lock, in list
    /// order, until the callback returns non-zero.
    fn walk_free_page_list(
        &mut self,
        zi: usize,
        order: u8,
        mt: MigrateType,
        report_pfn_range: &mut ReportPfnRange<'_>,
    ) -> i32 {
        let head = self.zones[zi].free_list(order, mt.index());
        if self.list_empty(head) {
            return 0;
        }
        self.enter(KernelFn::WalkFreePageList);
        let mut ret = 0;
        // The callback may not change the lists, so a copy is the list.
        for pfn in self.list_pfns(head) {
            let nr = 1u64 << order;
            ret = report_pfn_range(self, pfn, nr);
            self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + nr)), || {
                let stop = if ret != 0 {
                    format!(" returned {ret}: the walk stops")
                } else {
                    String::new()
                };
                format!("free_list[{mt}] of order {order}: report_pfn_range({pfn:#x}, {nr}){stop}")
            });
            if ret != 0 {
                break;
            }
        }
        self.leave();
        ret
    }

    /// pfnscope's balloon driver for seed 004: the walk from
    /// `min_order`, each block sent to the host, which records it. The
    /// 2017 driver hinted only during live migration; with the walk policy
    /// it also runs every 2 s (`periodic`: queued again after each walk),
    /// so it can be compared with mainline reporting.
    pub(crate) fn virtio_balloon_walk_report(&mut self, min_order: u8, periodic: bool) {
        self.enter(KernelFn::ReportPfnRange2017);
        self.add_rp(Slot::Passes, 1);
        let now = self.rp(Slot::Clock);
        self.note(StepKind::Action, None, || format!("t = {now} ms: pfnscope's driver walks the free lists from order {min_order} (seed 004 keeps no state, so every free block is reported)"));
        let (mut calls, mut pages, mut again) = (0i64, 0i64, 0i64);
        self.walk_free_mem_block_with(min_order, &mut |m, pfn, nr| {
            calls += 1;
            pages += nr as i64;
            again += m.host_take(pfn, nr) as i64;
            0
        });
        self.add_rp(Slot::ReportCalls, calls);
        self.add_rp(Slot::ReportedPages, pages);
        self.add_rp(Slot::Rereported, again);
        let next = if periodic {
            let due = now + PAGE_REPORTING_DELAY_MS;
            self.set_rp(Slot::Due, due);
            format!(" Next walk at t = {due} ms.")
        } else {
            String::new()
        };
        self.note(StepKind::Decision, None, || format!("{calls} callback(s), {pages} pages reported; the host already held {again} of them.{next}"));
        self.leave();
    }
}
