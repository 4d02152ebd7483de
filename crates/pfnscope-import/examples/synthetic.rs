//! Writes a synthetic snapshot file of a lived-in machine: its buddyinfo,
//! pagetypeinfo, zoneinfo and a kpageflags word for every PFN, as
//! `pfnscope capture` writes a real one. At 1 TiB it measures the importer
//! at a size no machine at hand has:
//!
//!     cargo run --release -p pfnscope-import --example synthetic -- x86-64-1t desktop 1 /tmp/1t.pfns
//!     /usr/bin/time -v target/release/pfnscope import /tmp/1t.pfns
//!
//! Page flags: a hole reads NOPAGE; a free page (on a buddy or per-cpu
//! list) BUDDY; page cache LRU (and DIRTY); anon LRU, ANON and MMAP; THP
//! and compound folios HEAD or TAIL; slab SLAB; page tables PGTABLE;
//! reserved memory RESERVED; other kernel memory no flag.

use pfnscope_core::{Machine, PageFlags, PageKind, Scenario, Tag};
use pfnscope_import::kpageflags::*;
use pfnscope_import::Snapshot;

fn flags(m: &Machine, pfn: u64) -> u64 {
    let w = m.page(pfn);
    let bit = |b: u32| 1u64 << b;
    let Some(u) = w.as_in_use() else {
        return match w.tag() {
            Tag::Hole => bit(KPF_NOPAGE),
            _ => bit(KPF_BUDDY),
        };
    };
    let mut f = match u.kind {
        PageKind::Anon => bit(KPF_LRU) | bit(KPF_ANON) | bit(KPF_MMAP),
        PageKind::File => bit(KPF_LRU),
        PageKind::SlabReclaimable | PageKind::SlabUnmovable => bit(KPF_SLAB),
        PageKind::PageTable => bit(KPF_PGTABLE),
        PageKind::Reserved => bit(KPF_RESERVED),
        PageKind::Hugetlb => bit(KPF_HUGE),
        PageKind::Offline => bit(KPF_OFFLINE),
        PageKind::HwPoison => bit(KPF_HWPOISON),
        _ => 0,
    };
    for (flag, b) in [(PageFlags::DIRTY, KPF_DIRTY), (PageFlags::THP, KPF_THP), (PageFlags::HEAD, KPF_COMPOUND_HEAD), (PageFlags::TAIL, KPF_COMPOUND_TAIL)] {
        if u.flags.contains(flag) {
            f |= bit(b);
        }
    }
    f
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [machine, workload, seed, path] = args.as_slice() else {
        return Err("usage: synthetic MACHINE WORKLOAD SEED FILE".into());
    };
    let t = std::time::Instant::now();
    let scenario = Scenario { title: "synthetic".into(), machine: machine.clone(), workload: Some(workload.clone()), seed: seed.parse()?, steps: 0, setup: vec![], play: None, ..Scenario::default() };
    let m = scenario.build()?;
    eprintln!("built and aged {machine} in {:.1?}", t.elapsed());
    let span = m.pfn_span();
    let kpf: Vec<u64> = (span.start..span.end).map(|p| flags(&m, p)).collect();
    let snap = Snapshot { buddyinfo: m.buddyinfo(), pagetypeinfo: Some(m.pagetypeinfo()), zoneinfo: Some(m.zoneinfo()), kpageflags: Some((span.start, kpf)) };
    drop(m);
    let bytes = snap.to_bytes();
    std::fs::write(path, &bytes)?;
    eprintln!("wrote {path}: {} PFNs, {} MB compressed, in {:.1?}", span.len(), bytes.len() >> 20, t.elapsed());
    Ok(())
}
