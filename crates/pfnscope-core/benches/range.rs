//! Bulk range work: a free 1 GiB range of a 16 GiB machine taken by
//! `alloc_contig_range()` and given back by `free_contig_range()` (and the
//! drain that empties the per-cpu lists), journaling off and on, beside the
//! floor: one linear read and one linear write pass over the same 262,144
//! page words.
//!
//!     cargo bench -p pfnscope-core --bench range
//!
//! Prints the journal a traced round trip writes first.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use pfnscope_core::{Machine, MachineSpec, MigrateType};

const GIB_PAGES: u64 = 1 << 18;

/// A 16 GiB machine and the last whole 1 GiB of its Normal zone, all free.
fn machine(journal: bool) -> (Machine, u64) {
    let mut m = Machine::new(MachineSpec::x86_64_pc(16)).unwrap();
    m.set_journaling(journal);
    let end = m.zones().last().unwrap().span.end & !(GIB_PAGES - 1);
    (m, end - GIB_PAGES)
}

fn round_trip(m: &mut Machine, start: u64) {
    m.alloc_contig_range(start, start + GIB_PAGES, MigrateType::Movable, false).unwrap();
    m.free_contig_range(start, GIB_PAGES).unwrap();
    m.drain_all_pages(None);
}

fn journal_size() {
    let (mut m, start) = machine(false);
    let (_, trace) = m.record("round trip", |m| round_trip(m, start));
    let entries = m.store().journal_len();
    eprintln!(
        "traced 1 GiB round trip: {} steps, {entries} journal entries, {} bytes of journal",
        trace.steps.len(),
        m.store().journal_bytes()
    );
}

/// Times `timed` only, `iters` times, running `untimed` after each.
fn alternate(m: &mut Machine, iters: u64, mut timed: impl FnMut(&mut Machine), mut untimed: impl FnMut(&mut Machine)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        timed(m);
        total += t.elapsed();
        untimed(m);
        m.forget_journal();
    }
    total
}

fn range(c: &mut Criterion) {
    journal_size();
    let mut g = c.benchmark_group("1 GiB range");
    g.sample_size(20);
    let mut words = vec![0u64; GIB_PAGES as usize];
    g.bench_function("floor: linear read pass", |b| b.iter(|| black_box(&words).iter().fold(0u64, |a, &w| a ^ w)));
    g.bench_function("floor: linear write pass", |b| {
        b.iter(|| {
            for (i, w) in words.iter_mut().enumerate() {
                *w = i as u64;
            }
            black_box(&words);
        })
    });
    for journal in [false, true] {
        let on = if journal { "journal on" } else { "journal off" };
        let (mut m, start) = machine(journal);
        let alloc = move |m: &mut Machine| {
            m.alloc_contig_range(start, start + GIB_PAGES, MigrateType::Movable, false).unwrap();
        };
        let free = move |m: &mut Machine| {
            m.free_contig_range(start, GIB_PAGES).unwrap();
            m.drain_all_pages(None);
        };
        g.bench_function(format!("alloc_contig_range, {on}"), |b| b.iter_custom(|n| alternate(&mut m, n, alloc, free)));
        m.alloc_contig_range(start, start + GIB_PAGES, MigrateType::Movable, false).unwrap();
        g.bench_function(format!("free_contig_range + drain, {on}"), |b| b.iter_custom(|n| alternate(&mut m, n, free, alloc)));
    }
    g.finish();
}

criterion_group!(benches, range);
criterion_main!(benches);
