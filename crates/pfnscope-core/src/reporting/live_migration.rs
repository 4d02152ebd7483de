//! Seed 004's purpose: a pre-copy live migration that skips guest pages the
//! walk reported free, unless the guest writes them after the report.
//!
//! The hypervisor write-protects guest memory when the migration starts,
//! so every later write lands in its dirty log. Round 1 sends every page
//! whose bit is set in the migration bitmap (all of them, less the hinted
//! free pages); each later round sends what was dirtied during the one
//! before; when what is left fits in the allowed downtime, the guest stops
//! and the rest is sent. The same run without hints is the baseline.
//!
//! Simplified: a guest write is a page handed out for use (allocation,
//! contiguous grab, migration target) plus `writes_per_step` rewrites of
//! the workload's live allocations per step; the link sends a fixed
//! number of pages per millisecond; zero pages are not compressed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::machine::Machine;
use crate::page::Tag;
use crate::workload::{Workload, WorkloadSpec};

/// The migration's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationConfig {
    /// The workload that keeps running in the guest.
    pub workload: String,
    pub seed: u64,
    /// Pages the link sends per ms (10 Gbit/s is about 305 pages of 4 KiB).
    pub pages_per_ms: u64,
    /// Workload steps per ms while the guest runs.
    pub steps_per_ms: u64,
    /// Rewrites of live allocations per workload step.
    pub writes_per_step: u64,
    /// Stop and copy once the dirty pages take at most this long to send.
    pub downtime_ms: u64,
    pub max_rounds: u32,
    /// The walk's `min_order`; none for pageblock_order.
    pub min_order: Option<u8>,
}

impl Default for MigrationConfig {
    fn default() -> MigrationConfig {
        MigrationConfig {
            workload: "desktop".into(),
            seed: 1,
            pages_per_ms: 305,
            steps_per_ms: 2,
            writes_per_step: 2,
            downtime_ms: 30,
            max_rounds: 30,
            min_order: None,
        }
    }
}

/// One pre-copy round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub sent: u64,
    /// Pages written while this round ran: the next round's work.
    pub dirtied: u64,
    pub ms: u64,
}

/// One migration, with or without hints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRun {
    pub hinted: bool,
    /// Guest pages (present memory).
    pub guest_pages: u64,
    /// Pages the walk reported free at the start.
    pub hinted_pages: u64,
    /// Hinted pages the guest wrote before the migration ended (sent after all).
    pub hinted_then_written: u64,
    /// The walk's callbacks.
    pub report_calls: u64,
    pub rounds: Vec<Round>,
    /// Pages sent while the guest was stopped.
    pub stop_and_copy_pages: u64,
    pub pages_sent: u64,
    pub total_ms: u64,
}

/// Both runs and what the hints saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationComparison {
    pub without: MigrationRun,
    pub with: MigrationRun,
}

impl MigrationComparison {
    /// Pages the hinted migration did not have to send.
    pub fn saved_pages(&self) -> i64 {
        self.without.pages_sent as i64 - self.with.pages_sent as i64
    }
}

/// A bitmap over the machine's page array.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 != 0
    }
    fn set(&mut self, i: usize, v: bool) {
        if v {
            self.0[i / 64] |= 1 << (i % 64);
        } else {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
    fn count(&self) -> u64 {
        self.0.iter().map(|w| w.count_ones() as u64).sum()
    }
}

/// Migrates a copy of `base` once with seed 004's hints and once without.
pub fn compare_live_migration(
    base: &Machine,
    cfg: &MigrationConfig,
) -> Result<MigrationComparison> {
    Ok(MigrationComparison {
        without: simulate_live_migration(base, cfg, false)?,
        with: simulate_live_migration(base, cfg, true)?,
    })
}

/// One pre-copy migration of a copy of `base` while `cfg.workload` runs.
pub fn simulate_live_migration(
    base: &Machine,
    cfg: &MigrationConfig,
    hinted: bool,
) -> Result<MigrationRun> {
    if cfg.pages_per_ms == 0 || cfg.max_rounds == 0 {
        return Err(Error::BadRequest(
            "the migration needs a positive bandwidth and at least one round".into(),
        ));
    }
    let spec = WorkloadSpec::named(&cfg.workload)?;
    let mut m = base.clone();
    m.forget_journal();
    m.set_journaling(false);
    let mut w = Workload::new(spec, cfg.seed)?;
    let n = m.store.nr_pages();
    let base_pfn = m.pfn_span().start;
    // The migration bitmap: every present page to send.
    let mut current = Bits::new(n);
    for i in 0..n {
        if m.store.page(i).tag() != Tag::Hole {
            current.set(i, true);
        }
    }
    let guest_pages = current.count();
    m.write_log = Some(Vec::new());
    let mut hint = Bits::new(n);
    let (mut hinted_pages, mut report_calls) = (0, 0);
    if hinted {
        let min_order = cfg.min_order.unwrap_or(m.geo.pageblock_order);
        m.walk_free_mem_block(min_order, |pfn, nr| {
            for i in (pfn - base_pfn) as usize..(pfn - base_pfn + nr) as usize {
                if current.get(i) {
                    current.set(i, false);
                    hint.set(i, true);
                    hinted_pages += 1;
                }
            }
            report_calls += 1;
            0
        });
    }
    let mut run = MigrationRun {
        hinted,
        guest_pages,
        hinted_pages,
        hinted_then_written: 0,
        report_calls,
        rounds: Vec::new(),
        stop_and_copy_pages: 0,
        pages_sent: 0,
        total_ms: 0,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x9e37_79b9_7f4a_7c15);
    loop {
        let todo = current.count();
        let last = run.rounds.len() as u32 + 1 >= cfg.max_rounds
            || (!run.rounds.is_empty() && todo <= cfg.pages_per_ms * cfg.downtime_ms);
        if last {
            run.stop_and_copy_pages = todo;
            run.pages_sent += todo;
            run.total_ms += todo.div_ceil(cfg.pages_per_ms);
            break;
        }
        let mut dirty = Bits::new(n);
        let mut round = Round {
            sent: 0,
            dirtied: 0,
            ms: 0,
        };
        let mut cursor = 0usize;
        while cursor < n {
            // One millisecond: the link sends, the guest runs and writes.
            let mut budget = cfg.pages_per_ms;
            while cursor < n && budget > 0 {
                if current.get(cursor) {
                    current.set(cursor, false);
                    round.sent += 1;
                    budget -= 1;
                }
                cursor += 1;
            }
            round.ms += 1;
            for _ in 0..cfg.steps_per_ms {
                w.step(&mut m);
                for _ in 0..cfg.writes_per_step {
                    let live = w.live();
                    if !live.is_empty() {
                        let (pfn, order, _) = live[rng.random_range(0..live.len())];
                        m.guest_write(pfn, 1 << order);
                    }
                }
            }
            for r in m.write_log.as_mut().map(std::mem::take).unwrap_or_default() {
                for i in (r.start - base_pfn) as usize..(r.end - base_pfn) as usize {
                    if !dirty.get(i) {
                        dirty.set(i, true);
                        round.dirtied += 1;
                    }
                    if hint.get(i) {
                        hint.set(i, false);
                        run.hinted_then_written += 1;
                    }
                }
            }
        }
        run.pages_sent += round.sent;
        run.total_ms += round.ms;
        run.rounds.push(round);
        current = dirty;
    }
    Ok(run)
}
