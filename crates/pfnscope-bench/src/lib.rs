//! The core benchmarks that run the same code natively and as wasm in a
//! browser, so that the two can be compared figure by figure: allocation
//! patterns (the peer benchmark's three), a 1 GiB contiguous range taken
//! and given back, booting a machine and aging one to a lived-in state.
//!
//! The clock is the caller's (`Instant` natively, `performance.now()` in a
//! browser); everything else is plain Rust. Each figure is the median of
//! five runs.
//!
//! ```
//! let figures = pfnscope_bench::run(&|| 0.0, pfnscope_bench::Size::Smoke);
//! assert!(figures.iter().any(|f| f.name == "tight alloc+free of one page"));
//! ```

use pfnscope_core::{Gfp, Machine, MachineSpec, MigrateType, PageKind, Workload, WorkloadSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One measured figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: &'static str,
    /// Nanoseconds per operation (per boot, range or aging for those).
    pub ns: f64,
    /// A state fingerprint after the figure's last run: equal natively and
    /// in wasm when both computed the same machine.
    pub fingerprint: u64,
}

/// How much work: `Full` for figures, `Smoke` for a test that the code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Full,
    Smoke,
}

/// Milliseconds from some fixed start.
pub type Clock<'a> = &'a dyn Fn() -> f64;

/// The median of five timed runs of `op`, each doing `n` operations.
fn median(clock: Clock, n: u64, mut op: impl FnMut(u64)) -> f64 {
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let start = clock();
            op(n);
            (clock() - start) * 1e6 / n as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[2]
}

fn machine(gib: u64, journal: bool) -> Machine {
    let mut m = Machine::new(MachineSpec::x86_64_pc(gib)).expect("a preset machine");
    m.set_journaling(journal);
    m
}

/// Runs every benchmark and returns its figures.
pub fn run(clock: Clock, size: Size) -> Vec<Figure> {
    let (ops, pool, gib) = match size {
        Size::Full => (1u64 << 20, 1usize << 20, 16),
        Size::Smoke => (64, 256, 1),
    };
    let mut out = Vec::new();
    let mut push = |name, ns, m: &Machine| out.push(Figure { name, ns, fingerprint: m.fingerprint() });

    let mut m = machine(gib, false);
    let ns = median(clock, if size == Size::Full { 3 } else { 1 }, |n| (0..n).for_each(|_| m = machine(gib, false)));
    push("boot a 16 GiB machine", ns, &m);

    for journal in [false, true] {
        let mut m = machine(gib, journal);
        let ns = median(clock, ops, |n| {
            for _ in 0..n {
                let p = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).expect("free memory");
                m.free_pages(p, 0).expect("allocated");
            }
            m.forget_journal();
        });
        push(if journal { "tight alloc+free of one page, journal on" } else { "tight alloc+free of one page" }, ns, &m);
    }

    let mut m = machine(gib, false);
    let mut live: Vec<u64> = (0..pool).map(|_| m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).expect("free memory")).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let ns = median(clock, ops, |n| {
        for _ in 0..n {
            let i = rng.random_range(0..pool);
            m.free_pages(live[i], 0).expect("allocated");
            live[i] = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).expect("free memory");
        }
    });
    push("random pool of a million live pages", ns, &m);

    for journal in [false, true] {
        let mut m = machine(gib, false);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut live: Vec<(u64, u8)> = (0..4096.min(pool))
            .map(|_| {
                let o = rng.random_range(0..=9u8);
                (m.alloc_pages(Gfp::KERNEL, o, PageKind::Kernel).expect("free memory"), o)
            })
            .collect();
        m.set_journaling(journal);
        let ns = median(clock, ops / 4, |n| {
            for _ in 0..n {
                let i = rng.random_range(0..live.len());
                let (p, o) = live[i];
                m.free_pages(p, o).expect("allocated");
                let o = rng.random_range(0..=9u8);
                live[i] = (m.alloc_pages(Gfp::KERNEL, o, PageKind::Kernel).expect("free memory"), o);
            }
            m.forget_journal();
        });
        push(if journal { "mixed orders 0-9, journal on" } else { "mixed orders 0-9" }, ns, &m);
    }

    let range = if size == Size::Full { 1u64 << 18 } else { 1 << 12 };
    let mut m = machine(gib, false);
    let end = m.zones().last().expect("zones").span.end & !(range - 1);
    let start = end - range;
    let alloc = |m: &mut Machine| m.alloc_contig_range(start, end, MigrateType::Movable, false).expect("a free range");
    let free = |m: &mut Machine| {
        m.free_contig_range(start, range).expect("held");
        m.drain_all_pages(None);
    };
    let (mut a, mut f) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = clock();
        alloc(&mut m);
        a.push((clock() - t) * 1e6);
        let t = clock();
        free(&mut m);
        f.push((clock() - t) * 1e6);
    }
    a.sort_by(f64::total_cmp);
    f.sort_by(f64::total_cmp);
    push("alloc_contig_range of a free 1 GiB", a[2], &m);
    push("free_contig_range of 1 GiB, and the drain", f[2], &m);

    let mut m = machine(if size == Size::Full { 4 } else { 1 }, false);
    let base = m.clone();
    let ns = median(clock, 1, |_| {
        m = base.clone();
        let mut w = Workload::new(WorkloadSpec::desktop(), 1).expect("a preset");
        while !w.age(&mut m, u64::MAX).finished {}
    });
    push("lived-in aging of a 4 GiB desktop", ns, &m);
    out
}

/// The figures as JSON (no dependency for so little).
pub fn to_json(figures: &[Figure]) -> String {
    let rows: Vec<String> = figures.iter().map(|f| format!("{{\"name\": \"{}\", \"ns\": {:.1}, \"fingerprint\": \"{:016x}\"}}", f.name, f.ns, f.fingerprint)).collect();
    format!("[\n  {}\n]", rows.join(",\n  "))
}
