//! Rendering the PFN map.
//!
//!     cargo bench -p pfnscope-view --bench render

use criterion::{criterion_group, criterion_main, Criterion};
use pfnscope_core::{Machine, MachineSpec, Scenario};
use pfnscope_view::palette::{Palette, Theme};
use pfnscope_view::raster::{render, render_dirty, Overlay};
use pfnscope_view::viewport::Viewport;

fn bench(c: &mut Criterion) {
    let p = Palette::new(Theme::Light);
    let big = Machine::new(MachineSpec::x86_64_pc(64)).unwrap();
    let v = Viewport::fit(big.pfn_span(), 1024, 640);
    c.bench_function("64 GiB machine, whole map at 1024x640", |b| b.iter(|| render(&big, &v, &p, &Overlay::default())));
    // One step of a traced 2 MiB alloc_contig_range on the same machine,
    // whole map in view: redrawn whole, or only where the step wrote.
    let mut m = big.clone();
    let start = m.zones().last().unwrap().span.start + 0x10000;
    let (_, trace) = m.record("acr", |m| m.alloc_contig_range(start, start + 512, pfnscope_core::MigrateType::Movable, false));
    let i = trace.steps.iter().position(|s| s.func == pfnscope_core::KernelFn::SplitFreePages).unwrap_or(trace.steps.len() / 2);
    m.seek(trace.position_after(i.checked_sub(1)));
    let before = render(&m, &v, &p, &Overlay::default());
    let from = m.store().position();
    m.seek(trace.position_after(Some(i)));
    let dirty = m.touched_pfns(from, m.store().position());
    println!("64 GiB step {i} ({}): {} dirty range(s), {} pages", trace.steps[i].text, dirty.len(), dirty.iter().map(|r| r.len()).sum::<u64>());
    c.bench_function("64 GiB machine, one step, whole map redrawn", |b| b.iter(|| render(&m, &v, &p, &Overlay::default())));
    c.bench_function("64 GiB machine, one step, only what it changed", |b| {
        b.iter(|| {
            let mut buf = before.clone();
            render_dirty(&mut buf, &m, &v, &p, &Overlay::default(), &dirty);
            buf
        })
    });
    let small = Scenario::default().build().unwrap();
    let v = Viewport::fit(small.pfn_span(), 1024, 640);
    c.bench_function("default scenario, whole map at 1024x640", |b| b.iter(|| render(&small, &v, &p, &Overlay::default())));
}

criterion_group!(benches, bench);
criterion_main!(benches);
