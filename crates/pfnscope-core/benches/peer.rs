//! pfnscope's allocator against the peer crate and the floor, in one run.
//!
//!     cargo bench -p pfnscope-core --bench peer
//!
//! Three patterns on about 4 M frames (a 16 GiB machine; the peer's
//! `FrameAllocator` over the same count): a tight alloc+free of one page,
//! a random pool of a million live pages (each operation frees a random
//! one and allocates another), and mixed orders 0-9 over a pool of 4096
//! blocks. pfnscope runs with journaling off and on (the journal is
//! cleared between timed batches, as a player would trim it). The floor is
//! one random read of a page word per operation in an array as large as
//! pfnscope's. The kernel's own figure (order-0 alloc+free, page_bench02)
//! is quoted in BENCHMARKS.md beside these.

use std::hint::black_box;
use std::time::{Duration, Instant};

use buddy_system_allocator::FrameAllocator;
use criterion::{criterion_group, criterion_main, Criterion};
use pfnscope_core::{Gfp, Machine, MachineSpec, PageKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FRAMES: usize = 4 << 20;
const POOL: usize = 1 << 20;
const MIXED_POOL: usize = 4096;
/// Operations per timed batch; the journal is cleared between batches.
const BATCH: u64 = 1 << 16;

fn machine(journal: bool) -> Machine {
    let mut m = Machine::new(MachineSpec::x86_64_pc(16)).unwrap();
    m.set_journaling(journal);
    m
}

/// Times `op` `iters` times in batches, clearing the journal between them.
fn timed(m: &mut Machine, iters: u64, mut op: impl FnMut(&mut Machine)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BATCH.min(iters - done);
        let t = Instant::now();
        for _ in 0..n {
            op(m);
        }
        total += t.elapsed();
        m.forget_journal();
        done += n;
    }
    total
}

fn tight(c: &mut Criterion) {
    let mut g = c.benchmark_group("tight alloc+free of one page");
    for journal in [false, true] {
        let mut m = machine(journal);
        g.bench_function(if journal { "pfnscope, journal on" } else { "pfnscope, journal off" }, |b| {
            b.iter_custom(|iters| {
                timed(&mut m, iters, |m| {
                    let p = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap();
                    m.free_pages(p, 0).unwrap();
                })
            })
        });
    }
    let mut peer = FrameAllocator::<32>::new();
    peer.add_frame(0, FRAMES);
    g.bench_function("buddy_system_allocator", |b| {
        b.iter(|| {
            let p = peer.alloc(1).unwrap();
            peer.dealloc(black_box(p), 1);
        })
    });
    g.finish();
}

fn pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("random pool of a million live pages");
    g.sample_size(20);
    for journal in [false, true] {
        let mut m = machine(false);
        let mut live: Vec<u64> = (0..POOL).map(|_| m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap()).collect();
        m.set_journaling(journal);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        g.bench_function(if journal { "pfnscope, journal on" } else { "pfnscope, journal off" }, |b| {
            b.iter_custom(|iters| {
                timed(&mut m, iters, |m| {
                    let i = rng.random_range(0..POOL);
                    m.free_pages(live[i], 0).unwrap();
                    live[i] = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap();
                })
            })
        });
    }
    let mut peer = FrameAllocator::<32>::new();
    peer.add_frame(0, FRAMES);
    let mut live: Vec<usize> = (0..POOL).map(|_| peer.alloc(1).unwrap()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    g.bench_function("buddy_system_allocator", |b| {
        b.iter(|| {
            let i = rng.random_range(0..POOL);
            peer.dealloc(live[i], 1);
            live[i] = peer.alloc(1).unwrap();
        })
    });
    // The floor: one random read of a page word in an array as large as
    // pfnscope's page array.
    let words: Vec<u64> = (0..FRAMES as u64).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    g.bench_function("floor: one random page-word read", |b| b.iter(|| black_box(words[rng.random_range(0..FRAMES)])));
    g.finish();
}

fn mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixed orders 0-9");
    for journal in [false, true] {
        let mut m = machine(false);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut live: Vec<(u64, u8)> = (0..MIXED_POOL)
            .map(|_| {
                let o = rng.random_range(0..=9u8);
                (m.alloc_pages(Gfp::KERNEL, o, PageKind::Kernel).unwrap(), o)
            })
            .collect();
        m.set_journaling(journal);
        g.bench_function(if journal { "pfnscope, journal on" } else { "pfnscope, journal off" }, |b| {
            b.iter_custom(|iters| {
                timed(&mut m, iters, |m| {
                    let i = rng.random_range(0..MIXED_POOL);
                    let (p, o) = live[i];
                    m.free_pages(p, o).unwrap();
                    let o = rng.random_range(0..=9u8);
                    live[i] = (m.alloc_pages(Gfp::KERNEL, o, PageKind::Kernel).unwrap(), o);
                })
            })
        });
    }
    let mut peer = FrameAllocator::<32>::new();
    peer.add_frame(0, FRAMES);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut live: Vec<(usize, usize)> = (0..MIXED_POOL)
        .map(|_| {
            let n = 1usize << rng.random_range(0..=9u32);
            (peer.alloc(n).unwrap(), n)
        })
        .collect();
    g.bench_function("buddy_system_allocator", |b| {
        b.iter(|| {
            let i = rng.random_range(0..MIXED_POOL);
            let (p, n) = live[i];
            peer.dealloc(p, n);
            let n = 1usize << rng.random_range(0..=9u32);
            live[i] = (peer.alloc(n).unwrap(), n);
        })
    });
    g.finish();
}

criterion_group!(benches, tight, pool, mixed);
criterion_main!(benches);
