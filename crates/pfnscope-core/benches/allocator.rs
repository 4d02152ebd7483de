//! Allocator speed at real-machine scale.
//!
//!     cargo bench -p pfnscope-core --bench allocator
//!
//! Prints the per-PFN memory of a 64 GiB machine first.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pfnscope_core::{Gfp, Machine, MachineSpec, PageKind, Scenario, Workload, WorkloadSpec};

fn boot(c: &mut Criterion) {
    let m = Machine::new(MachineSpec::x86_64_pc(64)).unwrap();
    let pfns = m.pfn_span().len();
    eprintln!(
        "x86-64 64 GiB: {pfns} PFNs in the page array, {:.3} bytes of state per PFN, {} MB of state",
        m.bytes_per_pfn(),
        m.store().state_bytes() >> 20
    );
    let mut g = c.benchmark_group("boot");
    g.sample_size(10);
    g.bench_function("x86-64 64 GiB", |b| b.iter(|| Machine::new(MachineSpec::x86_64_pc(64)).unwrap()));
    g.finish();
}

fn alloc_free(c: &mut Criterion) {
    let mut m = Machine::new(MachineSpec::x86_64_pc(16)).unwrap();
    c.bench_function("alloc+free order 0 (pcp)", |b| {
        b.iter(|| {
            let p = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::Anon).unwrap();
            m.free_pages(p, 0).unwrap();
        })
    });
    c.bench_function("alloc+free order 9 (buddy)", |b| {
        b.iter(|| {
            let p = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 9, PageKind::Anon).unwrap();
            m.free_pages(p, 9).unwrap();
        })
    });
}

fn workload(c: &mut Criterion) {
    let base = Machine::new(MachineSpec::x86_64_pc(16)).unwrap();
    c.bench_function("desktop workload, 10k steps on 16 GiB", |b| {
        b.iter_batched(
            || (base.clone(), Workload::new(WorkloadSpec::desktop(), 1).unwrap()),
            |(mut m, mut w)| w.run(&mut m, 10_000, |_| {}),
            BatchSize::LargeInput,
        )
    });
}

fn trace_seek(c: &mut Criterion) {
    let mut m = Scenario::default().build().unwrap();
    let (_, trace) = m.record("t", |m| {
        for _ in 0..200 {
            let _ = m.alloc_pages(Gfp::KERNEL, 0, PageKind::SlabUnmovable);
        }
    });
    let (start, end) = (trace.position_after(None), trace.position_after(Some(trace.steps.len())));
    c.bench_function("seek across a 200-allocation trace and back", |b| {
        b.iter(|| {
            m.seek(start);
            m.seek(end);
        })
    });
}

criterion_group!(benches, boot, alloc_free, workload, trace_seek);
criterion_main!(benches);
