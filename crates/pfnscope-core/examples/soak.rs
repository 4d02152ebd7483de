//! The soak run: random operation sequences on fresh machines with random
//! policies, `check_invariants()` after every operation. Outside the test
//! command; its counts go in BENCHMARKS.md.
//!
//!     cargo run --release -p pfnscope-core --example soak -- 1000000 [seed]
//!
//! Prints the operations run, how many succeeded and failed cleanly, and
//! exits non-zero at the first broken invariant or panic, naming the seed,
//! the machine and the operation.

use pfnscope_core::{AllocatorPolicy, Gfp, Machine, MachineSpec, MigrateType, PageKind, ReportingPolicy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Operations per machine before a fresh one.
const PER_MACHINE: u64 = 400;

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut done, mut ok, mut refused) = (0u64, 0u64, 0u64);
    let started = std::time::Instant::now();
    while done < total {
        let big = rng.random_bool(0.5);
        let mut m = Machine::new(if big { MachineSpec::teaching_64m() } else { MachineSpec::teaching_16m() }).unwrap();
        let reporting = ReportingPolicy::ALL[rng.random_range(0..3)];
        let order = rng.random_range(0..=10u8);
        m.page_reporting_register(reporting, Some(order)).unwrap();
        let allocator = rng.random_range(0..3usize);
        if allocator > 0 {
            m.regions_register(AllocatorPolicy::ALL[allocator - 1], Some(1024)).unwrap();
        }
        let what = format!("{} reporting {reporting:?} from {order}, allocator {allocator}", m.spec().name);
        let mut live: Vec<(u64, u8)> = Vec::new();
        let mut contig: Vec<(u64, u64)> = Vec::new();
        for i in 0..PER_MACHINE.min(total - done) {
            let choice = rng.random_range(0..100);
            let r: Result<(), String> = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let r = match choice {
                    0..=39 => {
                        let gfp = Gfp::ALL[rng.random_range(0..Gfp::ALL.len())];
                        let o = if rng.random_bool(0.8) { rng.random_range(0..=3) } else { rng.random_range(4..=10) };
                        m.alloc_pages(gfp, o, PageKind::Kernel).map(|p| live.push((p, o))).map_err(|e| e.to_string())
                    }
                    40..=74 if !live.is_empty() => {
                        let (p, o) = live.swap_remove(rng.random_range(0..live.len()));
                        m.free_pages(p, o).map(|_| ()).map_err(|e| e.to_string())
                    }
                    75..=80 => {
                        let start = rng.random_range(0..0x4000u64);
                        let len = rng.random_range(1..1200u64);
                        let mt = if rng.random_bool(0.3) { MigrateType::Cma } else { MigrateType::Movable };
                        m.alloc_contig_range(start, start + len, mt, false).map(|_| contig.push((start, len))).map_err(|e| e.to_string())
                    }
                    81..=84 if !contig.is_empty() => {
                        let (s, n) = contig.swap_remove(rng.random_range(0..contig.len()));
                        m.free_contig_range(s, n).map_err(|e| e.to_string())
                    }
                    85..=89 => {
                        m.advance_clock(rng.random_range(0..5000));
                        Ok(())
                    }
                    90..=92 => m.free_page_hint_walk(rng.random_range(0..=11)).map(|_| ()).map_err(|e| e.to_string()),
                    93..=95 => {
                        m.kmempowerd(rng.random_range(0..=100));
                        Ok(())
                    }
                    _ => {
                        m.drain_all_pages(None);
                        m.lru_add_drain_all();
                        Ok(())
                    }
                };
                // Pages migrated by a grab or by kmempowerd move: follow them.
                for (old, new) in m.take_migrations() {
                    if let Some(e) = live.iter_mut().find(|e| e.0 == old) {
                        match new {
                            Some(n) => e.0 = n,
                            None => e.0 = u64::MAX,
                        }
                    }
                }
                live.retain(|e| e.0 != u64::MAX);
                r
            }))
            .unwrap_or_else(|_| {
                eprintln!("soak: PANIC on {what}, seed {seed}, operation {i} (choice {choice})");
                std::process::exit(2);
            });
            match r {
                Ok(()) => ok += 1,
                Err(_) => refused += 1,
            }
            if let Err(v) = m.check_quiescent() {
                eprintln!("soak: {v}\n  on {what}, seed {seed}, operation {i} (choice {choice})");
                std::process::exit(1);
            }
            done += 1;
        }
    }
    println!(
        "soak: {done} operations, each followed by check_quiescent(): {ok} succeeded, {refused} refused with an error, 0 broken invariants, 0 panics ({:.1} s, seed {seed})",
        started.elapsed().as_secs_f64()
    );
}
