//! Rendering the PFN map.
//!
//!     cargo bench -p pfnscope-view --bench render

use criterion::{criterion_group, criterion_main, Criterion};
use pfnscope_core::{Machine, MachineSpec, Scenario};
use pfnscope_view::palette::{Palette, Theme};
use pfnscope_view::raster::{render, Overlay};
use pfnscope_view::viewport::Viewport;

fn bench(c: &mut Criterion) {
    let p = Palette::new(Theme::Light);
    let big = Machine::new(MachineSpec::x86_64_pc(64)).unwrap();
    let v = Viewport::fit(big.pfn_span(), 1024, 640);
    c.bench_function("64 GiB machine, whole map at 1024x640", |b| b.iter(|| render(&big, &v, &p, &Overlay::default())));
    let small = Scenario::default().build().unwrap();
    let v = Viewport::fit(small.pfn_span(), 1024, 640);
    c.bench_function("default scenario, whole map at 1024x640", |b| b.iter(|| render(&small, &v, &p, &Overlay::default())));
}

criterion_group!(benches, bench);
criterion_main!(benches);
