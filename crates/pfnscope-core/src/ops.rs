//! Operations as data: what a scenario sets up and plays, what the UI's
//! forms and the command line run. Each runs on a machine and reports in a
//! sentence; [`Op::run`] is the one place that dispatches them.

use serde::{Deserialize, Serialize};

use crate::alloc::Gfp;
use crate::machine::Machine;
use crate::migratetype::MigrateType;
use crate::page::{PageFlags, PageKind};

/// The most workload steps one [`Op::Age`] runs: each is traced.
pub const MAX_AGE_STEPS: u64 = 20_000;
/// The longest one [`Op::Wait`] lets pass: an hour.
pub const MAX_WAIT_MS: u64 = 3_600_000;

/// An operation on the machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// `alloc_pages()` with a named GFP mask.
    AllocPages { gfp: String, order: u8, kind: PageKind },
    /// `__free_pages()`.
    FreePages { pfn: u64, order: u8 },
    /// An allocation placed at a PFN, as if the allocator had picked that
    /// free block: a scenario's explicit page ("slab at 0x2100"). LRU
    /// kinds go straight onto the LRU, or with `lru_batch` wait in this
    /// CPU's LRU batch (`folio_add_lru()` before the batch is drained).
    PlacePage { pfn: u64, order: u8, kind: PageKind, #[serde(default, skip_serializing_if = "is_false")] lru_batch: bool },
    /// `alloc_contig_range()` (6.12), MIGRATE_CMA if `cma`.
    AllocContigRange { start: u64, end: u64, #[serde(default)] cma: bool },
    /// `free_contig_range()`.
    FreeContigRange { pfn: u64, nr: u64 },
    /// `alloc_contig_pages()` with GFP_KERNEL.
    AllocContigPages { nr: u64 },
    /// `cma_alloc()` on an area by index.
    CmaAlloc { area: usize, count: u64, align: u8 },
    /// `cma_release()`.
    CmaRelease { area: usize, pfn: u64, count: u64 },
    VirtioMemUnplug { device: usize, subblocks: usize },
    VirtioMemPlug { device: usize, subblocks: usize },
    /// `offline_pages()` with pfnscope's budget of rounds (the kernel has
    /// none).
    OfflinePages { start: u64, nr: u64, budget: u32 },
    OnlinePages { start: u64, nr: u64 },
    /// Seed 001's `alloc_contig_range()` as v4.9 ran it.
    AllocContigRangeV4 { start: u64, end: u64 },
    /// Seed 002's 2010 `alloc_contig_pages()`.
    AllocContigPages2010 { hint: u64, nr: u64 },
    /// `drain_all_pages()` and `lru_add_drain_all()`.
    Drain,
    /// Runs more steps of a workload preset on the current machine.
    Age { workload: String, seed: u64, steps: u64 },
    /// Lets simulated time pass: queued free page reporting work runs.
    Wait { ms: u64 },
    /// Seed 004's `walk_free_mem_block()` once, every block to the host.
    WalkFreeMemBlock { min_order: u8 },
    /// One pass of seed 003's `kmempowerd`: evacuate regions at most this
    /// percent used.
    Kmempowerd { max_used_pct: u8 },
    /// Pins (short-term unless `longterm`) the first LRU page in a range:
    /// "an O_DIRECT read in flight here".
    PinFirstIn { start: u64, end: u64, #[serde(default)] longterm: bool },
    /// Pins the page at a PFN (`pin_user_pages()`, FOLL_LONGTERM if
    /// `longterm`).
    PinPage { pfn: u64, #[serde(default)] longterm: bool },
    /// Marks an allocated page dirty, under writeback or locked.
    SetPageFlags { pfn: u64, flags: PageFlags },
    /// Runs the operations that follow on this CPU: its per-cpu lists and
    /// LRU batch are the ones they use.
    OnCpu { cpu: u8 },
    /// `start_isolate_page_range()` (MIGRATE_MOVABLE) left in place, as a
    /// contiguous allocation still in progress on another CPU leaves it.
    StartIsolatePageRange { start: u64, end: u64 },
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Op {
    /// A short title, as a call.
    pub fn title(&self) -> String {
        match self {
            Op::AllocPages { gfp, order, kind } => format!("alloc_pages({gfp}, order={order}) for {}", kind.label()),
            Op::FreePages { pfn, order } => format!("__free_pages({pfn:#x}, order={order})"),
            Op::AllocContigRange { start, end, cma } => format!("alloc_contig_range({start:#x}, {end:#x}, {})", if *cma { "MIGRATE_CMA" } else { "MIGRATE_MOVABLE" }),
            Op::FreeContigRange { pfn, nr } => format!("free_contig_range({pfn:#x}, {nr})"),
            Op::PlacePage { pfn, order, kind, lru_batch } => format!("place an order-{order} {} page at {pfn:#x}{}", kind.label(), if *lru_batch { ", still in the LRU batch" } else { "" }),
            Op::AllocContigPages { nr } => format!("alloc_contig_pages({nr}, GFP_KERNEL)"),
            Op::CmaAlloc { area, count, align } => format!("cma_alloc(area {area}, count={count}, align={align})"),
            Op::CmaRelease { area, pfn, count } => format!("cma_release(area {area}, {pfn:#x}, {count})"),
            Op::VirtioMemUnplug { device, subblocks } => format!("virtio-mem{device}: unplug {subblocks} subblock(s)"),
            Op::VirtioMemPlug { device, subblocks } => format!("virtio-mem{device}: plug {subblocks} subblock(s)"),
            Op::OfflinePages { start, nr, budget } => format!("offline_pages({start:#x}, {nr}), pfnscope budget {budget} rounds"),
            Op::OnlinePages { start, nr } => format!("online_pages({start:#x}, {nr})"),
            Op::AllocContigRangeV4 { start, end } => format!("v4.9 alloc_contig_range({start:#x}, {end:#x}) (seed 001)"),
            Op::AllocContigPages2010 { hint, nr } => format!("2010 alloc_contig_pages(hint {hint:#x}, {nr} pages)"),
            Op::Drain => "drain_all_pages() + lru_add_drain_all()".into(),
            Op::Age { workload, seed, steps } => format!("{steps} steps of the {workload} workload (seed {seed})"),
            Op::Wait { ms } => format!("wait {ms} ms"),
            Op::Kmempowerd { max_used_pct } => format!("kmempowerd: evacuate regions at most {max_used_pct}% used (seed 003)"),
            Op::WalkFreeMemBlock { min_order } => format!("walk_free_mem_block(min_order={min_order}) (seed 004)"),
            Op::PinFirstIn { start, end, longterm } => format!("pin the first LRU page in {start:#x}-{end:#x}{}", if *longterm { " (FOLL_LONGTERM)" } else { "" }),
            Op::PinPage { pfn, longterm } => format!("pin_user_pages({pfn:#x}){}", if *longterm { " with FOLL_LONGTERM" } else { "" }),
            Op::SetPageFlags { pfn, flags } => format!("set {} on {pfn:#x}", crate::scenario::words::flag_words(*flags).join(", ")),
            Op::OnCpu { cpu } => format!("run on CPU {cpu}"),
            Op::StartIsolatePageRange { start, end } => format!("start_isolate_page_range({start:#x}, {end:#x}) left in place"),
        }
    }

    /// Runs the operation; `Ok` and `Err` both carry a sentence.
    pub fn run(&self, m: &mut Machine) -> Result<String, String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        match self {
            Op::AllocPages { gfp, order, kind } => {
                let g = Gfp::by_name(gfp).ok_or_else(|| format!("unknown GFP mask {gfp:?}"))?;
                m.alloc_pages(g, *order, *kind).map(|p| format!("got an order-{order} block at {p:#x}")).map_err(|x| e(&x))
            }
            Op::FreePages { pfn, order } => m.free_pages(*pfn, *order).map(|_| format!("freed {pfn:#x}")).map_err(|x| e(&x)),
            Op::AllocContigRange { start, end, cma } => {
                let mt = if *cma { MigrateType::Cma } else { MigrateType::Movable };
                m.alloc_contig_range(*start, *end, mt, false)
                    .map(|s| format!("took {:#x}-{end:#x}: {} folio(s) migrated, {} reclaimed", start, s.migration.migrated, s.migration.reclaimed))
                    .map_err(|x| e(&x))
            }
            Op::FreeContigRange { pfn, nr } => m.free_contig_range(*pfn, *nr).map(|()| format!("freed {nr} pages at {pfn:#x}")).map_err(|x| e(&x)),
            Op::PlacePage { pfn, order, kind, lru_batch } => {
                m.alloc_pages_at(*pfn, *order, *kind).map_err(|x| e(&x))?;
                if kind.is_lru() && !*lru_batch {
                    m.lru_add_drain_all();
                }
                Ok(format!("an order-{order} {} page sits at {pfn:#x}", kind.label()))
            }
            Op::AllocContigPages { nr } => m
                .alloc_contig_pages(*nr, Gfp::KERNEL)
                .map(|(p, s)| format!("took {nr} pages at {p:#x} after {} window(s), {} folio(s) migrated", s.attempts, s.migration.migrated))
                .map_err(|x| e(&x)),
            Op::CmaAlloc { area, count, align } => m
                .cma_alloc(*area, *count, *align)
                .map(|(p, s)| format!("CMA gave {count} pages at {p:#x}; {} folio(s) migrated", s.migration.migrated))
                .map_err(|x| e(&x)),
            Op::CmaRelease { area, pfn, count } => m.cma_release(*area, *pfn, *count).map(|()| format!("released {count} pages")).map_err(|x| e(&x)),
            Op::VirtioMemUnplug { device, subblocks } => m
                .virtio_mem_unplug(*device, *subblocks)
                .map(|r| format!("unplugged {} of {subblocks} subblock(s); {} busy", r.done.len(), r.failed.len()))
                .map_err(|x| e(&x)),
            Op::VirtioMemPlug { device, subblocks } => m
                .virtio_mem_plug(*device, *subblocks)
                .map(|r| format!("plugged {} subblock(s)", r.done.len()))
                .map_err(|x| e(&x)),
            Op::OfflinePages { start, nr, budget } => m
                .offline_pages(*start, *nr, *budget)
                .map(|s| format!("offlined {nr} pages in {} round(s)", s.rounds))
                .map_err(|x| e(&x)),
            Op::OnlinePages { start, nr } => m.online_pages(*start, *nr).map(|()| format!("onlined {nr} pages")).map_err(|x| e(&x)),
            Op::AllocContigRangeV4 { start, end } => m
                .alloc_contig_range_v4(*start, *end, MigrateType::Movable)
                .map(|s| format!("v4.9 took {start:#x}-{end:#x}; {} folio(s) migrated", s.migration.migrated))
                .map_err(|x| e(&x)),
            Op::AllocContigPages2010 { hint, nr } => m
                .alloc_contig_pages_2010(*hint, *nr)
                .map(|(p, s)| format!("2010 RFC took a window at {p:#x} after {} attempt(s)", s.attempts))
                .map_err(|x| e(&x)),
            Op::Drain => {
                m.drain_all_pages(None);
                m.lru_add_drain_all();
                Ok("drained".into())
            }
            Op::Age { workload, seed, steps } => {
                if *steps > MAX_AGE_STEPS {
                    return Err(format!("at most {MAX_AGE_STEPS} workload steps at a time (each is traced), not {steps}"));
                }
                let spec = crate::workload::WorkloadSpec::named(workload).map_err(|e| e.to_string())?;
                let mut w = crate::workload::Workload::new(spec, *seed).map_err(|e| e.to_string())?;
                w.run(m, *steps, |_| {});
                Ok(format!("ran {steps} steps of {workload}; {} allocation(s) still held by it", w.live().len()))
            }
            Op::Wait { ms } => {
                if *ms > MAX_WAIT_MS {
                    return Err(format!("at most {MAX_WAIT_MS} ms at a time, not {ms}"));
                }
                let passes = m.advance_clock(*ms);
                Ok(match m.reporting_status() {
                    None => format!("{ms} ms passed; no reporting device, so nothing was queued"),
                    Some(s) => format!("{ms} ms passed (t = {} ms): {passes} reporting pass(es); the host holds {} pages", s.clock_ms, s.host_pages),
                })
            }
            Op::Kmempowerd { max_used_pct } => {
                if !m.region_allocator_on() {
                    return Err("kmempowerd belongs to the region allocator: choose allocator = regions".into());
                }
                let s = m.kmempowerd(*max_used_pct);
                let (free, all) = m.powerable_regions();
                Ok(format!("tried {} region(s): {} emptied, {} refused, {} folio(s) migrated; {free} of {all} regions could be powered down", s.tried, s.emptied, s.refused, s.migrated))
            }
            Op::WalkFreeMemBlock { min_order } => m
                .free_page_hint_walk(*min_order)
                .map(|s| format!("reported free blocks of order {min_order} or more; the host holds {} pages", s.host_pages))
                .map_err(|x| e(&x)),
            Op::PinFirstIn { start, end, longterm } => {
                let lru = (*start..*end).find(|&p| m.page(p).as_in_use().is_some_and(|u| u.kind.is_lru() && !u.flags.contains(crate::page::PageFlags::TAIL)));
                let pfn = lru.ok_or_else(|| format!("no LRU page in {start:#x}-{end:#x} to pin"))?;
                m.pin_user_page(pfn, *longterm).map(|at| format!("pinned {at:#x}")).map_err(|x| e(&x))
            }
            Op::PinPage { pfn, longterm } => m.pin_user_page(*pfn, *longterm).map(|at| format!("pinned {at:#x}")).map_err(|x| e(&x)),
            Op::SetPageFlags { pfn, flags } => m.set_page_flags(*pfn, *flags, PageFlags::empty()).map(|()| format!("{pfn:#x} is now {}", crate::scenario::words::flag_words(*flags).join(", "))).map_err(|x| e(&x)),
            Op::OnCpu { cpu } => m.set_cpu(*cpu).map(|()| format!("CPU {cpu} runs what follows")).map_err(|x| e(&x)),
            Op::StartIsolatePageRange { start, end } => m
                .start_isolate_page_range(*start, *end, MigrateType::Movable, crate::isolation::IsolFlags::default())
                .map(|()| format!("{start:#x}-{end:#x} is isolated, as by a contiguous allocation in progress"))
                .map_err(|f| format!("-EBUSY (-16): isolation failed at {:#x}", f.pfn)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::MachineSpec;

    #[test]
    fn ops_round_trip_through_json_and_unknown_fields_are_refused() {
        let op = Op::AllocContigRange { start: 0x3400, end: 0x3600, cma: false };
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(text, r#"{"op":"alloc_contig_range","start":13312,"end":13824,"cma":false}"#);
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
        assert!(serde_json::from_str::<Op>(r#"{"op":"alloc_contig_range","start":1,"end":2,"colour":3}"#).is_err());
        assert!(serde_json::from_str::<Op>(r#"{"op":"reboot"}"#).is_err());
    }

    #[test]
    fn every_op_reports_in_a_sentence_and_errors_do_not_panic() {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let ops = [
            Op::AllocPages { gfp: "GFP_KERNEL".into(), order: 2, kind: PageKind::Kernel },
            Op::AllocPages { gfp: "GFP_NONSENSE".into(), order: 2, kind: PageKind::Kernel },
            Op::FreePages { pfn: 0x1, order: 0 },
            Op::AllocContigRange { start: 0x2000, end: 0x2200, cma: false },
            Op::FreeContigRange { pfn: 0x2000, nr: 0x200 },
            Op::PlacePage { pfn: 0x2810, order: 0, kind: PageKind::Anon, lru_batch: false },
            Op::PlacePage { pfn: 0x2810, order: 0, kind: PageKind::Anon, lru_batch: false },
            Op::AllocContigPages { nr: 512 },
            Op::CmaAlloc { area: 0, count: 64, align: 4 },
            Op::CmaRelease { area: 0, pfn: 0x9999, count: 1 },
            Op::VirtioMemUnplug { device: 1, subblocks: 1 },
            Op::VirtioMemPlug { device: 1, subblocks: 1 },
            Op::OfflinePages { start: 0x3400, nr: 0x200, budget: 3 },
            Op::OnlinePages { start: 0x3400, nr: 0x200 },
            Op::AllocContigRangeV4 { start: 0x2400, end: 0x2600 },
            Op::AllocContigPages2010 { hint: 0, nr: 100 },
            Op::Drain,
            Op::Wait { ms: 2000 },
            Op::WalkFreeMemBlock { min_order: 9 },
            Op::Wait { ms: 2000 },
            Op::WalkFreeMemBlock { min_order: 99 },
            Op::Kmempowerd { max_used_pct: 50 },
            Op::PinFirstIn { start: 0x0, end: 0x10, longterm: false },
            Op::Age { workload: "vm-host".into(), seed: 1, steps: 300 },
            Op::Age { workload: "nope".into(), seed: 1, steps: 300 },
            Op::Age { workload: "desktop".into(), seed: 1, steps: 1_000_000 },
        ];
        let mut oks = 0;
        for op in &ops {
            let r = op.run(&mut m);
            assert!(!op.title().is_empty());
            assert!(!r.clone().unwrap_or_else(|e| e).is_empty());
            oks += usize::from(r.is_ok());
            m.check_quiescent().unwrap();
        }
        assert!(oks >= 10, "{oks} succeeded");
    }
}
