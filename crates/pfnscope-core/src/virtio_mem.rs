//! virtio-mem in Sub Block Mode (drivers/virtio/virtio_mem.c, v6.12; seed
//! 000 for its 2019 origin). The device hands memory to the guest or takes
//! it back in subblocks. To unplug, the driver allocates the subblock with
//! `alloc_contig_range()` and marks its pages PageOffline ("fake offline");
//! to plug, it clears PageOffline and frees them.
//!
//! A subblock's state is read off its pages (all PageOffline means
//! unplugged), so it steps back with a trace like everything else.
//! Simplified: one Linux memory block per device; unplug walks subblocks
//! from the end, plug from the start.

use serde::{Deserialize, Serialize};

use crate::contig::ContigError;
use crate::error::Errno;
use crate::geometry::{PfnRange, VirtioMemSpec, ZoneType};
use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::page::{InUse, PageKind, PageWord};
use crate::trace::{KernelFn, StepKind};

/// Tries of `alloc_contig_range()` per subblock in ZONE_MOVABLE (6.12);
/// kernel zones get one.
pub const FAKE_OFFLINE_MOVABLE_TRIES: u32 = 5;

/// What a plug or unplug request did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtioMemReport {
    /// Subblocks whose state changed, by index.
    pub done: Vec<usize>,
    /// Subblocks that could not be unplugged, with the reason.
    pub failed: Vec<(usize, String)>,
}

impl Machine {
    /// Whether a virtio-mem device manages `pfn`.
    pub(crate) fn virtio_mem_owns(&self, pfn: u64) -> bool {
        self.spec.virtio_mem.iter().any(|d| d.range.contains(pfn))
    }

    /// The virtio-mem devices.
    pub fn virtio_mem_devices(&self) -> &[VirtioMemSpec] {
        &self.spec.virtio_mem
    }

    fn vmem(&self, dev: usize) -> Result<VirtioMemSpec, ContigError> {
        self.spec.virtio_mem.get(dev).cloned().ok_or_else(|| ContigError { errno: Errno::EINVAL, pfn: None, reason: format!("no virtio-mem device {dev}") })
    }

    /// The subblocks of a device and whether each is plugged.
    pub fn virtio_mem_subblocks(&self, dev: usize) -> Vec<(PfnRange, bool)> {
        let Some(d) = self.spec.virtio_mem.get(dev) else { return Vec::new() };
        (d.range.start..d.range.end)
            .step_by(d.subblock_pages as usize)
            .map(|s| {
                let r = PfnRange::new(s, s + d.subblock_pages);
                let unplugged = (r.start..r.end).all(|p| self.page(p).as_in_use().is_some_and(|u| u.kind == PageKind::Offline));
                (r, !unplugged)
            })
            .collect()
    }

    /// `virtio_mem_fake_offline()` (v6.12): take the subblock with
    /// `alloc_contig_range(MOVABLE)`, five tries in ZONE_MOVABLE, one in a
    /// kernel zone, -ENOMEM at once; then mark the pages PageOffline.
    fn virtio_mem_fake_offline(&mut self, r: PfnRange) -> Result<(), ContigError> {
        self.enter(KernelFn::VirtioMemFakeOffline);
        let movable = self.zone_of(r.start).is_some_and(|zi| self.zones[zi].zone_type == ZoneType::Movable);
        let tries = if movable { FAKE_OFFLINE_MOVABLE_TRIES } else { 1 };
        let mut last = None;
        for t in 0..tries {
            match self.alloc_contig_range(r.start, r.end, MigrateType::Movable, false) {
                Ok(_) => {
                    for p in r.start..r.end {
                        let u = self.page(p).as_in_use().expect("just allocated");
                        self.set_page(p, PageWord::in_use(InUse { kind: PageKind::Offline, ..u }));
                    }
                    self.note(StepKind::Action, Some(r), || format!("subblock {:#x}-{:#x} fake-offlined (PageOffline)", r.start, r.end));
                    self.leave();
                    return Ok(());
                }
                Err(e) if e.errno == Errno::ENOMEM => {
                    self.leave();
                    return Err(e);
                }
                Err(e) => {
                    let n = t + 1;
                    self.note(StepKind::Failure, Some(r), || format!("try {n} of {tries}: {e}"));
                    last = Some(e);
                }
            }
        }
        self.leave();
        Err(last.map(|e| ContigError { errno: Errno::EBUSY, ..e }).expect("at least one try"))
    }

    /// `virtio_mem_sbm_unplug_request()`: unplug up to `count` plugged
    /// subblocks, last first; a busy one is skipped. A request for at least
    /// the whole (fully plugged) memory block first tries all of it at once.
    pub fn virtio_mem_unplug(&mut self, dev: usize, count: usize) -> Result<VirtioMemReport, ContigError> {
        let d = self.vmem(dev)?;
        self.enter(KernelFn::VirtioMemSbmUnplugRequest);
        self.note(StepKind::Action, Some(d.range), || format!("{}: unplug request for {count} subblock(s)", d.name));
        let mut report = VirtioMemReport::default();
        let subblocks = self.virtio_mem_subblocks(dev);
        // virtio_mem_sbm_unplug_any_sb_online(): when the request covers the
        // whole memory block and all of it is plugged, try it in one shot.
        let whole = count >= subblocks.len() && subblocks.iter().all(|s| s.1);
        if whole {
            self.note(StepKind::Decision, Some(d.range), || format!("the request covers all {} subblocks: try the whole memory block in one shot", subblocks.len()));
            match self.virtio_mem_fake_offline(d.range) {
                Ok(()) => {
                    report.done = (0..subblocks.len()).rev().collect();
                    let n = report.done.len();
                    self.note(StepKind::Action, Some(d.range), || format!("device unplugged the whole block ({n} subblocks)"));
                    self.leave();
                    return Ok(report);
                }
                Err(e) if e.errno == Errno::ENOMEM => {
                    report.failed.push((subblocks.len() - 1, e.to_string()));
                    self.leave();
                    return Ok(report);
                }
                Err(_) => self.note(StepKind::Decision, Some(d.range), || "the whole block is busy: fall back to single subblocks".into()),
            }
        }
        for (i, (r, plugged)) in subblocks.into_iter().enumerate().rev() {
            if report.done.len() == count {
                break;
            }
            if !plugged {
                continue;
            }
            match self.virtio_mem_fake_offline(r) {
                Ok(()) => {
                    report.done.push(i);
                    self.note(StepKind::Action, Some(r), || format!("device unplugged subblock {i}"));
                }
                Err(e) if e.errno == Errno::ENOMEM => {
                    report.failed.push((i, e.to_string()));
                    break;
                }
                Err(e) => report.failed.push((i, e.to_string())),
            }
        }
        let (n, f) = (report.done.len(), report.failed.len());
        self.note(if n < count { StepKind::Failure } else { StepKind::Action }, Some(d.range), || {
            format!("unplugged {n} of {count} subblock(s); {f} busy")
        });
        self.leave();
        Ok(report)
    }

    /// `virtio_mem_sbm_plug_request()`: plug up to `count` unplugged
    /// subblocks, first first: the device plugs them, then
    /// `virtio_mem_fake_online()` clears PageOffline and frees the pages
    /// with `free_contig_range()`.
    pub fn virtio_mem_plug(&mut self, dev: usize, count: usize) -> Result<VirtioMemReport, ContigError> {
        let d = self.vmem(dev)?;
        self.enter(KernelFn::VirtioMemSbmPlugRequest);
        self.note(StepKind::Action, Some(d.range), || format!("{}: plug request for {count} subblock(s)", d.name));
        let mut report = VirtioMemReport::default();
        for (i, (r, plugged)) in self.virtio_mem_subblocks(dev).into_iter().enumerate() {
            if report.done.len() == count {
                break;
            }
            if plugged {
                continue;
            }
            self.enter(KernelFn::VirtioMemFakeOnline);
            for p in r.start..r.end {
                let u = self.page(p).as_in_use().expect("offline page");
                self.set_page(p, PageWord::in_use(InUse { kind: PageKind::Contig, refcount: 1, ..u }));
            }
            self.free_contig_range(r.start, r.len())?;
            self.note(StepKind::Action, Some(r), || format!("subblock {i} plugged and its pages freed"));
            self.leave();
            report.done.push(i);
        }
        self.leave();
        Ok(report)
    }
}
