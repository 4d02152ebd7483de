//! Seeds 003 and 004 against what mainline did instead, as numbers a front
//! end draws: free page reporting over time (mainline against seed 004's
//! walk), regions that could be powered down over time (mainline against
//! the 2013 region allocator), and a live migration with and without
//! hints. The runs are the core's; here they become panels of lines.

use pfnscope_core::regions::timeline::{compare_regions, RegionTimelineConfig};
use pfnscope_core::reporting::live_migration::{compare_live_migration, MigrationConfig};
use pfnscope_core::reporting::timeline::{compare_reporting, TimelineConfig};
use pfnscope_core::{Machine, Scenario};

/// One line of a panel: its label, which of the two designs it belongs to
/// (0 = mainline, 1 = the seed), whether it is drawn dashed, and its
/// points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub label: String,
    pub design: usize,
    pub dashed: bool,
    pub points: Vec<(u64, u64)>,
}

/// One chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panel {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub lines: Vec<Line>,
}

impl Panel {
    /// The largest x and y, for the axes.
    pub fn extent(&self) -> (u64, u64) {
        let pts = self.lines.iter().flat_map(|l| l.points.iter());
        let (x, y) = pts.fold((1, 1), |(x, y), &(a, b)| (x.max(a), y.max(b)));
        (x, y)
    }
}

/// A comparison ready to draw: its panels and what it adds up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedComparison {
    pub title: String,
    pub panels: Vec<Panel>,
    /// Sentences under the charts.
    pub summary: Vec<String>,
}

fn line(label: &str, design: usize, dashed: bool, points: Vec<(u64, u64)>) -> Line {
    Line { label: label.into(), design, dashed, points }
}

/// Why mainline reported nothing: no zone had more free pages than its
/// gate (the low watermark plus a batch of 32 blocks of `order`). `None`
/// when some zone passes.
pub fn reporting_gate_note(m: &Machine, order: u8) -> Option<String> {
    let gates: Vec<(String, i64, u64)> = (0..m.zones().len())
        .map(|zi| (m.zones()[zi].name().to_string(), m.zone_free_pages(zi), m.wmark_pages(zi, pfnscope_core::zone::Wmark::Low) + (32u64 << order)))
        .collect();
    if gates.iter().any(|(_, free, gate)| *free > *gate as i64) {
        return None;
    }
    let zones = gates.iter().map(|(n, free, gate)| format!("{n} {free} of {gate}")).collect::<Vec<_>>().join(", ");
    Some(format!(
        "Mainline reported nothing because no zone passed page_reporting_process_zone()'s gate, free pages above the low watermark plus 32 blocks of order {order} ({zones}): a small machine needs a lower page_reporting_order."
    ))
}

/// Mainline reporting against seed 004's walk on a copy of `m`, for
/// `seconds` of the desktop workload (seeded), from `order`.
pub fn reporting(m: &Machine, seconds: u64, order: Option<u8>) -> Result<SeedComparison, String> {
    let cfg = TimelineConfig { seconds, order, ..TimelineConfig::default() };
    let [main, walk] = compare_reporting(m, &cfg).map_err(|e| e.to_string())?;
    let secs = |t: &pfnscope_core::reporting::timeline::Timeline, f: fn(&pfnscope_core::reporting::timeline::Sample) -> u64| -> Vec<(u64, u64)> {
        t.samples.iter().map(|s| (s.t_ms / 1000, f(s))).collect()
    };
    let reported = Panel {
        title: "Pages reported to the host".into(),
        x_desc: "simulated seconds".into(),
        y_desc: "pages (cumulative)".into(),
        lines: vec![
            line("mainline: reported", 0, false, secs(&main, |s| s.reported_pages)),
            line("mainline: reported again", 0, true, secs(&main, |s| s.rereported_pages)),
            line("seed 004 walk: reported", 1, false, secs(&walk, |s| s.reported_pages)),
            line("seed 004 walk: reported again", 1, true, secs(&walk, |s| s.rereported_pages)),
        ],
    };
    let calls = Panel {
        title: "Report calls".into(),
        x_desc: "simulated seconds".into(),
        y_desc: "calls (cumulative)".into(),
        lines: vec![line("mainline: report() batches of up to 32", 0, false, secs(&main, |s| s.report_calls)), line("seed 004 walk: one callback per block", 1, false, secs(&walk, |s| s.report_calls))],
    };
    let (a, b) = (main.last(), walk.last());
    let pct = |again: u64, all: u64| (again * 100).checked_div(all).unwrap_or(0);
    let gate = if a.report_calls == 0 { reporting_gate_note(m, main.order) } else { None };
    Ok(SeedComparison {
        title: format!("Free page reporting from order {}: mainline against seed 004's walk, {seconds} s of a desktop", main.order),
        panels: vec![reported, calls],
        summary: vec![
            format!(
                "Mainline reported {} pages in {} calls; {}% had been reported before (their block merged, or an allocation split it).",
                a.reported_pages,
                a.report_calls,
                pct(a.rereported_pages, a.reported_pages)
            ),
            format!(
                "Seed 004's walk, called every 2 s, reported {} pages in {} callbacks; {}% the host already held: it keeps no state, so every walk reports every free block again.",
                b.reported_pages,
                b.report_calls,
                pct(b.rereported_pages, b.reported_pages)
            ),
        ]
        .into_iter()
        .chain(gate)
        .collect(),
    })
}

/// Mainline against the 2013 region allocator, booting the scenario's
/// machine for each and running its workload as `cfg` says.
pub fn regions(s: &Scenario, cfg: &RegionTimelineConfig) -> Result<SeedComparison, String> {
    let [main, ra] = compare_regions(s, cfg).map_err(|e| e.to_string())?;
    let pts = |t: &pfnscope_core::regions::timeline::RegionTimeline| t.samples.iter().map(|x| (x.step, x.powerable as u64)).collect();
    let panel = Panel {
        title: "Memory regions that could be powered down".into(),
        x_desc: "workload steps".into(),
        y_desc: "regions all free".into(),
        lines: vec![line("mainline 6.12", 0, false, pts(&main)), line("region allocator (2013)", 1, false, pts(&ra))],
    };
    let (a, b) = (main.last(), ra.last());
    Ok(SeedComparison {
        title: format!("Regions all free over time: mainline against seed 003's region allocator ({} regions)", a.regions),
        panels: vec![panel],
        summary: vec![
            format!(
                "At the end, {} of {} regions could be powered down on mainline and {} with the region allocator. The load aimed at {}% of memory in the first half, {}% in the second; kmempowerd ran {}.",
                a.powerable,
                a.regions,
                b.powerable,
                cfg.peak_fill_pct.unwrap_or(0),
                cfg.fill_pct.unwrap_or(0),
                cfg.evacuate_pct.map_or("never".to_string(), |p| format!("after every sample on regions at most {p}% used"))
            ),
            pfnscope_core::regions::timeline::WHAT_IS_MEASURED.into(),
        ],
    })
}

/// Seed 004's purpose: the same live migration of a copy of `m` with and
/// without its hints.
pub fn live_migration(m: &Machine, min_order: Option<u8>) -> Result<SeedComparison, String> {
    let cfg = MigrationConfig { min_order, ..MigrationConfig::default() };
    let c = compare_live_migration(m, &cfg).map_err(|e| e.to_string())?;
    let rounds = |r: &pfnscope_core::reporting::live_migration::MigrationRun| -> Vec<(u64, u64)> {
        let mut total = 0;
        let mut pts = vec![(0, 0)];
        for (i, round) in r.rounds.iter().enumerate() {
            total += round.sent;
            pts.push((i as u64 + 1, total));
        }
        total += r.stop_and_copy_pages;
        pts.push((r.rounds.len() as u64 + 1, total));
        pts
    };
    let panel = Panel {
        title: "Pages sent by a pre-copy live migration".into(),
        x_desc: "round (the last is stop-and-copy)".into(),
        y_desc: "pages sent (cumulative)".into(),
        lines: vec![line("without hints", 0, false, rounds(&c.without)), line("with seed 004's hints", 1, false, rounds(&c.with))],
    };
    let saved = c.saved_pages();
    Ok(SeedComparison {
        title: format!("Live migration at {} pages/ms while a desktop runs", cfg.pages_per_ms),
        panels: vec![panel],
        summary: vec![
            format!(
                "The walk hinted {} of {} guest pages free; the migration did not send {saved} pages it would have sent without hints.",
                c.with.hinted_pages, c.with.guest_pages
            ),
            format!("{} hinted pages were written after the report: the dirty log caught them and they were sent after all.", c.with.hinted_then_written),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_comparisons_become_panels_of_both_designs() {
        let s = Scenario { steps: 3000, ..Scenario::default() };
        let m = s.build().unwrap();
        let r = reporting(&m, 6, Some(3)).unwrap();
        assert_eq!(r.panels.len(), 2);
        assert!(r.panels.iter().all(|p| p.lines.iter().any(|l| l.design == 0) && p.lines.iter().any(|l| l.design == 1)));
        assert_eq!(r.panels[0].lines[0].points.len(), 13, "a sample every 500 ms and one at the start");
        assert!(r.panels[0].extent().1 > 0);

        let cfg = RegionTimelineConfig { steps: 2000, sample_every: 500, region_pages: Some(2048), ..RegionTimelineConfig::default() };
        let g = regions(&s, &cfg).unwrap();
        assert_eq!(g.panels[0].lines[1].points.len(), 5);
        assert!(g.summary[1].contains("202 of 210"));

        // At pageblock_order no zone of the 64 MiB machine passes the gate,
        // and the summary says why mainline reported nothing.
        let r = reporting(&m, 4, None).unwrap();
        assert!(r.summary.iter().any(|s| s.contains("no zone passed")), "{:?}", r.summary);
        assert!(reporting_gate_note(&m, 3).is_none());

        let l = live_migration(&m, Some(0)).unwrap();
        let (with, without) = (&l.panels[0].lines[1].points, &l.panels[0].lines[0].points);
        assert!(with.last().unwrap().1 < without.last().unwrap().1, "hints send less");
    }
}
