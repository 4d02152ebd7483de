//! `pfnscope run` (a scenario's operation, its trace and why it failed) and
//! `pfnscope contiguity` (where a contiguous range of a size could still be
//! had).

use pfnscope_core::{Attempt, ContiguityMap, Machine, Scenario, Verdict};
use pfnscope_import::Snapshot;

/// A scenario by built-in name or file.
pub fn load_scenario(name: &str) -> Result<Scenario, String> {
    if let Some(s) = Scenario::builtin(name) {
        return Ok(s);
    }
    let text = std::fs::read_to_string(name).map_err(|e| format!("{name}: {e} (not a file, nor a built-in scenario: `pfnscope list` names them)"))?;
    Scenario::parse(&text).map_err(|e| format!("{name}: {e}"))
}

/// A machine from a snapshot file, a scenario file or a built-in scenario
/// (built, its setup run, its play operation not run).
pub fn load_machine(name: &str) -> Result<(Machine, String), String> {
    let is_file = std::path::Path::new(name).is_file();
    if is_file {
        let bytes = std::fs::read(name).map_err(|e| format!("{name}: {e}"))?;
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let snap = Snapshot::from_bytes(name, &bytes).map_err(|e| e.to_string())?;
            let imported = pfnscope_import::reconstruct(&snap).map_err(|e| format!("{name}: {e}"))?;
            let what = if imported.synthesized { "snapshot, layout synthesized from its counts" } else { "snapshot" };
            return Ok((imported.machine, format!("{name} ({what})")));
        }
    }
    let mut s = load_scenario(name)?;
    s.play = None;
    let m = s.build().map_err(|e| e.to_string())?;
    let what = format!("{} ({})", s.title, m.spec().name);
    Ok((m, what))
}

/// `pfnscope run`: the play operation's trace, its outcome and, for a
/// failure or a costly success, the diagnosis of every range it tried;
/// then whether the outcome is the expected one and every checkpoint of the
/// lesson is in the trace (the error says what is not).
pub fn run(name: &str, s: &Scenario, json: bool) -> Result<(String, Result<(), String>), String> {
    let play = s.play.clone().ok_or_else(|| format!("{name}: the scenario plays no operation"))?;
    let mut m = s.build().map_err(|e| e.to_string())?;
    // The variant plays from the same state: kept rather than built again.
    let before = s.variant.as_ref().map(|_| m.clone());
    let (result, trace) = m.record(play.title(), |m| play.run(m));
    let attempts: Vec<Attempt> = m.diagnose_trace(&trace).into_iter().filter(|a| a.diagnosis.verdict != Verdict::Free).collect();
    let ok = result.is_ok();
    let expect = s.expect.clone().unwrap_or(pfnscope_core::Expect { ok: true, ..Default::default() });
    let cursors = pfnscope_core::scenario::lesson::lesson_cursors(&s.lesson, &trace);
    let verdict = expect.check(&result).and_then(|()| cursors.as_ref().map(|_| ()).map_err(|e| format!("lesson: {e}")));
    let verdict = verdict.map_err(|e| format!("{name}: {e}"));
    if json {
        let steps: Vec<_> = trace
            .steps
            .iter()
            .enumerate()
            .map(|(i, st)| serde_json::json!({ "step": i + 1, "function": st.func.name(), "kind": format!("{:?}", st.kind), "text": st.text, "source": st.func.source_url() }))
            .collect();
        let out = serde_json::json!({
            "scenario": s.title,
            "operation": trace.title,
            "outcome": { "ok": ok, "message": result.clone().unwrap_or_else(|e| e) },
            "expected": expect,
            "as_expected": verdict.is_ok(),
            "checkpoints": cursors.as_ref().map(|c| c.iter().map(|c| c.map(|i| i + 1)).collect::<Vec<_>>()).unwrap_or_default(),
            "steps": steps,
            "diagnosis": attempts,
        });
        return Ok((serde_json::to_string_pretty(&out).expect("json") + "\n", verdict));
    }
    let mut out = format!("{}\n{}\n\n", s.title, trace.title);
    // Where the lesson's checkpoints stand, for whoever writes one.
    let at = cursors.clone().unwrap_or_default();
    let mark = |cursor: Option<usize>| -> String {
        at.iter().enumerate().filter(|(_, c)| **c == cursor).map(|(k, _)| format!("       ── checkpoint {}\n", k + 1)).collect()
    };
    out += &mark(None);
    for (i, st) in trace.steps.iter().enumerate() {
        out += &format!("{:>5}  {:<32} {}\n", i + 1, st.func.name(), st.text);
        out += &mark(Some(i));
    }
    out += &format!("\n{}: {}\n", if ok { "ok" } else { "failed" }, result.unwrap_or_else(|e| e));
    out += &format!("expected: {} ({})\n", expect.describe(), if verdict.is_ok() { "as expected" } else { "NOT as expected" });
    if let (Some(v), Some(base)) = (&s.variant, &before) {
        out += &variant_outcome(name, base, v, &play)?;
    }
    if !attempts.is_empty() {
        out += "\nwhy (by 6.12's rules):\n";
        for a in &attempts {
            out += &format!("step {}: {}", a.step + 1, a.diagnosis.report());
        }
    }
    Ok((out, verdict))
}

/// The scenario's historical kernel on the same starting state: its
/// outcome in a line (`pfnscope compare` shows both traces side by side).
fn variant_outcome(name: &str, base: &pfnscope_core::Machine, variant: &str, play: &pfnscope_core::Op) -> Result<String, String> {
    let against = pfnscope_view::compare::Against::parse(variant)?;
    let contest = against.contest(play)?;
    let cmp = pfnscope_view::compare::Comparison::new(base, contest);
    let o = &cmp.right.outcome;
    Ok(format!("{} on the same state: {} ({} steps; `pfnscope compare --scenario {name} --against {variant}` shows both)\n", cmp.right.label, o.text, cmp.right.trace.steps.len()))
}

/// `pfnscope contiguity`: the summary, then the windows.
pub fn contiguity(name: &str, size: &str, json: bool, all: bool) -> Result<String, String> {
    let (m, what) = load_machine(name)?;
    let pages = pfnscope_view::session::parse_size(size, m.geometry().page_size())?;
    let map = m.contiguity_map(pages);
    if json {
        return Ok(serde_json::to_string_pretty(&map).expect("json") + "\n");
    }
    Ok(describe(&map, &what, &pfnscope_view::contiguity::size_label(pages, m.geometry().page_size()), all))
}

fn describe(map: &ContiguityMap, what: &str, label: &str, all: bool) -> String {
    let mut out = format!("{what}\n{}\n", map.sentence(label));
    if !map.summary.blocked_by_rule.is_empty() {
        out += "blocked windows by rule:\n";
        for (rule, n) in map.summary.blocked_by_rule.iter() {
            out += &format!("  {rule:<20} {n}\n");
        }
    }
    let uncertain = map.windows.iter().filter(|w| w.verdict == Verdict::Migrate && w.targets == pfnscope_core::Targets::Uncertain).count();
    if uncertain > 0 {
        out += &format!("{uncertain} obtainable window(s) need migration targets the allocator may or may not find (see --json \"targets\")\n");
    }
    let mut shown: Vec<_> = map.windows.iter().collect();
    if !all {
        shown.retain(|w| w.verdict != Verdict::Blocked);
        shown.sort_by_key(|w| (w.pages_to_migrate, w.start_pfn));
        shown.truncate(10);
        out += &format!("\nthe {} cheapest obtainable windows (--all lists every window):\n", shown.len());
    } else {
        out += "\n";
    }
    out += &format!("{:<14} {:<8} {:<8} {:>8} {:>8}  {}\n", "start PFN", "zone", "verdict", "migrate", "drop", "blocked by");
    for w in shown {
        let verdict = match w.verdict {
            Verdict::Free => "free",
            Verdict::Migrate => "migrate",
            Verdict::Blocked => "blocked",
        };
        let by = match (w.blocker_pfn, w.rule) {
            (Some(p), Some(r)) => format!("{p:#x} {r} ({})", w.blocker_kind.as_deref().unwrap_or("")),
            (None, Some(r)) => r.to_string(),
            _ => String::new(),
        };
        out += &format!("{:<14} {:<8} {:<8} {:>8} {:>8}  {by}\n", format!("{:#x}", w.start_pfn), w.zone, verdict, w.pages_to_migrate, w.pages_to_drop);
    }
    out
}
