//! Ages a machine preset to a lived-in steady state and prints what it
//! holds, with the time it took.
//!
//!     cargo run --release -p pfnscope-core --example age -- x86-64-64g desktop 1

use pfnscope_core::{Machine, MachineSpec, PageKind, Workload, WorkloadSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let machine = args.first().map_or("x86-64-64g", String::as_str);
    let preset = args.get(1).map_or("desktop", String::as_str);
    let seed = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let t = std::time::Instant::now();
    let mut m = Machine::new(MachineSpec::preset(machine).ok_or("unknown machine preset")?)?;
    let booted = t.elapsed();
    let mut w = Workload::new(WorkloadSpec::named(preset)?, seed)?;
    let t = std::time::Instant::now();
    let mut slices = 0;
    let progress = loop {
        slices += 1;
        let p = w.age(&mut m, 1 << 16);
        if p.finished {
            break p;
        }
    };
    let aged = t.elapsed();
    let mut by_kind = [0u64; PageKind::ALL.len()];
    let (mut free, mut folios) = (0u64, 0u64);
    for word in m.page_words() {
        if let Some(u) = word.as_in_use() {
            by_kind[u.kind as usize] += 1;
            folios += u.flags.contains(pfnscope_core::PageFlags::HEAD) as u64;
        } else if matches!(word.tag(), pfnscope_core::Tag::Buddy | pfnscope_core::Tag::FreeTail | pfnscope_core::Tag::Pcp) {
            free += 1;
        }
    }
    let total: u64 = m.zones().iter().map(|z| z.managed_pages).sum();
    println!("{machine}, {preset}, seed {seed}: booted in {booted:.2?}, aged in {aged:.2?} ({slices} slices of 65,536 steps)");
    println!("{} PFNs, {:.3} bytes of state per PFN", m.pfn_span().len(), m.bytes_per_pfn());
    println!("free: {:.1}% of {total} managed pages; reclaim freed {} pages; {folios} compound folios", free as f64 * 100.0 / total as f64, progress.reclaimed);
    for k in PageKind::ALL {
        let n = by_kind[k as usize];
        if n > 0 {
            println!("  {:<22} {:>6.1}%", k.label(), n as f64 * 100.0 / total as f64);
        }
    }
    for (zi, z) in m.zones().iter().enumerate() {
        println!("  zone {:?}: free {} pages, watermarks min/low/high {:?}", z.zone_type, m.zone_free_pages(zi), z.watermark);
    }
    m.check_invariants()?;
    Ok(())
}
