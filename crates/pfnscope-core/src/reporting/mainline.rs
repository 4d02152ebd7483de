//! mm/page_reporting.c (v6.12) with virtio-balloon as the device.
//!
//! Simplified: there is one device and one node; the zone lock and RCU are
//! not modelled (nothing runs concurrently); `report()` always succeeds
//! (virtio-balloon's only failure is a broken virtqueue), so the error
//! paths that put pages back unreported are not taken.

use crate::buddy::Fpi;
use crate::geometry::{PfnRange, ZoneType};
use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::trace::{KernelFn, StepKind};
use crate::zone::Wmark;
use crate::AllocFlags;

use super::{
    ReportingPolicy, ReportingState, Slot, PAGE_REPORTING_CAPACITY, PAGE_REPORTING_DELAY_MS,
};

impl Machine {
    /// `page_reporting_notify_free()` (mm/page_reporting.h), called by
    /// `__free_one_page()` with the merged block's order: below
    /// `page_reporting_order` it does nothing.
    #[inline]
    pub(crate) fn page_reporting_notify_free(&mut self, order: u8) {
        if self
            .reporting
            .as_ref()
            .is_some_and(|d| d.policy == ReportingPolicy::Mainline)
            && order as i64 >= self.rp(Slot::Order)
        {
            self.__page_reporting_request();
        }
    }

    /// `__page_reporting_request()`: REQUESTED; if the device was idle, the
    /// work is queued `PAGE_REPORTING_DELAY` (2 s) out "to allow a sizable
    /// queue to build".
    pub(crate) fn __page_reporting_request(&mut self) {
        let state = ReportingState::from_i64(self.rp(Slot::State));
        if state == ReportingState::Requested {
            return;
        }
        self.enter(KernelFn::PageReportingRequest);
        self.set_rp(Slot::State, ReportingState::Requested as i64);
        if state == ReportingState::Idle {
            let due = self.rp(Slot::Clock) + PAGE_REPORTING_DELAY_MS;
            self.set_rp(Slot::Due, due);
            self.note(StepKind::Decision, None, || format!("reporting requested: page_reporting_process is queued for t = {} ms, 2 s from now", due));
        } else {
            self.note(StepKind::Decision, None, || {
                "reporting requested while a pass is active: it will run again 2 s after this one"
                    .into()
            });
        }
        self.leave();
    }

    /// `page_reporting_process()`: the delayed work. ACTIVE, every zone in
    /// turn, then IDLE unless something requested reporting meanwhile (a
    /// new free, or a list whose budget ran out): then it queues itself
    /// again.
    pub(crate) fn page_reporting_process(&mut self) {
        self.enter(KernelFn::PageReportingProcess);
        self.set_rp(Slot::State, ReportingState::Active as i64);
        self.add_rp(Slot::Passes, 1);
        let now = self.rp(Slot::Clock);
        self.note(StepKind::Action, None, || {
            format!("t = {now} ms: the delayed work runs; state PAGE_REPORTING_ACTIVE")
        });
        for zi in 0..self.zones.len() {
            self.page_reporting_process_zone(zi);
        }
        if ReportingState::from_i64(self.rp(Slot::State)) == ReportingState::Active {
            self.set_rp(Slot::State, ReportingState::Idle as i64);
            self.note(StepKind::Action, None, || {
                "nothing requested during the pass: PAGE_REPORTING_IDLE".into()
            });
        } else {
            let due = now + PAGE_REPORTING_DELAY_MS;
            self.set_rp(Slot::Due, due);
            self.note(StepKind::Decision, None, || {
                format!("requested again during the pass: the work is queued for t = {due} ms")
            });
        }
        self.leave();
    }

    /// `page_reporting_process_zone()`: the zone gate (free pages above the
    /// low watermark plus a full batch of `page_reporting_order` blocks),
    /// then every order from `page_reporting_order` up and every type but
    /// ISOLATE, lowest first; the batch is shared across lists, and what is
    /// left in it is reported at the end.
    fn page_reporting_process_zone(&mut self, zi: usize) {
        self.enter(KernelFn::PageReportingProcessZone);
        let order = self.rp(Slot::Order) as u8;
        let low = self.wmark_pages(zi, Wmark::Low);
        let watermark = low + (PAGE_REPORTING_CAPACITY << order);
        let span = self.zones[zi].span;
        let name = self.zones[zi].zone_type.proc_name();
        if !self.zone_watermark_ok(zi, 0, watermark, ZoneType::Dma, AllocFlags::CMA) {
            let free = self.zone_free_pages(zi);
            self.note(StepKind::Decision, Some(span), || {
                format!("zone {name}: {free} free pages, not above low watermark {low} + 32 << {order} = {watermark}: skipped")
            });
            self.leave();
            return;
        }
        self.note(StepKind::Action, Some(span), || format!("zone {name} passes the gate (above low watermark {low} + 32 << {order} = {watermark})"));
        let mut batch: Vec<(u64, u8)> = Vec::with_capacity(PAGE_REPORTING_CAPACITY as usize);
        'lists: for o in order..=self.geo.max_order {
            for mt in MigrateType::ALL {
                if mt == MigrateType::Isolate {
                    continue;
                }
                if !self.page_reporting_cycle(zi, o, mt, &mut batch) {
                    break 'lists;
                }
            }
        }
        if !batch.is_empty() {
            self.virtballoon_free_page_report(&batch);
            self.page_reporting_drain(&batch);
        }
        self.leave();
    }

    /// `page_reporting_cycle()`: walks one free list, skipping reported
    /// blocks; unreported ones are isolated into the batch; a full batch is
    /// reported (with the list rotated so the page that did not fit comes
    /// first) and put back. The list gets ⌈nr_free / 512⌉ report calls,
    /// plus one; when they are spent the device is set REQUESTED and the
    /// rest waits. Returns false if reporting must stop (an error; never
    /// in this model).
    fn page_reporting_cycle(
        &mut self,
        zi: usize,
        order: u8,
        mt: MigrateType,
        batch: &mut Vec<(u64, u8)>,
    ) -> bool {
        let head = self.zones[zi].free_list(order, mt.index());
        if self.list_empty(head) {
            return true;
        }
        self.enter(KernelFn::PageReportingCycle);
        let nr_free = self.nr_free(zi, order);
        let mut budget = nr_free.div_ceil(PAGE_REPORTING_CAPACITY * 16) as i64;
        self.note(StepKind::Action, None, || format!("free_list[{mt}] of order {order}: a budget of {budget} report call(s), ⌈nr_free {nr_free} / 512⌉"));
        let mut cur = self.list_first(head);
        let mut stop_at = None;
        while let Some(pfn) = cur {
            let after = self.list_next(pfn, head);
            if self.page(pfn).reported() {
                cur = after;
                continue;
            }
            if budget < 0 {
                self.set_rp(Slot::State, ReportingState::Requested as i64);
                self.note(StepKind::Decision, Some(PfnRange::new(pfn, pfn + (1 << order))), || {
                    format!("budget spent with {pfn:#x} still unreported: PAGE_REPORTING_REQUESTED, the rest waits for the next pass")
                });
                stop_at = Some(pfn);
                break;
            }
            if (batch.len() as u64) < PAGE_REPORTING_CAPACITY {
                if !self.__isolate_free_page(pfn, order) {
                    stop_at = Some(pfn);
                    break;
                }
                batch.push((pfn, order));
                let n = batch.len();
                self.note(StepKind::Action, Some(PfnRange::new(pfn, pfn + (1 << order))), || {
                    format!("order-{order} {pfn:#x} is not PageReported: off the list into the batch ({n} of 32)")
                });
                cur = after;
                continue;
            }
            // The batch is full: this page comes first when we return.
            if self.list_first(head) != Some(pfn) {
                self.list_rotate_to_front(pfn, head);
            }
            self.virtballoon_free_page_report(batch);
            budget -= 1;
            self.page_reporting_drain(batch);
            batch.clear();
            cur = self.list_first(head);
        }
        if let Some(pfn) = stop_at {
            if self.list_first(head) != Some(pfn) {
                self.list_rotate_to_front(pfn, head);
            }
        }
        self.leave();
        true
    }

    /// virtio-balloon's `report()` callback, `virtballoon_free_page_report()`
    /// (drivers/virtio/virtio_balloon.c): the batch goes down the reporting
    /// virtqueue and the driver waits until the host has used it. The host
    /// (QEMU) discards each range.
    pub(crate) fn virtballoon_free_page_report(&mut self, batch: &[(u64, u8)]) {
        self.enter(KernelFn::VirtballoonFreePageReport);
        let mut pages = 0;
        let mut again = 0;
        for &(pfn, order) in batch {
            pages += 1u64 << order;
            again += self.host_take(pfn, 1 << order);
        }
        self.add_rp(Slot::ReportCalls, 1);
        self.add_rp(Slot::ReportedPages, pages as i64);
        self.add_rp(Slot::Rereported, again as i64);
        let lo = batch.iter().map(|b| b.0).min().unwrap_or(0);
        let hi = batch.iter().map(|&(p, o)| p + (1 << o)).max().unwrap_or(0);
        self.note(StepKind::Action, Some(PfnRange::new(lo, hi)), || {
            let again = if again > 0 { format!("; it already held {again} of them (reported again after a merge)") } else { String::new() };
            format!("report(): {} block(s), {pages} pages, down the virtqueue; the host discards them{again}", batch.len())
        });
        self.leave();
    }

    /// `page_reporting_drain()`: each block back to its list's tail with
    /// `__putback_isolated_page()` (no new notification); it is marked
    /// `PageReported` only if it is still a buddy of its order, so a block
    /// that merged on the way back is reported again at the higher order.
    fn page_reporting_drain(&mut self, batch: &[(u64, u8)]) {
        self.enter(KernelFn::PageReportingDrain);
        let mut marked = 0;
        for &(pfn, order) in batch {
            let zi = self.zone_of(pfn).expect("reported page in a zone");
            let mt = self.get_pageblock_migratetype(pfn);
            self.enter(KernelFn::PutbackIsolatedPage);
            self.__free_one_page(
                pfn,
                zi,
                order,
                mt,
                Fpi {
                    to_tail: true,
                    skip_report_notify: true,
                },
            );
            self.leave();
            let w = self.page(pfn);
            if w.is_buddy() && w.order() == order {
                self.set_page(pfn, w.with_reported(true));
                self.count_reported(zi, order, true);
                marked += 1;
            }
        }
        let lo = batch.iter().map(|b| b.0).min().unwrap_or(0);
        let hi = batch.iter().map(|&(p, o)| p + (1 << o)).max().unwrap_or(0);
        let merged = batch.len() - marked;
        self.note(StepKind::Action, Some(PfnRange::new(lo, hi)), || {
            format!("back on the list tails: {marked} block(s) now PageReported; {merged} merged and will be reported again at a higher order")
        });
        self.leave();
    }

    /// `list_rotate_to_front()`: makes `pfn`'s node the first of the list
    /// by moving the head just before it.
    /// Simplified: with the 2013 region allocator the lists stay sorted by
    /// region, so the rotation is skipped (the cycle walks from the head
    /// again and skips what it reported).
    fn list_rotate_to_front(&mut self, pfn: u64, head: u32) {
        if self.region_allocator_on() {
            return;
        }
        let node = self.page_node(pfn);
        self.list_del(head);
        self.list_add(head, node, true);
    }
}
