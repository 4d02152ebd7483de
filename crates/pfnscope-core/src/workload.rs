//! Seeded workloads that age a machine into realistic fragmentation.
//!
//! A workload is a mix of allocation kinds (anon, page cache, slab, page
//! tables, THP...) and a target fill. Each step allocates while memory is
//! below the target and otherwise frees a random live allocation, on a
//! random CPU: long-lived kernel memory ends up scattered among short-lived
//! user memory, as on a real machine. The RNG is ChaCha8 seeded from a
//! `u64`, so a preset and seed give the same machine natively and in wasm.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::alloc::Gfp;
use crate::error::{Error, Result};
use crate::machine::Machine;
use crate::page::{PageFlags, PageKind, PageWord};

/// One line of a workload's mix: how often, what, how big.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixEntry {
    /// Relative weight.
    pub weight: u32,
    pub kind: PageKind,
    pub gfp: Gfp,
    /// Orders drawn uniformly from `min_order..=max_order`.
    pub min_order: u8,
    pub max_order: u8,
    /// Percent of allocations that are dirty (page cache) or pinned.
    pub dirty_pct: u8,
    pub pin_pct: u8,
    /// Percent chance that a free aimed at this kind happens (long-lived
    /// kernel memory is rarely freed).
    pub free_pct: u8,
}

const fn mix(weight: u32, kind: PageKind, gfp: Gfp, min_order: u8, max_order: u8, free_pct: u8) -> MixEntry {
    MixEntry { weight, kind, gfp, min_order, max_order, dirty_pct: 0, pin_pct: 0, free_pct }
}

/// A named workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    pub name: String,
    pub description: String,
    /// Percent of managed memory to keep allocated.
    pub target_fill_pct: u8,
    pub mix: Vec<MixEntry>,
}

impl WorkloadSpec {
    /// A desktop after a day: anon and page cache churn, some THP, slab and
    /// page tables scattered among them.
    pub fn desktop() -> WorkloadSpec {
        WorkloadSpec {
            name: "desktop".into(),
            description: "a desktop after a day: browser anon memory, page cache, some THP, slab and page tables".into(),
            target_fill_pct: 75,
            mix: vec![
                mix(40, PageKind::Anon, Gfp::HIGHUSER_MOVABLE, 0, 0, 100),
                MixEntry { dirty_pct: 20, ..mix(28, PageKind::File, Gfp::HIGHUSER_MOVABLE, 0, 0, 100) },
                mix(2, PageKind::Anon, Gfp::HIGHUSER_MOVABLE, 9, 9, 100),
                mix(8, PageKind::SlabUnmovable, Gfp::KERNEL, 0, 3, 30),
                mix(8, PageKind::SlabReclaimable, Gfp::KERNEL_RECLAIMABLE, 0, 1, 50),
                mix(6, PageKind::PageTable, Gfp::KERNEL, 0, 0, 60),
                mix(6, PageKind::Kernel, Gfp::KERNEL, 0, 2, 40),
                MixEntry { pin_pct: 5, ..mix(2, PageKind::Anon, Gfp::HIGHUSER_MOVABLE, 0, 0, 100) },
            ],
        }
    }

    /// A file server: a big page cache and many dentries and inodes.
    pub fn file_server() -> WorkloadSpec {
        WorkloadSpec {
            name: "file-server".into(),
            description: "a file server: a big page cache, dentry and inode slab, little anon memory".into(),
            target_fill_pct: 90,
            mix: vec![
                MixEntry { dirty_pct: 10, ..mix(60, PageKind::File, Gfp::HIGHUSER_MOVABLE, 0, 0, 100) },
                mix(20, PageKind::SlabReclaimable, Gfp::KERNEL_RECLAIMABLE, 0, 1, 40),
                mix(8, PageKind::Anon, Gfp::HIGHUSER_MOVABLE, 0, 0, 100),
                mix(6, PageKind::SlabUnmovable, Gfp::KERNEL, 0, 2, 30),
                mix(6, PageKind::Kernel, Gfp::KERNEL, 0, 1, 40),
            ],
        }
    }

    /// A VM host: guests backed by THP, long-term pinned pages for device
    /// assignment, page tables and some page cache.
    pub fn vm_host() -> WorkloadSpec {
        WorkloadSpec {
            name: "vm-host".into(),
            description: "a VM host: THP-backed guests, pinned pages for device assignment, page tables".into(),
            target_fill_pct: 80,
            mix: vec![
                mix(30, PageKind::Anon, Gfp::HIGHUSER_MOVABLE, 9, 9, 100),
                MixEntry { pin_pct: 10, ..mix(20, PageKind::Anon, Gfp::HIGHUSER_MOVABLE, 0, 0, 100) },
                mix(15, PageKind::File, Gfp::HIGHUSER_MOVABLE, 0, 0, 100),
                mix(12, PageKind::PageTable, Gfp::KERNEL, 0, 0, 50),
                mix(10, PageKind::Kernel, Gfp::KERNEL, 0, 3, 40),
                mix(8, PageKind::SlabUnmovable, Gfp::KERNEL, 0, 2, 30),
                mix(5, PageKind::MovableOps, Gfp::HIGHUSER_MOVABLE, 0, 0, 100),
            ],
        }
    }

    pub fn preset(name: &str) -> Option<WorkloadSpec> {
        match name {
            "desktop" => Some(WorkloadSpec::desktop()),
            "file-server" => Some(WorkloadSpec::file_server()),
            "vm-host" => Some(WorkloadSpec::vm_host()),
            _ => None,
        }
    }

    pub const PRESETS: [&'static str; 3] = ["desktop", "file-server", "vm-host"];

    /// A preset by name, or an error that lists them.
    pub fn named(name: &str) -> Result<WorkloadSpec> {
        WorkloadSpec::preset(name).ok_or_else(|| Error::BadMachine(format!("unknown workload {name:?}; choose one of {}", WorkloadSpec::PRESETS.join(", "))))
    }
}

/// What one workload step did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadOp {
    Alloc { cpu: u8, pfn: u64, order: u8, kind: PageKind },
    AllocFailed { cpu: u8, order: u8, kind: PageKind },
    Free { cpu: u8, pfn: u64, order: u8 },
    /// Nothing to do this step (a free aimed at long-lived memory passed).
    Idle,
}

/// A running workload: its spec, RNG and live allocations.
#[derive(Clone, Debug)]
pub struct Workload {
    spec: WorkloadSpec,
    rng: ChaCha8Rng,
    live: Vec<(u64, u8, u8)>,
    total_weight: u32,
}

impl Workload {
    pub fn new(spec: WorkloadSpec, seed: u64) -> Result<Workload> {
        let total_weight = spec.mix.iter().map(|e| e.weight).sum();
        if total_weight == 0 {
            return Err(Error::BadMachine(format!("workload {} has an empty mix", spec.name)));
        }
        if spec.mix.iter().any(|e| e.min_order > e.max_order) {
            return Err(Error::BadMachine(format!("workload {} has an order range upside down", spec.name)));
        }
        Ok(Workload { spec, rng: ChaCha8Rng::seed_from_u64(seed), live: Vec::new(), total_weight })
    }

    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }
    /// Changes the fill the workload aims for from its next step: a load
    /// that rises and then ends.
    pub fn set_target_fill_pct(&mut self, pct: u8) {
        self.spec.target_fill_pct = pct.min(100);
    }
    /// Live allocations: `(pfn, order, mix index)`.
    pub fn live(&self) -> &[(u64, u8, u8)] {
        &self.live
    }

    fn used_pct(m: &Machine) -> u64 {
        let managed: u64 = m.zones().iter().map(|z| z.managed_pages).sum();
        let free: i64 = (0..m.zones().len()).map(|zi| m.zone_free_pages(zi)).sum();
        100 - (free.max(0) as u64 * 100 / managed.max(1))
    }

    /// Follows pages the kernel migrated since the last step.
    pub fn follow_migrations(&mut self, m: &mut Machine) {
        for (old, new) in m.take_migrations() {
            if let Some(i) = self.live.iter().position(|e| e.0 == old) {
                match new {
                    Some(new) => self.live[i].0 = new,
                    None => {
                        self.live.swap_remove(i);
                    }
                }
            }
        }
    }

    /// One step on a random CPU.
    pub fn step(&mut self, m: &mut Machine) -> WorkloadOp {
        self.follow_migrations(m);
        let cpu = self.rng.random_range(0..m.nr_cpus());
        m.set_cpu(cpu).expect("cpu drawn below nr_cpus");
        let allocate = Self::used_pct(m) < self.spec.target_fill_pct as u64 && self.rng.random_range(0..100) < 70
            || self.live.is_empty();
        if allocate {
            let mut pick = self.rng.random_range(0..self.total_weight);
            let idx = self.spec.mix.iter().position(|e| {
                if pick < e.weight {
                    true
                } else {
                    pick -= e.weight;
                    false
                }
            });
            let idx = idx.unwrap_or(0);
            let e = self.spec.mix[idx];
            let order = self.rng.random_range(e.min_order..=e.max_order).min(m.geometry().max_order);
            match m.alloc_pages(e.gfp, order, e.kind) {
                Ok(pfn) => {
                    let pfn = self.decorate(m, pfn, &e);
                    self.live.push((pfn, order, idx as u8));
                    WorkloadOp::Alloc { cpu, pfn, order, kind: e.kind }
                }
                Err(_) => WorkloadOp::AllocFailed { cpu, order, kind: e.kind },
            }
        } else {
            let i = self.rng.random_range(0..self.live.len());
            let (pfn, order, idx) = self.live[i];
            let e = self.spec.mix[idx as usize];
            if self.rng.random_range(0..100) >= e.free_pct {
                return WorkloadOp::Idle;
            }
            self.live.swap_remove(i);
            self.unpin(m, pfn);
            match m.free_pages(pfn, order) {
                Ok(_) => WorkloadOp::Free { cpu, pfn, order },
                Err(_) => WorkloadOp::Idle,
            }
        }
    }

    /// Dirties page cache and pins pages as the mix says. A long-term pin
    /// goes through GUP, which first migrates a CMA or ZONE_MOVABLE page to
    /// pinnable memory; returns where the page ended up.
    fn decorate(&mut self, m: &mut Machine, pfn: u64, e: &MixEntry) -> u64 {
        let Some(mut p) = m.page(pfn).as_in_use() else { return pfn };
        if e.dirty_pct > 0 && self.rng.random_range(0..100) < e.dirty_pct {
            p.flags = p.flags.union(PageFlags::DIRTY);
            m.set_page(pfn, PageWord::in_use(p));
        }
        if e.pin_pct > 0 && self.rng.random_range(0..100) < e.pin_pct {
            let at = m.pin_user_page(pfn, true).unwrap_or(pfn);
            m.take_migrations();
            return at;
        }
        pfn
    }

    /// Drops the workload's pins before it frees a page.
    fn unpin(&mut self, m: &mut Machine, pfn: u64) {
        while m.page(pfn).as_in_use().is_some_and(|p| p.pincount > 0) {
            if m.unpin_user_page(pfn).is_err() {
                break;
            }
        }
    }

    /// Runs `n` steps; `progress` is called every 4096 steps with the count
    /// done, so a UI can report progress and yield.
    pub fn run(&mut self, m: &mut Machine, n: u64, mut progress: impl FnMut(u64)) {
        for i in 0..n {
            self.step(m);
            if i % 4096 == 4095 {
                progress(i + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::MachineSpec;

    fn aged(preset: &str, seed: u64, steps: u64) -> Machine {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let mut w = Workload::new(WorkloadSpec::preset(preset).unwrap(), seed).unwrap();
        w.run(&mut m, steps, |_| {});
        m
    }

    #[test]
    fn same_seed_same_machine_other_seed_other_machine() {
        let a = aged("desktop", 7, 3000);
        let b = aged("desktop", 7, 3000);
        let c = aged("desktop", 8, 3000);
        assert_eq!(a.page_words(), b.page_words());
        assert_eq!(a.pageblock_flags(), b.pageblock_flags());
        assert_ne!(a.page_words(), c.page_words());
    }

    #[test]
    fn every_preset_ages_a_machine_consistently_and_fragments_it() {
        for preset in WorkloadSpec::PRESETS {
            let m = aged(preset, 1, 6000);
            m.check_invariants().unwrap_or_else(|v| panic!("{preset}: {v}"));
            // Fragmentation: some unmovable memory outside the first zone's
            // pageblocks and fewer max-order blocks than at boot.
            let zi = m.zone_index(crate::geometry::ZoneType::Normal).unwrap();
            assert!(m.nr_free(zi, 10) < 8, "{preset}: {} order-10 blocks left", m.nr_free(zi, 10));
        }
    }

    #[test]
    fn empty_mix_is_an_error() {
        let spec = WorkloadSpec { mix: vec![], ..WorkloadSpec::desktop() };
        assert!(Workload::new(spec, 0).is_err());
    }
}
