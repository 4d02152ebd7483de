//! Free page reporting: telling a hypervisor which guest memory is free, so
//! it can take the memory back or skip it during live migration. Two
//! designs, chosen per machine by [`ReportingPolicy`]:
//!
//! - **Mainline** ([`mainline`]): mm/page_reporting.c as 6.12 runs it,
//!   with virtio-balloon as the device. Frees of `page_reporting_order` or
//!   more request a pass; the pass runs 2 s later on the simulated clock,
//!   takes unreported blocks off the lists 32 at a time, reports them and
//!   puts them back at the tail marked `PageReported`.
//! - **Seed 004's walk** ([`walk`]): `walk_free_mem_block()`, posted in
//!   2017 and never merged. It keeps no state: every walk reports every free
//!   block of `min_order` or more again.
//!
//! The host's side ([`host`]) is a bitmap of the guest pages it holds as
//! given back; a page leaves it when the guest writes it (allocates it).
//! From it come the figures both designs are compared on: pages reported,
//! report calls, and pages reported again although the host already had
//! them. [`timeline`] runs both designs over the same workload;
//! [`live_migration`] runs seed 004's purpose, a pre-copy live migration
//! that skips hinted pages.
//!
//! All state (the device's, the clock, the host bitmap) lives in the
//! store's counters, so traced reporting steps back and forth like the
//! rest of the allocator.

pub mod host;
pub mod live_migration;
pub mod mainline;
pub mod timeline;
pub mod walk;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::machine::Machine;

/// Which free page reporting runs on a machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportingPolicy {
    /// No reporting device: the kernel's default.
    #[default]
    Off,
    /// mm/page_reporting.c (5.7+, modelled at 6.12) with virtio-balloon.
    Mainline,
    /// Seed 004's `walk_free_mem_block()` (2017, not merged), called by
    /// the balloon driver every [`PAGE_REPORTING_DELAY_MS`].
    Walk,
}

impl ReportingPolicy {
    pub const ALL: [ReportingPolicy; 3] = [
        ReportingPolicy::Off,
        ReportingPolicy::Mainline,
        ReportingPolicy::Walk,
    ];

    /// The name scenarios, URLs and the command line use.
    pub const fn name(self) -> &'static str {
        match self {
            ReportingPolicy::Off => "off",
            ReportingPolicy::Mainline => "mainline",
            ReportingPolicy::Walk => "walk",
        }
    }
    /// What a menu shows.
    pub const fn label(self) -> &'static str {
        match self {
            ReportingPolicy::Off => "no free page reporting",
            ReportingPolicy::Mainline => "free page reporting (mainline, 6.12)",
            ReportingPolicy::Walk => "walk_free_mem_block (seed 004, 2017, not merged)",
        }
    }
    pub fn by_name(name: &str) -> Option<ReportingPolicy> {
        ReportingPolicy::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// `PAGE_REPORTING_CAPACITY`: blocks per report call.
pub const PAGE_REPORTING_CAPACITY: u64 = 32;
/// `PAGE_REPORTING_DELAY` (2 * HZ), in milliseconds.
pub const PAGE_REPORTING_DELAY_MS: i64 = 2000;

/// `enum { PAGE_REPORTING_IDLE, PAGE_REPORTING_REQUESTED, PAGE_REPORTING_ACTIVE }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportingState {
    Idle = 0,
    Requested = 1,
    Active = 2,
}

impl ReportingState {
    fn from_i64(v: i64) -> ReportingState {
        match v {
            1 => ReportingState::Requested,
            2 => ReportingState::Active,
            _ => ReportingState::Idle,
        }
    }
    pub const fn name(self) -> &'static str {
        match self {
            ReportingState::Idle => "PAGE_REPORTING_IDLE",
            ReportingState::Requested => "PAGE_REPORTING_REQUESTED",
            ReportingState::Active => "PAGE_REPORTING_ACTIVE",
        }
    }
}

/// The registered device: its policy and where its state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReportingDev {
    pub(crate) policy: ReportingPolicy,
    /// Index of the first of the device's counters in the store: the
    /// [`Slot`]s, then pages PageReported per zone, then the host bitmap.
    pub(crate) base: usize,
    /// Index of the host bitmap's first word.
    pub(crate) host_base: usize,
}

/// The device's counters, as offsets from [`ReportingDev::base`].
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    /// `page_reporting_order` (mainline) or the walk's `min_order`.
    Order = 0,
    /// `prdev->state`.
    State = 1,
    /// When the delayed work runs, in ms on the clock; -1 if not queued.
    Due = 2,
    /// The simulated clock, in ms.
    Clock = 3,
    /// Pages reported, all time.
    ReportedPages = 4,
    /// Report calls: `report()` batches (mainline) or callbacks (walk).
    ReportCalls = 5,
    /// Pages reported that the host already held as given back.
    Rereported = 6,
    /// Pages the host holds now.
    HostPages = 7,
    /// Reporting passes (`page_reporting_process` runs or walks).
    Passes = 8,
}
/// Counters before the host bitmap.
pub(crate) const NR_SLOTS: usize = 9;

/// What a front end shows of the reporting device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportingStatus {
    pub policy: ReportingPolicy,
    /// `page_reporting_order`, or the walk's `min_order`.
    pub order: u8,
    pub state: ReportingState,
    /// When the next pass runs, if one is queued.
    pub due_ms: Option<u64>,
    pub clock_ms: u64,
    pub reported_pages: u64,
    pub report_calls: u64,
    /// Pages reported again although the host already held them.
    pub rereported_pages: u64,
    /// Pages the host holds as given back now.
    pub host_pages: u64,
    pub passes: u64,
}

impl Machine {
    /// Registers a free page reporting device (`page_reporting_register()`
    /// for mainline; the 2017 balloon driver's periodic walk for seed 004).
    /// `order` is mainline's `page_reporting_order` (the module parameter;
    /// without it virtio-balloon's choice: 5 with 64 KiB pages, else
    /// pageblock_order) or the walk's `min_order` (the same default, so the
    /// two designs are compared on the same blocks). A machine registers once: to change the policy, rebuild it.
    pub fn page_reporting_register(
        &mut self,
        policy: ReportingPolicy,
        order: Option<u8>,
    ) -> Result<()> {
        if policy == ReportingPolicy::Off {
            return Ok(());
        }
        if let Some(dev) = &self.reporting {
            return Err(Error::BadRequest(format!(
                "a {} reporting device is already registered; rebuild the machine to change it",
                dev.policy.name()
            )));
        }
        // virtio-balloon asks for order 5 with 64 KiB pages and leaves the
        // default (pageblock_order) otherwise.
        let driver_order = if self.geo.page_shift == 16 {
            5
        } else {
            self.geo.pageblock_order
        };
        let order = order.unwrap_or(driver_order);
        if order > self.geo.max_order {
            return Err(Error::OrderTooLarge {
                order,
                max: self.geo.max_order,
            });
        }
        let words = self.store.nr_pages().div_ceil(64);
        let base = self
            .store
            .grow_counters(NR_SLOTS + self.zones.len() + words);
        self.reporting = Some(ReportingDev {
            policy,
            base,
            host_base: base + NR_SLOTS + self.zones.len(),
        });
        self.set_rp(Slot::Order, order as i64);
        self.set_rp(Slot::Due, -1);
        match policy {
            ReportingPolicy::Mainline => {
                self.enter(crate::trace::KernelFn::PageReportingRegister);
                self.note(crate::trace::StepKind::Action, None, || format!("virtio-balloon registered: page_reporting_order = {order}; an initial pass is requested"));
                // "begin initial flush of zones"
                self.__page_reporting_request();
                self.leave();
            }
            ReportingPolicy::Walk => {
                let now = self.rp(Slot::Clock);
                self.set_rp(Slot::Due, now + PAGE_REPORTING_DELAY_MS);
            }
            ReportingPolicy::Off => {}
        }
        Ok(())
    }

    /// The reporting device's state and figures, if one is registered.
    pub fn reporting_status(&self) -> Option<ReportingStatus> {
        let dev = self.reporting.as_ref()?;
        let due = self.rp(Slot::Due);
        Some(ReportingStatus {
            policy: dev.policy,
            order: self.rp(Slot::Order) as u8,
            state: ReportingState::from_i64(self.rp(Slot::State)),
            due_ms: (due >= 0).then_some(due as u64),
            clock_ms: self.rp(Slot::Clock) as u64,
            reported_pages: self.rp(Slot::ReportedPages) as u64,
            report_calls: self.rp(Slot::ReportCalls) as u64,
            rereported_pages: self.rp(Slot::Rereported) as u64,
            host_pages: self.rp(Slot::HostPages) as u64,
            passes: self.rp(Slot::Passes) as u64,
        })
    }

    /// Lets `ms` milliseconds pass on the simulated clock, running the
    /// reporting work whenever it falls due. Returns the passes run.
    pub fn advance_clock(&mut self, ms: u64) -> u32 {
        let Some(policy) = self.reporting.as_ref().map(|d| d.policy) else {
            return 0;
        };
        let end = self.rp(Slot::Clock).saturating_add(ms as i64);
        let mut passes = 0;
        loop {
            let due = self.rp(Slot::Due);
            if due < 0 || due > end {
                break;
            }
            self.set_rp(Slot::Clock, due);
            self.set_rp(Slot::Due, -1);
            match policy {
                ReportingPolicy::Mainline => self.page_reporting_process(),
                ReportingPolicy::Walk => {
                    self.virtio_balloon_walk_report(self.rp(Slot::Order) as u8, true)
                }
                ReportingPolicy::Off => {}
            }
            passes += 1;
        }
        self.set_rp(Slot::Clock, end);
        passes
    }

    /// Seed 004's walk run once now, each block reported to the host
    /// through the registered balloon device. Registering is part of
    /// building a machine (it sizes the store), never of a traced step, so
    /// a machine without a device refuses.
    pub fn free_page_hint_walk(&mut self, min_order: u8) -> Result<ReportingStatus> {
        if min_order > self.geo.max_order {
            return Err(Error::OrderTooLarge {
                order: min_order,
                max: self.geo.max_order,
            });
        }
        if self.reporting.is_none() {
            return Err(Error::BadRequest("seed 004's walk reports to a balloon device, and this machine has none: choose a reporting policy (walk or mainline)".into()));
        }
        self.virtio_balloon_walk_report(min_order, false);
        Ok(self.reporting_status().expect("registered"))
    }

    /// Pages in PageReported blocks in a zone. The kernel keeps no such
    /// counter; pfnscope counts them for the zone panel.
    pub fn zone_reported_pages(&self, zi: usize) -> u64 {
        self.reporting
            .as_ref()
            .map_or(0, |d| self.store.counter(d.base + NR_SLOTS + zi) as u64)
    }

    /// A free block's `PageReported` changed (set in the drain, cleared
    /// when it leaves the free list).
    #[inline]
    pub(crate) fn count_reported(&mut self, zi: usize, order: u8, set: bool) {
        if let Some(d) = &self.reporting {
            let i = d.base + NR_SLOTS + zi;
            self.store
                .add_counter(i, if set { 1i64 << order } else { -(1i64 << order) });
        }
    }

    /// A copy of this machine with no reporting device: PageReported
    /// cleared and the device forgotten, so another policy can be
    /// registered on the same memory (the comparisons start from it).
    pub fn without_reporting(&self) -> Machine {
        let mut m = self.clone();
        m.forget_journal();
        if m.reporting.is_some() {
            let was = m.store.journaling();
            m.store.set_journaling(false);
            for i in 0..m.store.nr_pages() {
                let w = m.store.page(i);
                if w.reported() {
                    m.store.set_page(i, w.with_reported(false));
                }
            }
            m.store.set_journaling(was);
            m.reporting = None;
        }
        m
    }

    #[inline]
    pub(crate) fn rp(&self, s: Slot) -> i64 {
        self.reporting
            .as_ref()
            .map_or(0, |d| self.store.counter(d.base + s as usize))
    }
    #[inline]
    pub(crate) fn set_rp(&mut self, s: Slot, v: i64) {
        if let Some(d) = &self.reporting {
            let i = d.base + s as usize;
            self.store.set_counter(i, v);
        }
    }
    #[inline]
    pub(crate) fn add_rp(&mut self, s: Slot, v: i64) {
        if let Some(d) = &self.reporting {
            let i = d.base + s as usize;
            self.store.add_counter(i, v);
        }
    }

    /// Where the guest wrote `[pfn, pfn + nr)`: a page handed out for use.
    /// The host must back it again, and a running live migration's dirty
    /// log records it. Not a kernel function: the hypervisor sees the
    /// write fault.
    #[inline]
    pub(crate) fn guest_write(&mut self, pfn: u64, nr: u64) {
        if let Some(log) = &mut self.write_log {
            log.push(crate::geometry::PfnRange::new(pfn, pfn + nr));
        }
        if self.reporting.is_some() {
            self.host_reclaim(pfn, nr);
        }
    }
}
