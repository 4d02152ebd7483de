//! Mainline reporting against seed 004's walk over the same workload and
//! the same simulated time: pages reported, report calls, and pages
//! reported again that the host already held.
//!
//! Each design runs on its own copy of one starting machine, with the same
//! workload preset and seed, so the only difference is the reporting.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::machine::Machine;
use crate::workload::{Workload, WorkloadSpec};

use super::ReportingPolicy;

/// What to run: a workload for a while, sampled at a fixed interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineConfig {
    pub workload: String,
    pub seed: u64,
    /// Simulated seconds to run.
    pub seconds: u64,
    /// Workload steps per simulated second.
    pub steps_per_second: u64,
    /// Sampling interval, ms.
    pub sample_ms: u64,
    /// `page_reporting_order` / the walk's `min_order`; none for the
    /// default (pageblock_order).
    pub order: Option<u8>,
}

impl Default for TimelineConfig {
    fn default() -> TimelineConfig {
        TimelineConfig {
            workload: "desktop".into(),
            seed: 1,
            seconds: 30,
            steps_per_second: 200,
            sample_ms: 500,
            order: None,
        }
    }
}

/// The figures at one moment (cumulative since the start).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub t_ms: u64,
    pub reported_pages: u64,
    pub report_calls: u64,
    pub rereported_pages: u64,
    /// Pages the host holds now.
    pub host_pages: u64,
    /// The guest's free pages now.
    pub free_pages: u64,
}

/// One design's run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub policy: ReportingPolicy,
    pub order: u8,
    pub samples: Vec<Sample>,
}

impl Timeline {
    /// The last sample (the totals).
    pub fn last(&self) -> Sample {
        self.samples.last().copied().unwrap_or(Sample {
            t_ms: 0,
            reported_pages: 0,
            report_calls: 0,
            rereported_pages: 0,
            host_pages: 0,
            free_pages: 0,
        })
    }
}

/// Runs one design on a copy of `base` (any device it has is dropped
/// first, see [`Machine::without_reporting`]).
pub fn reporting_timeline(
    base: &Machine,
    policy: ReportingPolicy,
    cfg: &TimelineConfig,
) -> Result<Timeline> {
    if cfg.sample_ms == 0 || cfg.seconds == 0 {
        return Err(Error::BadRequest(
            "the timeline needs a positive duration and sampling interval".into(),
        ));
    }
    if cfg.seconds > 3600 {
        return Err(Error::BadRequest(format!(
            "at most an hour of simulated time, not {} s",
            cfg.seconds
        )));
    }
    let spec = WorkloadSpec::named(&cfg.workload)?;
    let mut m = base.without_reporting();
    m.set_journaling(false);
    m.page_reporting_register(policy, cfg.order)?;
    let mut w = Workload::new(spec, cfg.seed)?;
    let total_ms = cfg.seconds * 1000;
    let mut samples = vec![sample(&m)];
    let mut t = 0;
    let mut steps_done = 0u64;
    while t < total_ms {
        let dt = cfg.sample_ms.min(total_ms - t);
        t += dt;
        let steps_due = cfg.steps_per_second * t / 1000;
        while steps_done < steps_due {
            w.step(&mut m);
            steps_done += 1;
        }
        m.advance_clock(dt);
        samples.push(sample(&m));
    }
    let order = m.reporting_status().map_or(0, |s| s.order);
    Ok(Timeline {
        policy,
        order,
        samples,
    })
}

/// Both designs, mainline first.
pub fn compare_reporting(base: &Machine, cfg: &TimelineConfig) -> Result<[Timeline; 2]> {
    Ok([
        reporting_timeline(base, ReportingPolicy::Mainline, cfg)?,
        reporting_timeline(base, ReportingPolicy::Walk, cfg)?,
    ])
}

fn sample(m: &Machine) -> Sample {
    let s = m.reporting_status().expect("registered");
    let free = (0..m.zones().len())
        .map(|zi| m.zone_free_pages(zi).max(0) as u64)
        .sum();
    Sample {
        t_ms: s.clock_ms,
        reported_pages: s.reported_pages,
        report_calls: s.report_calls,
        rereported_pages: s.rereported_pages,
        host_pages: s.host_pages,
        free_pages: free,
    }
}
