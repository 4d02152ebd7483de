//! Regions that could be powered down over time, the same workload on
//! mainline and on the region allocator.
//!
//! The series reported 202 of 210 regions free after its test against 8 of
//! 214 on mainline. pfnscope measures regions whose present memory is all
//! free (on the buddy lists or in the region allocator) on the machine it
//! is given, under one of its own workloads, counting every zone's regions
//! (a region cut by a zone boundary counts once per zone). The figures
//! differ from the series' because the machine, the workload and the
//! region size differ, and because pfnscope keeps 6.12's pageblock_order
//! below MAX_ORDER, which the series assumed away.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::machine::Machine;
use crate::scenario::Scenario;
use crate::workload::Workload;

use super::AllocatorPolicy;

/// What the comparison counts and why its figures are not the series':
/// the sentence every front end prints under them.
pub const WHAT_IS_MEASURED: &str = "A region counts when all its present memory is free (on the buddy lists or held by the region allocator), so a memory controller could power it down. \
The series reported 202 of 210 regions free against 8 of 214 on mainline, on its own machine and test; pfnscope counts regions on the machine shown, under its own workload. \
The machine, the workload and the region size differ, and pfnscope keeps 6.12's pageblock_order below MAX_ORDER, which the series assumed away.";

/// The runs' parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionTimelineConfig {
    /// Pages per region; none for 512 MiB.
    pub region_pages: Option<u64>,
    /// Workload steps in all, and how often to sample.
    pub steps: u64,
    pub sample_every: u64,
    /// Run `kmempowerd` at each sample with this threshold (region
    /// allocator only); none to never evacuate.
    pub evacuate_pct: Option<u8>,
    /// The fill the workload aims for in the first half of the steps,
    /// percent of memory (a busy machine), instead of its preset's.
    pub peak_fill_pct: Option<u8>,
    /// The fill it aims for in the second half (the load has ended and
    /// memory is freed): where regions can empty again.
    pub fill_pct: Option<u8>,
}

impl Default for RegionTimelineConfig {
    fn default() -> RegionTimelineConfig {
        RegionTimelineConfig { region_pages: None, steps: 20_000, sample_every: 1_000, evacuate_pct: Some(25), peak_fill_pct: Some(90), fill_pct: Some(20) }
    }
}

/// One sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionSample {
    pub step: u64,
    /// Regions whose memory is all free.
    pub powerable: usize,
    /// Regions with memory.
    pub regions: usize,
    pub free_pages: u64,
}

/// One allocator's run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionTimeline {
    pub policy: AllocatorPolicy,
    /// Pages per region, and bytes per page.
    pub region_pages: u64,
    pub page_size: u64,
    pub samples: Vec<RegionSample>,
}

impl RegionTimeline {
    pub fn last(&self) -> RegionSample {
        self.samples.last().copied().unwrap_or(RegionSample { step: 0, powerable: 0, regions: 0, free_pages: 0 })
    }
}

/// Boots the scenario's machine with `policy` and runs its workload
/// (`cfg.steps` steps instead of the scenario's), sampling as it goes.
pub fn region_timeline(scenario: &Scenario, policy: AllocatorPolicy, cfg: &RegionTimelineConfig) -> Result<RegionTimeline> {
    if cfg.sample_every == 0 || cfg.steps == 0 {
        return Err(Error::BadRequest("the run needs steps and a sampling interval".into()));
    }
    let s = Scenario { allocator: AllocatorPolicy::Mainline, region_pages: None, steps: 0, setup: vec![], play: None, ..scenario.clone() };
    let (mut m, _) = s.prepare()?;
    m.regions_register(policy, cfg.region_pages.or(scenario.region_pages))?;
    m.set_journaling(false);
    let name = scenario.workload.clone().unwrap_or_else(|| "desktop".into());
    let spec = crate::workload::WorkloadSpec::named(&name)?;
    let preset_fill = spec.target_fill_pct;
    let mut w = Workload::new(spec, scenario.seed)?;
    w.set_target_fill_pct(cfg.peak_fill_pct.unwrap_or(preset_fill));
    let mut samples = vec![sample(&m, 0)];
    let mut done = 0;
    while done < cfg.steps {
        if done >= cfg.steps / 2 {
            w.set_target_fill_pct(cfg.fill_pct.unwrap_or(preset_fill));
        }
        let n = cfg.sample_every.min(cfg.steps - done);
        w.run(&mut m, n, |_| {});
        done += n;
        if let (AllocatorPolicy::Regions, Some(pct)) = (policy, cfg.evacuate_pct) {
            m.kmempowerd(pct);
            w.follow_migrations(&mut m);
        }
        samples.push(sample(&m, done));
    }
    let region_pages = m.region_spec().map_or(0, |r| r.region_pages);
    Ok(RegionTimeline { policy, region_pages, page_size: m.geometry().page_size(), samples })
}

/// Mainline first, then the region allocator.
pub fn compare_regions(scenario: &Scenario, cfg: &RegionTimelineConfig) -> Result<[RegionTimeline; 2]> {
    Ok([region_timeline(scenario, AllocatorPolicy::Mainline, cfg)?, region_timeline(scenario, AllocatorPolicy::Regions, cfg)?])
}

fn sample(m: &Machine, step: u64) -> RegionSample {
    let (powerable, regions) = m.powerable_regions();
    let free = (0..m.zones().len()).map(|zi| m.zone_free_pages(zi).max(0) as u64).sum();
    RegionSample { step, powerable, regions, free_pages: free }
}
