//! Seeded workloads that age a machine into realistic fragmentation.
//!
//! A workload is a mix of allocation kinds (anon, page cache, slab, page
//! tables, THP...) and a target fill. Each step allocates while memory is
//! below the target and otherwise frees a random live allocation, on a
//! random CPU: long-lived kernel memory ends up scattered among short-lived
//! user memory, as on a real machine. The RNG is ChaCha8 seeded from a
//! `u64`, so a preset and seed give the same machine natively and in wasm.
//!
//! Two ways to age. [`Workload::run`] takes a number of steps and keeps
//! memory near the preset's fill, freeing at random: quick to a
//! fragmented teaching picture. [`Workload::age`] runs the same mix to a
//! *lived-in* steady state at any machine size: page cache arrives in the
//! large folios 6.x readahead allocates and leaves only through reclaim,
//! which wakes when a zone's free memory falls below its low watermark and
//! frees the oldest clean page cache up to the high watermark, as kswapd
//! does; so memory fills and free memory sits near the watermarks.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::alloc::{AllocFlags, Gfp};
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
    aging: Aging,
}

/// The state of lived-in aging ([`Workload::age`]).
#[derive(Clone, Debug, Default)]
struct Aging {
    /// Page cache folios `(pfn, order)`, oldest first: the file LRU that
    /// reclaim takes from.
    lru: VecDeque<(u64, u8)>,
    /// Steps run before reclaim first woke: filling.
    fill_steps: u64,
    /// Steps run since: the churn that settles the steady state.
    churn_steps: u64,
    filled: bool,
    /// Pages reclaim freed.
    reclaimed: u64,
}

/// Page cache folio orders as readahead allocates them, with weights: a
/// file read in sequence ramps its folios from order 2 up to
/// MAX_PAGECACHE_ORDER (`page_cache_ra_order()`, mm/readahead.c, 6.x),
/// and small or random reads stay order 0.
/// <https://elixir.bootlin.com/linux/v6.12/source/mm/readahead.c>
const READAHEAD_ORDERS: [(u8, u32); 9] = [(0, 30), (2, 20), (3, 12), (4, 10), (5, 8), (6, 6), (7, 5), (8, 4), (9, 5)];

/// How far lived-in aging has come.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgingProgress {
    /// 0.0 to 1.0.
    pub fraction: f64,
    pub finished: bool,
    /// Pages freed by reclaim so far.
    pub reclaimed: u64,
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
        Ok(Workload { spec, rng: ChaCha8Rng::seed_from_u64(seed), live: Vec::new(), total_weight, aging: Aging::default() })
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

    /// Ages `m` to a lived-in steady state (see the module's overview), in
    /// slices of at most `budget` steps: call again until `finished`.
    /// Filling ends when reclaim first wakes; a churn of half as many steps
    /// (frees and new allocations, reclaim keeping pace) then settles it.
    pub fn age(&mut self, m: &mut Machine, budget: u64) -> AgingProgress {
        let managed: u64 = m.zones().iter().map(|z| z.managed_pages).sum();
        // A guard for mixes that never fill memory: a step per page.
        let cap = managed.max(1);
        let mut left = budget;
        while left > 0 && !self.aging_finished(cap) {
            self.age_step(m);
            left -= 1;
        }
        let a = &self.aging;
        let fraction = if a.filled {
            0.8 + 0.2 * (a.churn_steps as f64 / (a.fill_steps / 2).max(1) as f64).min(1.0)
        } else {
            0.8 * (Self::used_pct(m) as f64 / 100.0)
        };
        let finished = self.aging_finished(cap);
        AgingProgress { fraction: if finished { 1.0 } else { fraction.min(0.99) }, finished, reclaimed: a.reclaimed }
    }

    fn aging_finished(&self, cap: u64) -> bool {
        let a = &self.aging;
        a.filled && a.churn_steps >= a.fill_steps / 2 || a.fill_steps + a.churn_steps >= cap
    }

    /// One step of lived-in aging: once full, a third of the steps free a
    /// random allocation that is not page cache (a process exits, a cache
    /// shrinks); the others allocate from the mix, page cache as readahead
    /// folios; then reclaim runs where a zone is below its low watermark.
    fn age_step(&mut self, m: &mut Machine) {
        self.follow_migrations(m);
        let cpu = self.rng.random_range(0..m.nr_cpus());
        m.set_cpu(cpu).expect("cpu drawn below nr_cpus");
        if self.aging.filled {
            self.aging.churn_steps += 1;
        } else {
            self.aging.fill_steps += 1;
        }
        if self.aging.filled && !self.live.is_empty() && self.rng.random_range(0..3) == 0 {
            let i = self.rng.random_range(0..self.live.len());
            let (pfn, order, idx) = self.live[i];
            if self.rng.random_range(0..100) < self.spec.mix[idx as usize].free_pct {
                self.live.swap_remove(i);
                self.unpin(m, pfn);
                let _ = m.free_pages(pfn, order);
            }
            return;
        }
        let idx = self.pick();
        let e = self.spec.mix[idx];
        let max = m.geometry().max_order.min(9);
        let order = if e.kind == PageKind::File { self.readahead_order() } else { self.rng.random_range(e.min_order..=e.max_order) }.min(max);
        let failed = match m.alloc_pages(e.gfp, order, e.kind) {
            Ok(pfn) => {
                let pfn = self.decorate(m, pfn, &e);
                if e.kind == PageKind::File {
                    self.aging.lru.push_back((pfn, order));
                } else {
                    self.live.push((pfn, order, idx as u8));
                }
                false
            }
            Err(_) => true,
        };
        self.kswapd(m, e.gfp, failed);
    }

    /// A mix entry drawn by weight.
    fn pick(&mut self) -> usize {
        let mut pick = self.rng.random_range(0..self.total_weight);
        self.spec
            .mix
            .iter()
            .position(|e| {
                if pick < e.weight {
                    true
                } else {
                    pick -= e.weight;
                    false
                }
            })
            .unwrap_or(0)
    }

    fn readahead_order(&mut self) -> u8 {
        let total: u32 = READAHEAD_ORDERS.iter().map(|&(_, w)| w).sum();
        let mut pick = self.rng.random_range(0..total);
        for &(order, w) in &READAHEAD_ORDERS {
            if pick < w {
                return order;
            }
            pick -= w;
        }
        0
    }

    /// kswapd, simplified. It wakes when an allocation failed or could use
    /// no zone above its low watermark (the slow path's
    /// `wake_all_kswapds()`) and
    /// takes the node's oldest page cache until a zone the allocation may
    /// use is above its high watermark (`pgdat_balanced()`: any one zone
    /// will do). A dirty folio is written back instead (cleaned and moved
    /// to the young end), as reclaim starts writeback and moves on. Only
    /// page cache is reclaimed: the model has no swap.
    /// <https://elixir.bootlin.com/linux/v6.12/source/mm/vmscan.c>
    fn kswapd(&mut self, m: &mut Machine, gfp: Gfp, failed: bool) {
        let highest = gfp.highest_zone;
        let above = |m: &Machine, w: usize| {
            m.zones().iter().enumerate().any(|(zi, z)| z.zone_type <= highest && z.managed_pages > 0 && m.zone_watermark_ok(zi, 0, z.watermark[w], highest, AllocFlags::empty()))
        };
        if !failed && above(m, 1) {
            return;
        }
        self.aging.filled = true;
        let mut rotated = 0;
        while !above(m, 2) && rotated <= self.aging.lru.len() {
            let Some((pfn, order)) = self.aging.lru.pop_front() else { break };
            let Some(mut p) = m.page(pfn).as_in_use().filter(|p| p.kind == PageKind::File) else { continue };
            if p.flags.contains(PageFlags::DIRTY) {
                p.flags.remove(PageFlags::DIRTY);
                m.set_page(pfn, PageWord::in_use(p));
                self.aging.lru.push_back((pfn, order));
                rotated += 1;
            } else if m.free_pages(pfn, order).is_ok() {
                self.aging.reclaimed += 1 << order;
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
            let idx = self.pick();
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
    fn lived_in_aging_fills_memory_and_reclaim_holds_it_near_the_watermarks() {
        for preset in WorkloadSpec::PRESETS {
            let mut m = Machine::new(MachineSpec::preset("x86-64-4g").unwrap()).unwrap();
            let mut w = Workload::new(WorkloadSpec::named(preset).unwrap(), 5).unwrap();
            let mut slices = 0;
            let p = loop {
                slices += 1;
                let p = w.age(&mut m, 1_000);
                assert!((0.0..=1.0).contains(&p.fraction));
                if p.finished {
                    break p;
                }
            };
            assert!(slices > 1, "{preset}: progress comes in slices");
            assert!(p.reclaimed > 0, "{preset}: reclaim woke");
            m.check_invariants().unwrap_or_else(|v| panic!("{preset}: {v}"));
            // Each zone that user memory may use holds no more free memory
            // than its high watermark and lowmem reserve allow, with room
            // for the per-cpu lists and one big folio freed at once.
            let normal = m.zone_index(crate::geometry::ZoneType::Normal).unwrap();
            let z = &m.zones()[normal];
            let slack = z.watermark[2] as i64 + (m.nr_cpus() as u64 * z.pcp_high) as i64 + 512;
            assert!(m.zone_free_pages(normal) <= slack, "{preset}: {} free in Normal, above {slack}", m.zone_free_pages(normal));
            let managed: u64 = m.zones().iter().map(|z| z.managed_pages).sum();
            assert!(Workload::used_pct(&m) >= 90, "{preset}: {}% used of {managed}", Workload::used_pct(&m));
            // Page cache as large folios, kernel memory scattered.
            let words = m.page_words();
            let folio = words.iter().filter_map(|w| w.as_in_use()).any(|u| u.kind == PageKind::File && u.compound_order >= 2);
            assert!(folio, "{preset}: page cache in large folios");
            let nr = m.geometry().pageblock_nr_pages() as usize;
            let kernel_blocks = words.chunks(nr).filter(|b| b.iter().filter_map(|w| w.as_in_use()).any(|u| matches!(u.kind, PageKind::SlabUnmovable | PageKind::Kernel))).count();
            assert!(kernel_blocks > 4, "{preset}: kernel memory in {kernel_blocks} pageblocks");
        }
    }

    #[test]
    fn lived_in_aging_is_deterministic() {
        let aged = |seed| {
            let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
            let mut w = Workload::new(WorkloadSpec::desktop(), seed).unwrap();
            while !w.age(&mut m, 1000).finished {}
            m.fingerprint()
        };
        assert_eq!(aged(3), aged(3));
        assert_ne!(aged(3), aged(4));
    }

    #[test]
    fn empty_mix_is_an_error() {
        let spec = WorkloadSpec { mix: vec![], ..WorkloadSpec::desktop() };
        assert!(Workload::new(spec, 0).is_err());
    }
}
