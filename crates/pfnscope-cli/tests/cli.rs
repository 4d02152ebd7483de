//! The command line, run as a user would.

use std::process::Command;

fn pfnscope(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pfnscope")).args(args).output().expect("runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn show_json_reports_zones_with_free_blocks_per_order() {
    let (ok, out, _) = pfnscope(&["show", "--machine", "teaching-16m", "--format", "json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let zone = &v["zones"][0];
    assert_eq!(zone["name"], "Normal");
    // Boot frees 0x40-0x1000: orders 6, 7, 8, 9 once and order 10 three times.
    let orders: Vec<u64> = zone["free_blocks_per_order"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(orders, vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 3]);
}

#[test]
fn same_seed_prints_the_same_buddyinfo() {
    let args = ["show", "--machine", "teaching-64m", "--workload", "desktop", "--seed", "3", "--steps", "2000", "--format", "buddyinfo"];
    let (ok, a, _) = pfnscope(&args);
    let (_, b, _) = pfnscope(&args);
    assert!(ok);
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 3);
}

#[test]
fn bad_input_is_a_clear_error() {
    let (ok, _, err) = pfnscope(&["show", "--machine", "vax"]);
    assert!(!ok);
    assert!(err.contains("unknown machine \"vax\""), "{err}");
    let (ok, _, err) = pfnscope(&["show", "--scenario", "/nonexistent/scenario.json"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/scenario.json"), "{err}");
}

#[test]
fn capture_from_a_folder_then_import_as_json() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/real-x86-64-linux-6.18");
    let out = std::env::temp_dir().join(format!("pfnscope-cli-test-{}.pfns", std::process::id()));
    let out_s = out.to_str().unwrap();
    let (ok, _, err) = pfnscope(&["capture", "--from", fixture, "-o", out_s]);
    assert!(ok, "{err}");
    let (ok, json, err) = pfnscope(&["import", out_s, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let dma = v["zones"].as_array().unwrap().iter().find(|z| z["name"] == "DMA").unwrap();
    let buddyinfo = std::fs::read_to_string(format!("{fixture}/buddyinfo")).unwrap();
    let want: Vec<u64> = buddyinfo.lines().next().unwrap().split_whitespace().skip(4).map(|n| n.parse().unwrap()).collect();
    let got: Vec<u64> = dma["free_blocks_per_order"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(got, want);
    assert_eq!(v["synthesized"], false);
    let (ok, text, _) = pfnscope(&["import", out_s]);
    assert!(ok && text.contains("zone DMA32"));
    std::fs::remove_file(&out).ok();
}

#[test]
fn importing_a_bad_file_names_it() {
    let bad = std::env::temp_dir().join(format!("pfnscope-bad-{}.pfns", std::process::id()));
    std::fs::write(&bad, b"this is not a snapshot").unwrap();
    let (ok, _, err) = pfnscope(&["import", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(bad.to_str().unwrap()) && err.contains("not a gzip"), "{err}");
    let (ok, _, err) = pfnscope(&["capture", "--from", "/nonexistent-dir", "-o", "/tmp/x.pfns"]);
    assert!(!ok && err.contains("buddyinfo"), "{err}");
    std::fs::remove_file(&bad).ok();
}

/// Seed 001's lesson on the command line: 6.12 and v4.9 differ in where
/// they fail and in what they did first.
#[test]
fn compare_prints_where_6_12_and_v4_9_differ() {
    let (ok, out, err) = pfnscope(&["compare", "--scenario", "slab-in-movable", "--against", "v4.9"]);
    assert!(ok, "{err}");
    let row = |what: &str| out.lines().find(|l| l.starts_with(what)).unwrap_or_else(|| panic!("no {what} row in\n{out}")).split_whitespace().rev().take(4).collect::<Vec<_>>().join(" ");
    assert!(row("pageblocks isolated").contains("differs"), "{out}");
    assert!(out.contains("Linux 6.12: pageblock isolation failed at 0x2100"), "{out}");
    assert!(out.contains("v4.9 (seed 001): [0x2000, 0x2200) PFNs busy"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("test ") && l.contains("fin_pfn=0x2100")) || out.contains("test_pages_isolated: test_pages_isolated"), "{out}");
    let (ok, _, err) = pfnscope(&["compare", "--scenario", "nonsense"]);
    assert!(!ok);
    assert!(err.contains("not a file, nor a built-in scenario"), "{err}");
}

/// `run` prints the trace and, for a failure, every blocker with its rule,
/// and whether it is the expected outcome; `--json` carries the same diagnosis.
#[test]
fn run_explains_a_failed_grab() {
    let (ok, out, _) = pfnscope(&["run", "pinned"]);
    assert!(ok, "the failure is the one the scenario expects");
    assert!(out.contains("failed: -EBUSY") && out.contains("expected: -EBUSY at 0x3400 (as expected)"), "{out}");
    assert!(out.contains("test_pages_isolated"), "{out}");
    assert!(out.contains("why (by 6.12's rules):") && out.contains("pinned: 1 folio(s)"), "{out}");
    // The scenario's variant plays the same state: v4.9 fails only at the
    // test, after 36 steps, where 6.12 refused at isolation.
    let (ok, out, _) = pfnscope(&["run", "slab-in-movable"]);
    assert!(ok && out.contains("v4.9 (seed 001) on the same state: [0x2000, 0x2200) PFNs busy (36 steps"), "{out}");
    let (_, json, _) = pfnscope(&["run", "slab-in-movable", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["outcome"]["ok"], false);
    let blockers = v["diagnosis"][0]["diagnosis"]["blockers"].as_array().unwrap();
    assert_eq!(blockers.len(), 1);
    assert_eq!((blockers[0]["pfn"].as_u64(), blockers[0]["rule"].as_str()), (Some(0x2100), Some("unmovable")));
    let (ok, _, _) = pfnscope(&["run", "default"]);
    assert!(ok, "the default grab succeeds");
}

/// `contiguity --json` on a real snapshot is the core's map of the same
/// machine, window for window, PFNs as numbers.
#[test]
fn contiguity_json_of_a_snapshot_is_the_cores_map() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/real-x86-64-linux-6.18/whole-machine.pfns");
    let (ok, out, err) = pfnscope(&["contiguity", path, "--size", "2M", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["size_pages"], 512);
    let bytes = std::fs::read(path).unwrap();
    let snap = pfnscope_import::Snapshot::from_bytes("s", &bytes).unwrap();
    let map = pfnscope_import::reconstruct(&snap).unwrap().machine.contiguity_map(512);
    assert_eq!(v, serde_json::to_value(&map).unwrap());
    let w = &v["windows"][0];
    assert!(w["start_pfn"].is_u64() && w["zone"].is_string() && w["verdict"].is_string());
    let (ok, human, _) = pfnscope(&["contiguity", "default", "--size", "1G"]);
    assert!(ok);
    assert!(human.contains("0 of 0 1 GiB windows obtainable"), "a 64 MiB machine has no 1 GiB window: {human}");
    let (ok, _, err) = pfnscope(&["contiguity", "default", "--size", "3X"]);
    assert!(!ok && err.contains("unknown unit"), "{err}");
}

/// Seeds 003 and 004 on the command line: the comparisons print the
/// core's figures, and `run` takes the policies as flags.
#[test]
fn the_seeds_comparisons_print_the_cores_figures() {
    use pfnscope_core::reporting::live_migration::{compare_live_migration, MigrationConfig};
    use pfnscope_core::reporting::timeline::{compare_reporting, TimelineConfig};
    let base = pfnscope_core::Scenario { play: None, ..pfnscope_core::Scenario::default() }.build().unwrap();

    let (ok, out, err) = pfnscope(&["reporting", "default", "--order", "3", "--seconds", "10", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cfg = TimelineConfig { seconds: 10, order: Some(3), ..TimelineConfig::default() };
    let [main, walk] = compare_reporting(&base, &cfg).unwrap();
    assert_eq!(v["mainline"], serde_json::to_value(&main).unwrap());
    assert_eq!(v["walk"], serde_json::to_value(&walk).unwrap());
    let (_, human, _) = pfnscope(&["reporting", "default", "--order", "3", "--seconds", "10"]);
    assert!(human.contains(&format!("seed 004's walk: {} pages in {} report call(s)", walk.last().reported_pages, walk.last().report_calls)), "{human}");

    let (ok, out, _) = pfnscope(&["migrate", "default", "--min-order", "0", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = compare_live_migration(&base, &MigrationConfig { min_order: Some(0), ..MigrationConfig::default() }).unwrap();
    assert_eq!(v["saved_pages"], c.saved_pages());
    assert!(c.saved_pages() > 0);

    let (ok, human, err) = pfnscope(&["regions", "default", "--region-size", "8M", "--steps", "2000", "--sample-every", "500"]);
    assert!(ok, "{err}");
    assert!(human.contains("202 of 210") && human.contains("region allocator (2013):"), "{human}");

    let (ok, out, _) = pfnscope(&["run", "default", "--reporting", "mainline", "--reporting-order", "3", "--json"]);
    assert!(ok);
    assert!(out.contains("\"ok\": true"));
    let (ok, _, err) = pfnscope(&["run", "default", "--allocator", "buddy"]);
    assert!(!ok && err.contains("mainline or regions"), "{err}");
    let (ok, out, _) = pfnscope(&["run", "region-allocator"]);
    assert!(ok && out.contains("kmempowerd"), "{out}");
}

/// The gallery is a regression suite: `list` names every built-in first on
/// its line, and `run` of each reaches the scenario's expected outcome and
/// finds every checkpoint of its lesson.
#[test]
fn every_built_in_scenario_is_listed_and_runs_as_expected() {
    let (ok, out, _) = pfnscope(&["list"]);
    assert!(ok);
    let names: Vec<&str> = out.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(names, pfnscope_core::Scenario::builtins().collect::<Vec<_>>());
    for name in names {
        let (ok, json, err) = pfnscope(&["run", name, "--json"]);
        assert!(ok, "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["as_expected"], true, "{name}");
    }
}

/// A hand-written file runs from its path; an outcome other than the
/// expected one exits non-zero and says what differed; a malformed file
/// names its line and column.
#[test]
fn run_checks_a_files_expected_outcome_and_reports_format_errors() {
    let dir = std::env::temp_dir().join(format!("pfnscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let good = write("slab.scenario", "title A slab page\nmachine teaching-16m\npage 0x410 slab\nplay alloc_contig_range 0x400 0x600\nexpect -EBUSY at 0x410\ncheckpoint test_pages_isolated\ntext never reached\n");
    let (ok, out, err) = pfnscope(&["run", &good]);
    assert!(!ok, "the checkpoint is not in the trace: {out}");
    assert!(err.contains("checkpoint 1: the trace has no step number 1 in test_pages_isolated()"), "{err}");
    let good = write("slab2.scenario", "title A slab page\nmachine teaching-16m\npage 0x410 slab\nplay alloc_contig_range 0x400 0x600\nexpect -EBUSY at 0x410\ncheckpoint start_isolate_page_range\ntext isolation refuses it\n");
    let (ok, out, err) = pfnscope(&["run", &good]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("expected: -EBUSY at 0x410 (as expected)"), "{out}");
    let wrong = write("wrong.scenario", "title Expecting success\nmachine teaching-16m\npage 0x410 slab\nplay alloc_contig_range 0x400 0x600\nexpect ok\n");
    let (ok, out, err) = pfnscope(&["run", &wrong]);
    assert!(!ok && out.contains("NOT as expected"), "{out}");
    assert!(err.contains("expected ok, got a failure: -EBUSY"), "{err}");
    let bad = write("bad.scenario", "title Bad\nmachine teaching-16m\nplay alloc_contig_range 0x400 0xzz\n");
    let (ok, _, err) = pfnscope(&["run", &bad]);
    assert!(!ok && err.contains("bad.scenario: line 3, column 31: the end PFN: \"0xzz\" is not a number"), "{err}");
}

/// `link` names a built-in and packs a file; the packed file is the file.
#[test]
fn link_prints_a_share_link_that_carries_the_scenario() {
    let (ok, out, _) = pfnscope(&["link", "pinned", "--step", "10"]);
    assert!(ok);
    assert_eq!(out.trim(), "http://127.0.0.1:8080/?scenario=pinned&step=10");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/tour.scenario");
    let (ok, out, _) = pfnscope(&["link", path, "--embed", "--base", "https://example.org/pfnscope/"]);
    assert!(ok);
    let query = out.trim().strip_prefix("https://example.org/pfnscope/").unwrap();
    let link = pfnscope_view::link::Link::parse(query).unwrap();
    assert!(link.embed);
    let pfnscope_view::link::Source::Inline(packed) = link.source else { panic!("{query}") };
    assert_eq!(pfnscope_view::link::unpack(&packed).unwrap(), std::fs::read_to_string(path).unwrap());
    let (ok, _, err) = pfnscope(&["link", "no-such.scenario"]);
    assert!(!ok && err.contains("no-such.scenario"), "{err}");
}

/// The example at the top of docs/scenarios.md runs as it says.
#[test]
fn the_format_documents_example_runs_as_expected() {
    let doc = include_str!("../../../docs/scenarios.md");
    let example = doc.split("```text\n").nth(1).and_then(|rest| rest.split("```").next()).expect("an example");
    let path = std::env::temp_dir().join(format!("pfnscope-doc-{}.scenario", std::process::id()));
    std::fs::write(&path, example).unwrap();
    let (ok, out, err) = pfnscope(&["run", path.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("expected: -EBUSY at 0x410 (as expected)") && out.contains("── checkpoint 2"), "{out}");
}
