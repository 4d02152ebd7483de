//! From a snapshot to a machine.
//!
//! With kpageflags: zones from zoneinfo, holes from NOPAGE, free blocks
//! from runs of BUDDY pages split into aligned power-of-two blocks, page
//! kinds from the flags, compound pages from head and tail runs. Pageblock
//! migratetypes are not exported per PFN, so they are assigned to match
//! pagetypeinfo's per-zone block counts: CMA to the last pageblocks holding
//! no unmovable page, then UNMOVABLE, HIGHATOMIC and RECLAIMABLE to the
//! pageblocks with the most unmovable pages, the rest MOVABLE; ISOLATE
//! (transient) is read as MOVABLE.
//!
//! Without kpageflags the layout is synthesized: free blocks of the
//! buddyinfo counts placed from the zone start, each with its buddy in use,
//! the rest filled by page kinds that suit each pageblock's type.

use pfnscope_core::{Arch, Geometry, InUse, Machine, MachineSpec, MigrateType, PageFlags, PageKind, PfnRange, ZoneSpec, ZoneType};

use crate::error::{ImportError, Place, Result};
use crate::kpageflags::{decode, has, Decoded, KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL};
use crate::procfs::{parse_buddyinfo, parse_pagetypeinfo, parse_zoneinfo, PageTypeInfo, ZoneInfo};
use crate::snapshot::Snapshot;

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    pub machine: Machine,
    /// True when the page layout was made up from the counts.
    pub synthesized: bool,
    /// How the import filled what the files do not say.
    pub notes: Vec<String>,
}

fn geometry(max_order: u8, pageblock_order: u8) -> Geometry {
    match (max_order, pageblock_order) {
        (11, 11) => Geometry::ARM64_16K,
        (13, 13) => Geometry::ARM64_64K,
        _ => Geometry { arch: Arch::X86_64, page_shift: 12, max_order, pageblock_order },
    }
}

/// Reconstructs a machine from a snapshot.
pub fn reconstruct(s: &Snapshot) -> Result<Imported> {
    let buddy = parse_buddyinfo(&s.buddyinfo)?;
    let pti = s.pagetypeinfo.as_deref().map(parse_pagetypeinfo).transpose()?;
    let orders = buddy.iter().map(|r| r.free.len()).max().unwrap_or(11);
    let max_order = (orders - 1) as u8;
    let pb = pti.as_ref().map_or(max_order.min(9), |p| p.pageblock_order);
    if pb > max_order || max_order > 13 {
        return Err(ImportError::new("pagetypeinfo", Place::File, format!("pageblock order {pb} and {orders} buddy orders do not fit a supported geometry")));
    }
    let geo = geometry(max_order, pb);
    let mut notes = Vec::new();
    let zinfo = match s.zoneinfo.as_deref() {
        Some(z) => parse_zoneinfo(z)?,
        None => {
            notes.push("no zoneinfo: zone spans were synthesized from the block counts".into());
            synth_zones(&buddy, pti.as_ref(), &geo)
        }
    };
    let mut zones = Vec::new();
    for z in &zinfo {
        let Some(t) = ZoneType::from_proc_name(&z.zone) else {
            notes.push(format!("zone {} is not modelled and was left out", z.zone));
            continue;
        };
        if z.node != 0 {
            notes.push(format!("node {} was left out: the model has one node", z.node));
            continue;
        }
        zones.push(ZoneSpec { zone_type: t, span: PfnRange::new(z.start_pfn, z.start_pfn + z.spanned), holes: vec![], reserved: vec![] });
    }
    zones.sort_by_key(|z| z.zone_type);
    if zones.is_empty() {
        return Err(ImportError::new("zoneinfo", Place::File, "no zone the model knows (DMA, DMA32, Normal, Movable)"));
    }
    let spec = MachineSpec { name: "imported machine".into(), geometry: geo, nr_cpus: 1, zones, cma: vec![], virtio_mem: vec![] };
    match &s.kpageflags {
        Some((first, flags)) => from_flags(spec, *first, flags, pti.as_ref(), notes),
        None => synthesize(spec, &buddy, pti.as_ref(), notes),
    }
}

fn synth_zones(buddy: &[crate::procfs::BuddyRow], pti: Option<&PageTypeInfo>, geo: &Geometry) -> Vec<ZoneInfo> {
    let mut start = 0u64;
    buddy
        .iter()
        .map(|r| {
            let blocks: u64 = pti.and_then(|p| p.blocks.iter().find(|b| b.1 == r.zone)).map_or(0, |b| b.2.iter().sum());
            let free: u64 = r.free.iter().enumerate().map(|(o, n)| n << o).sum();
            let spanned = (blocks * geo.pageblock_nr_pages()).max(free * 2).max(geo.max_order_nr_pages()).div_ceil(geo.max_order_nr_pages()) * geo.max_order_nr_pages();
            let z = ZoneInfo { node: r.node, zone: r.zone.clone(), start_pfn: start, spanned, present: spanned, managed: spanned, watermark: [0; 3] };
            start += spanned;
            z
        })
        .collect()
}

/// Assigns pageblock types to a zone's pageblocks by the heuristic of the
/// module doc; `unmovable[i]` counts unmovable pages of pageblock `i`.
fn assign_types(unmovable: &[u64], targets: Option<[u64; 6]>) -> Vec<MigrateType> {
    let n = unmovable.len();
    let Some(t) = targets else {
        return unmovable.iter().map(|&u| if u > 0 { MigrateType::Unmovable } else { MigrateType::Movable }).collect();
    };
    let mut out = vec![MigrateType::Movable; n];
    let mut taken = vec![false; n];
    let mut cma = t[MigrateType::Cma.index()];
    for i in (0..n).rev() {
        if cma == 0 {
            break;
        }
        if unmovable[i] == 0 {
            out[i] = MigrateType::Cma;
            taken[i] = true;
            cma -= 1;
        }
    }
    let mut by_unmovable: Vec<usize> = (0..n).filter(|&i| !taken[i]).collect();
    by_unmovable.sort_by_key(|&i| (std::cmp::Reverse(unmovable[i]), i));
    let mut it = by_unmovable.into_iter();
    for mt in [MigrateType::Unmovable, MigrateType::HighAtomic, MigrateType::Reclaimable] {
        for _ in 0..t[mt.index()] {
            if let Some(i) = it.next() {
                out[i] = mt;
            }
        }
    }
    out
}

fn from_flags(spec: MachineSpec, first: u64, flags: &[u64], pti: Option<&PageTypeInfo>, mut notes: Vec<String>) -> Result<Imported> {
    let geo = spec.geometry;
    let nr = geo.pageblock_nr_pages();
    let flag = |pfn: u64| -> Option<u64> { pfn.checked_sub(first).and_then(|i| flags.get(i as usize).copied()) };
    let outside = spec.zones.iter().any(|z| flag(z.span.start).is_none() || flag(z.span.end - 1).is_none());
    if outside {
        notes.push("kpageflags does not cover every zone: the missing PFNs read as holes".into());
    }
    // Compound pages: a head and its tails form an order-n folio when the
    // run is an aligned power of two; otherwise the pages stand alone.
    // Contradictory flags (a tail that is also BUDDY, as a racy read can
    // show) break the folio: its pages stand alone.
    let used = |f: u64| matches!(decode(f), Decoded::Used(_));
    let compound_order = |head: u64| -> Option<u8> {
        let f = flag(head)?;
        if !has(f, KPF_COMPOUND_HEAD) || !used(f) {
            return None;
        }
        let mut len = 1u64;
        while len <= geo.max_order_nr_pages() && flag(head + len).is_some_and(|t| has(t, KPF_COMPOUND_TAIL) && !has(t, KPF_COMPOUND_HEAD) && used(t)) {
            len += 1;
        }
        (len.is_power_of_two() && len > 1 && head.is_multiple_of(len) && len <= geo.max_order_nr_pages()).then(|| len.trailing_zeros() as u8)
    };
    let page = |pfn: u64| -> Option<InUse> {
        let f = flag(pfn)?;
        let Decoded::Used(mut p) = decode(f) else { return None };
        if has(f, KPF_COMPOUND_HEAD) {
            if let Some(order) = compound_order(pfn) {
                p.compound_order = order;
                p.flags |= PageFlags::HEAD;
            }
        } else if has(f, KPF_COMPOUND_TAIL) {
            let head = (1..=geo.max_order_nr_pages()).filter_map(|d| pfn.checked_sub(d)).find(|&q| flag(q).is_some_and(|g| has(g, KPF_COMPOUND_HEAD)));
            if let Some(h) = head {
                if let Some(order) = compound_order(h) {
                    if pfn < h + (1 << order) {
                        let mut hp = match decode(flag(h).unwrap_or(0)) {
                            Decoded::Used(hp) => hp,
                            _ => p,
                        };
                        hp.refcount = 0;
                        hp.mapcount = 0;
                        hp.flags = PageFlags::TAIL | (hp.flags & PageFlags::THP);
                        hp.compound_order = order;
                        return Some(hp);
                    }
                }
            }
        }
        Some(p)
    };
    let is_free = |pfn: u64| flag(pfn).is_some_and(|f| decode(f) == Decoded::Free);
    // Pageblock types per zone.
    let mut types = std::collections::BTreeMap::new();
    for z in &spec.zones {
        let first_block = z.span.start & !(nr - 1);
        let blocks: Vec<u64> = (first_block..z.span.end).step_by(nr as usize).collect();
        let unmovable: Vec<u64> = blocks
            .iter()
            .map(|&b| {
                (b.max(z.span.start)..(b + nr).min(z.span.end))
                    .filter(|&p| page(p).is_some_and(|u| matches!(u.kind, PageKind::Kernel | PageKind::SlabUnmovable | PageKind::PageTable | PageKind::Reserved)))
                    .count() as u64
            })
            .collect();
        let targets = pti.and_then(|p| p.blocks.iter().find(|b| b.0 == 0 && b.1 == z.zone_type.proc_name()).map(|b| b.2));
        if pti.is_some() && targets.is_none() {
            notes.push(format!("pagetypeinfo has no block counts for {}: types follow the pages", z.zone_type.proc_name()));
        }
        for (b, mt) in blocks.into_iter().zip(assign_types(&unmovable, targets)) {
            types.insert(b, mt);
        }
    }
    if pti.is_none() {
        notes.push("no pagetypeinfo: a pageblock holding any unmovable page is UNMOVABLE, the rest MOVABLE".into());
    }
    notes.push("pageblock migratetypes are not exported per PFN: they were assigned to match pagetypeinfo's counts".into());
    let machine = Machine::from_layout(spec, |p| types.get(&(p & !(nr - 1))).copied().unwrap_or(MigrateType::Movable), page, is_free)
        .map_err(|e| ImportError::new("zoneinfo", Place::File, e.to_string()))?;
    Ok(Imported { machine, synthesized: false, notes })
}

fn synthesize(spec: MachineSpec, buddy: &[crate::procfs::BuddyRow], pti: Option<&PageTypeInfo>, mut notes: Vec<String>) -> Result<Imported> {
    notes.push("no kpageflags: the page layout is synthesized from the counts and is not the machine's real layout".into());
    let geo = spec.geometry;
    let nr = geo.pageblock_nr_pages();
    let mut free = std::collections::BTreeSet::new();
    let mut types = std::collections::BTreeMap::new();
    for z in &spec.zones {
        let Some(row) = buddy.iter().find(|r| r.node == 0 && r.zone == z.zone_type.proc_name()) else { continue };
        let mut cursor = z.span.start;
        for order in (0..row.free.len()).rev() {
            let size = 1u64 << order;
            let step = if order as u8 == geo.max_order { size } else { size * 2 };
            for _ in 0..row.free[order] {
                let p = cursor.div_ceil(step) * step;
                if p + size > z.span.end {
                    return Err(ImportError::new("buddyinfo", Place::File, format!("zone {}: the free block counts do not fit its span", z.zone_type.proc_name())));
                }
                free.insert((p, order as u8));
                cursor = p + step;
            }
        }
        let first_block = z.span.start & !(nr - 1);
        let blocks: Vec<u64> = (first_block..z.span.end).step_by(nr as usize).collect();
        let targets = pti.and_then(|p| p.blocks.iter().find(|b| b.0 == 0 && b.1 == z.zone_type.proc_name()).map(|b| b.2));
        // Sequential: the first pageblocks unmovable, then reclaimable, ...
        let fake: Vec<u64> = (0..blocks.len() as u64).map(|i| blocks.len() as u64 - i).collect();
        for (b, mt) in blocks.into_iter().zip(assign_types(&fake, targets)) {
            types.insert(b, mt);
        }
    }
    let is_free = |pfn: u64| free.range(..=(pfn, u8::MAX)).next_back().is_some_and(|&(p, o)| pfn < p + (1 << o));
    let kind_for = |mt: MigrateType, pfn: u64| match mt {
        MigrateType::Unmovable | MigrateType::HighAtomic => PageKind::Kernel,
        MigrateType::Reclaimable => PageKind::SlabReclaimable,
        _ => if pfn.is_multiple_of(2) { PageKind::File } else { PageKind::Anon },
    };
    let page = |pfn: u64| {
        let mt = types.get(&(pfn & !(nr - 1))).copied().unwrap_or(MigrateType::Movable);
        let k = kind_for(mt, pfn);
        let p = InUse::new(k);
        Some(if k.is_lru() { p.with_flags(PageFlags::LRU) } else { p })
    };
    let machine = Machine::from_layout(spec, |p| types.get(&(p & !(nr - 1))).copied().unwrap_or(MigrateType::Movable), page, is_free)
        .map_err(|e| ImportError::new("zoneinfo", Place::File, e.to_string()))?;
    Ok(Imported { machine, synthesized: true, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_assignment_matches_the_counts() {
        // 6 pageblocks with unmovable pages 0,5,0,9,0,0; targets: 1 unmovable,
        // 1 reclaimable, 1 CMA, rest movable.
        let t = assign_types(&[0, 5, 0, 9, 0, 0], Some([1, 3, 1, 0, 1, 0]));
        assert_eq!(t[3], MigrateType::Unmovable);
        assert_eq!(t[1], MigrateType::Reclaimable);
        assert_eq!(t[5], MigrateType::Cma);
        assert_eq!(t.iter().filter(|&&m| m == MigrateType::Movable).count(), 3);
    }

    #[test]
    fn a_synthesized_layout_reproduces_buddyinfo() {
        let s = Snapshot {
            buddyinfo: "Node 0, zone   Normal      3      2      1      0      0      0      0      0      0      1      2 \n".into(),
            pagetypeinfo: None,
            zoneinfo: Some("Node 0, zone   Normal\n        spanned  16384\n        present  16384\n        managed  16000\n  start_pfn:           4096\n".into()),
            kpageflags: None,
        };
        let imp = reconstruct(&s).unwrap();
        assert!(imp.synthesized);
        let m = &imp.machine;
        m.check_quiescent().unwrap();
        let got: Vec<u64> = (0..=10).map(|o| m.nr_free(0, o)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 0, 0, 0, 0, 0, 1, 2]);
    }
}
