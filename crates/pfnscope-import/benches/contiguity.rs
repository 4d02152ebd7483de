//! The contiguity map at real sizes: the 24 GiB snapshot in
//! tests/fixtures (6.55 M PFNs) and a 64 GiB machine filled with page
//! cache, anon memory and scattered slab, for 2 MiB and 1 GiB windows.
//!
//!     cargo bench -p pfnscope-import --bench contiguity

use criterion::{criterion_group, criterion_main, Criterion};
use pfnscope_core::{Gfp, Machine, MachineSpec, PageKind};
use pfnscope_import::{reconstruct, Snapshot};

fn real_snapshot() -> Machine {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/real-x86-64-linux-6.18/whole-machine.pfns");
    let bytes = std::fs::read(path).expect("fixture");
    reconstruct(&Snapshot::from_bytes("whole-machine.pfns", &bytes).unwrap()).unwrap().machine
}

/// 64 GiB, about 90% in use: page cache and anon in 4 KiB pages and THP,
/// and a slab page in one pageblock of 64.
fn full_64g() -> Machine {
    let mut m = Machine::new(MachineSpec::x86_64_pc(64)).unwrap();
    let total: u64 = (0..m.zones().len()).map(|zi| m.zone_free_pages(zi) as u64).sum();
    let mut used = 0u64;
    let mut i = 0u64;
    while used < total / 10 * 9 {
        let (order, kind, gfp) = match i % 8 {
            0 => (9, PageKind::Anon, Gfp::HIGHUSER_MOVABLE),
            1..=3 => (0, PageKind::File, Gfp::HIGHUSER_MOVABLE),
            _ => (0, PageKind::Anon, Gfp::HIGHUSER_MOVABLE),
        };
        if m.alloc_pages(gfp, order, kind).is_err() {
            break;
        }
        used += 1 << order;
        if i.is_multiple_of(64 * 64) {
            let _ = m.alloc_pages(Gfp::KERNEL, 0, PageKind::SlabUnmovable);
        }
        i += 1;
    }
    m.lru_add_drain_all();
    m
}

fn contiguity(c: &mut Criterion) {
    let real = real_snapshot();
    let full = full_64g();
    let map = full.contiguity_map(512);
    println!(
        "64 GiB filled: {} PFNs, {} windows of 2 MiB: {} free, {} migrate, {} blocked",
        full.pfn_span().len(),
        map.summary.windows,
        map.summary.free,
        map.summary.migrate,
        map.summary.blocked
    );
    let mut g = c.benchmark_group("contiguity map");
    g.sample_size(10);
    g.bench_function("real 24 GiB snapshot, 2 MiB windows", |b| b.iter(|| real.contiguity_map(512)));
    g.bench_function("64 GiB filled, 2 MiB windows", |b| b.iter(|| full.contiguity_map(512)));
    g.bench_function("64 GiB filled, 1 GiB windows", |b| b.iter(|| full.contiguity_map(1 << 18)));
    g.finish();
}

criterion_group!(benches, contiguity);
criterion_main!(benches);
