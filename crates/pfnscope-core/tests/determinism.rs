//! The same scenario gives the same machine on every platform. This test
//! computes state fingerprints natively and compares them with
//! tests/fixtures/determinism.json at the repository root; the browser tests
//! compare the same file with what the wasm build computes. After a change
//! that alters machines on purpose, rewrite the file with
//! `PFNSCOPE_BLESS=1 cargo test -p pfnscope-core --test determinism`.

use pfnscope_core::Scenario;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/determinism.json");

fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    for (machine, workload, seed, steps) in [
        ("teaching-16m", None, 0, 0),
        ("teaching-64m", Some("desktop"), 42, 12_000),
        ("teaching-64m", Some("file-server"), 7, 8_000),
        ("teaching-64m", Some("vm-host"), 3, 8_000),
        ("arm64-16k-4g", Some("desktop"), 1, 3_000),
    ] {
        out.push(Scenario { workload: workload.map(Into::into), seed, steps, ..Scenario::blank(&format!("{machine} {workload:?} {seed}"), machine) });
    }
    out
}

#[test]
fn fingerprints_match_the_fixture() {
    let computed: Vec<(Scenario, String)> =
        scenarios().into_iter().map(|s| { let f = s.build().unwrap().fingerprint(); (s, format!("{f:016x}")) }).collect();
    let json = serde_json::to_string_pretty(&computed).unwrap() + "\n";
    if std::env::var_os("PFNSCOPE_BLESS").is_some() {
        std::fs::write(FIXTURE, &json).unwrap();
    }
    let fixture = std::fs::read_to_string(FIXTURE).expect("tests/fixtures/determinism.json (bless it first)");
    let expected: Vec<(Scenario, String)> = serde_json::from_str(&fixture).unwrap();
    assert_eq!(expected.len(), computed.len());
    for ((s, want), (_, got)) in expected.iter().zip(&computed) {
        assert_eq!(want, got, "{}: the machine changed; if on purpose, bless the fixture", s.title);
    }
}
