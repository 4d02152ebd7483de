//! `pfnscope reporting` (mainline free page reporting against seed 004's
//! walk over the same workload) and `pfnscope migrate` (seed 004's hints in
//! a simulated live migration).

use pfnscope_core::reporting::live_migration::{
    compare_live_migration, MigrationConfig, MigrationRun,
};
use pfnscope_core::reporting::timeline::{compare_reporting, Timeline, TimelineConfig};

use crate::diagnose::load_machine;

/// `pfnscope reporting`: both designs, sampled, then what they add up to.
pub fn reporting(file: &str, cfg: &TimelineConfig, json: bool) -> Result<String, String> {
    let (m, what) = load_machine(file)?;
    let [main, walk] = compare_reporting(&m, cfg).map_err(|e| e.to_string())?;
    if json {
        let out =
            serde_json::json!({ "machine": what, "config": cfg, "mainline": main, "walk": walk });
        return Ok(serde_json::to_string_pretty(&out).expect("json") + "\n");
    }
    let mut out = format!(
        "{what}\n{} for {} s at {} steps/s (seed {}); reporting from order {} (mainline page_reporting_order, the walk's min_order)\n\n",
        cfg.workload, cfg.seconds, cfg.steps_per_second, cfg.seed, main.order
    );
    out += &format!(
        "{:>8}  {:>30}  {:>30}\n",
        "", "mainline (mm/page_reporting.c)", "seed 004 (walk_free_mem_block)"
    );
    out += &format!(
        "{:>8}  {:>10} {:>8} {:>10}  {:>10} {:>8} {:>10}\n",
        "t (s)", "reported", "calls", "again", "reported", "calls", "again"
    );
    let every = (main.samples.len() / 20).max(1);
    for (i, (a, b)) in main.samples.iter().zip(&walk.samples).enumerate() {
        if i % every != 0 && i + 1 != main.samples.len() {
            continue;
        }
        out += &format!(
            "{:>8.1}  {:>10} {:>8} {:>10}  {:>10} {:>8} {:>10}\n",
            a.t_ms as f64 / 1000.0,
            a.reported_pages,
            a.report_calls,
            a.rereported_pages,
            b.reported_pages,
            b.report_calls,
            b.rereported_pages
        );
    }
    out += "\n";
    if main.last().report_calls == 0 {
        if let Some(note) = pfnscope_view::seeds::reporting_gate_note(&m, main.order) {
            out += &format!("{note} Try --order 3.\n");
        }
    }
    out += &summary(&main, "mainline");
    out += &summary(&walk, "seed 004's walk");
    out += "\"again\": pages reported while the host already held them. Mainline reports pages again only when their block changed: merged into a bigger one, or split by an allocation that took part of it; the walk keeps no state and reports every free block on every walk.\n";
    Ok(out)
}

fn summary(t: &Timeline, name: &str) -> String {
    let s = t.last();
    let pct = (s.rereported_pages * 100).checked_div(s.reported_pages).unwrap_or(0);
    format!(
        "{name}: {} pages in {} report call(s), {} of them ({pct}%) already held by the host; the host holds {} pages at the end, of {} free\n",
        s.reported_pages, s.report_calls, s.rereported_pages, s.host_pages, s.free_pages
    )
}

/// `pfnscope migrate`: the same live migration with and without hints.
pub fn migrate(file: &str, cfg: &MigrationConfig, json: bool) -> Result<String, String> {
    let (m, what) = load_machine(file)?;
    let c = compare_live_migration(&m, cfg).map_err(|e| e.to_string())?;
    if json {
        let out = serde_json::json!({ "machine": what, "config": cfg, "without_hints": c.without, "with_hints": c.with, "saved_pages": c.saved_pages() });
        return Ok(serde_json::to_string_pretty(&out).expect("json") + "\n");
    }
    let mut out = format!(
        "{what}\npre-copy live migration at {} pages/ms while {} runs ({} steps/ms, {} rewrites/step); stop and copy below {} ms of dirty pages\n\n",
        cfg.pages_per_ms, cfg.workload, cfg.steps_per_ms, cfg.writes_per_step, cfg.downtime_ms
    );
    out += &run_lines(&c.without, "without hints");
    out += &run_lines(&c.with, "with seed 004's hints");
    let saved = c.saved_pages();
    let pct = (saved * 100).checked_div(c.without.pages_sent as i64).unwrap_or(0);
    out += &format!(
        "\nThe hints saved {saved} pages ({pct}% of what the migration sent without them). {} hinted pages were written after the report and sent after all.\n",
        c.with.hinted_then_written
    );
    Ok(out)
}

fn run_lines(r: &MigrationRun, name: &str) -> String {
    let mut out = format!("{name}: {} guest pages", r.guest_pages);
    if r.hinted {
        out += &format!(
            ", {} hinted free in {} callback(s)",
            r.hinted_pages, r.report_calls
        );
    }
    out += "\n";
    for (i, round) in r.rounds.iter().enumerate() {
        out += &format!(
            "  round {:>2}: sent {:>9} pages in {:>6} ms; {:>8} dirtied meanwhile\n",
            i + 1,
            round.sent,
            round.ms,
            round.dirtied
        );
    }
    out += &format!(
        "  stop and copy: {} pages\n  in all: {} pages in {} ms\n",
        r.stop_and_copy_pages, r.pages_sent, r.total_ms
    );
    out
}
