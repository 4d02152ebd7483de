//! The importer's soak run: random and mutated inputs, each an error or a
//! machine that passes `check_invariants()`, never a panic. Outside the
//! test command; its counts go in BENCHMARKS.md.
//!
//!     cargo run --release -p pfnscope-import --example soak_import -- 1000000 [seed]
//!
//! Inputs: snapshot containers of small simulated machines (their own
//! buddyinfo and pagetypeinfo, a zoneinfo, kpageflags), with bytes flipped,
//! cut, duplicated or replaced; /proc texts with lines and numbers mutated;
//! and random bytes.

use pfnscope_core::{MachineSpec, Scenario};
use pfnscope_import::{reconstruct, Snapshot};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A few real-looking snapshots to mutate.
fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (machine, steps) in [("teaching-16m", 500), ("teaching-64m", 3000), ("teaching-64m", 0)] {
        let m = Scenario { machine: machine.into(), steps, play: None, setup: vec![], ..Scenario::default() }.build().unwrap();
        let span = m.pfn_span();
        let flags: Vec<u64> = (span.start..span.end)
            .map(|p| match m.page(p).as_in_use() {
                Some(_) => 1 << 5,           // LRU
                None if m.is_free(p) => 1 << 10, // BUDDY
                None => 1 << 20,             // NOPAGE
            })
            .collect();
        let snap = Snapshot { buddyinfo: m.buddyinfo(), pagetypeinfo: Some(m.pagetypeinfo()), zoneinfo: Some(m.zoneinfo()), kpageflags: Some((span.start, flags)) };
        out.push(snap.to_raw());
        out.push(Snapshot { kpageflags: None, ..snap.clone() }.to_raw());
        out.push(m.buddyinfo().into_bytes());
    }
    let _ = MachineSpec::PRESETS;
    out
}

fn mutate(rng: &mut ChaCha8Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if v.is_empty() {
            v.push(rng.random());
            continue;
        }
        let i = rng.random_range(0..v.len());
        match rng.random_range(0..6) {
            0 => v[i] ^= 1 << rng.random_range(0..8),
            1 => v.truncate(i),
            2 => {
                let j = rng.random_range(i..v.len());
                let piece = v[i..j].to_vec();
                v.splice(i..i, piece);
            }
            3 => v[i] = b"0123456789 \n-x"[rng.random_range(0..14)],
            4 => {
                v.remove(i);
            }
            _ => v.insert(i, rng.random()),
        }
    }
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let corpus = corpus();
    let (mut machines, mut errors) = (0u64, 0u64);
    let started = std::time::Instant::now();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..total {
        let input = match rng.random_range(0..10) {
            0 => (0..rng.random_range(0..300)).map(|_| rng.random()).collect(),
            _ => {
                let base = &corpus[rng.random_range(0..corpus.len())];
                mutate(&mut rng, base)
            }
        };
        let outcome = std::panic::catch_unwind(|| {
            let snap = if Snapshot::is_raw(&input) {
                Snapshot::from_raw("soak", &input).map_err(|e| e.to_string())?
            } else {
                let text = std::str::from_utf8(&input).map_err(|e| e.to_string())?;
                Snapshot { buddyinfo: text.to_string(), ..Default::default() }
            };
            let imported = reconstruct(&snap).map_err(|e| e.to_string())?;
            imported.machine.check_invariants().map_err(|v| format!("INVARIANT {v}"))?;
            Ok::<(), String>(())
        });
        match outcome {
            Ok(Ok(())) => machines += 1,
            Ok(Err(e)) if e.starts_with("INVARIANT") => {
                eprintln!("soak_import: input {i} (seed {seed}) imported into a broken machine: {e}");
                std::fs::write("soak-import-failure.bin", &input).ok();
                std::process::exit(1);
            }
            Ok(Err(_)) => errors += 1,
            Err(_) => {
                eprintln!("soak_import: input {i} (seed {seed}) panicked; written to soak-import-failure.bin");
                std::fs::write("soak-import-failure.bin", &input).ok();
                std::process::exit(2);
            }
        }
    }
    println!(
        "soak_import: {total} inputs: {machines} imported into machines that pass check_invariants(), {errors} refused with an error, 0 panics ({:.1} s, seed {seed})",
        started.elapsed().as_secs_f64()
    );
}
