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

/// Reconstructs a machine from a snapshot, in one go.
pub fn reconstruct(s: &Snapshot) -> Result<Imported> {
    let mut job = ImportJob::new(s.clone())?;
    loop {
        if let Some(done) = job.advance(u64::MAX)? {
            return Ok(done);
        }
    }
}

/// Where the pages come from.
enum Source {
    Flags { first: u64, flags: Vec<u64> },
    /// Free blocks placed from the counts, with their pageblock types.
    Synth { free: Vec<(u64, u8)> },
}

enum Stage {
    /// Counting unmovable pages per pageblock, zone by zone.
    Types { zi: usize, next: u64, unmovable: Vec<u64> },
    /// Laying out the pages, zone by zone.
    Layout { m: Box<Machine>, zi: usize, next: u64 },
    Done,
}

/// A reconstruction done in chunks, so a user interface can show progress
/// between them; [`reconstruct`] runs one to the end.
pub struct ImportJob {
    spec: MachineSpec,
    notes: Vec<String>,
    synthesized: bool,
    source: Source,
    targets: Vec<Option<[u64; 6]>>,
    types: BlockTypes,
    stage: Stage,
    total: u64,
    done: u64,
}

impl ImportJob {
    /// Parses the snapshot and plans the work.
    pub fn new(s: Snapshot) -> Result<ImportJob> {
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
        // Lowest zone first, in file order within a type (a stable sort by
        // type, without a sort's code in the web build).
        let zones: Vec<ZoneSpec> = ZoneType::ALL.iter().flat_map(|&t| zones.iter().filter(move |z| z.zone_type == t).cloned()).collect();
        if zones.is_empty() {
            return Err(ImportError::new("zoneinfo", Place::File, "no zone the model knows (DMA, DMA32, Normal, Movable)"));
        }
        let spec = MachineSpec { name: "imported machine".into(), geometry: geo, nr_cpus: 1, zones, cma: vec![], virtio_mem: vec![] };
        // Check the machine can exist before any work.
        Machine::layout_begin(spec.clone(), |_| MigrateType::Movable).map_err(|e| ImportError::new("zoneinfo", Place::File, e.to_string()))?;
        let targets: Vec<Option<[u64; 6]>> = spec
            .zones
            .iter()
            .map(|z| pti.as_ref().and_then(|p| p.blocks.iter().find(|b| b.0 == 0 && b.1 == z.zone_type.proc_name()).map(|b| b.2)))
            .collect();
        let span: u64 = spec.zones.iter().map(|z| z.span.len()).sum();
        let (source, synthesized, types, stage, total) = match s.kpageflags {
            Some((first, flags)) => {
                if spec.zones.iter().any(|z| first > z.span.start || first + (flags.len() as u64) < z.span.end) {
                    notes.push("kpageflags does not cover every zone: the missing PFNs read as holes".into());
                }
                if pti.is_none() {
                    notes.push("no pagetypeinfo: a pageblock holding any unmovable page is UNMOVABLE, the rest MOVABLE".into());
                } else {
                    for (z, t) in spec.zones.iter().zip(&targets) {
                        if t.is_none() {
                            notes.push(format!("pagetypeinfo has no block counts for {}: types follow the pages", z.zone_type.proc_name()));
                        }
                    }
                }
                notes.push("pageblock migratetypes are not exported per PFN: they were assigned to match pagetypeinfo's counts".into());
                let start = spec.zones[0].span.start;
                (Source::Flags { first, flags }, false, BlockTypes::new(&spec), Stage::Types { zi: 0, next: start, unmovable: Vec::new() }, 2 * span)
            }
            None => {
                notes.push("no kpageflags: the page layout is synthesized from the counts and is not the machine's real layout".into());
                let (free, types) = synth_layout(&spec, &buddy, &targets)?;
                let m = Machine::layout_begin(spec.clone(), |p| types.get(p))
                    .map_err(|e| ImportError::new("zoneinfo", Place::File, e.to_string()))?;
                let start = spec.zones[0].span.start;
                (Source::Synth { free }, true, types, Stage::Layout { m: Box::new(m), zi: 0, next: start }, span)
            }
        };
        Ok(ImportJob { spec, notes, synthesized, source, targets, types, stage, total, done: 0 })
    }

    /// Work done, from 0.0 to 1.0.
    pub fn progress(&self) -> f64 {
        if self.total == 0 { 1.0 } else { (self.done as f64 / self.total as f64).min(1.0) }
    }

    /// Does about `budget` PFNs of work; returns the machine when done.
    pub fn advance(&mut self, budget: u64) -> Result<Option<Imported>> {
        let geo = self.spec.geometry;
        let nr = geo.pageblock_nr_pages();
        let chunk_align = geo.max_order_nr_pages();
        let mut left = budget.max(chunk_align);
        while left > 0 {
            match &mut self.stage {
                Stage::Done => return Ok(None),
                Stage::Types { zi, next, unmovable } => {
                    let z = self.spec.zones[*zi].span;
                    let Source::Flags { first, flags } = &self.source else { unreachable!("types are counted for real layouts") };
                    let view = FlagsView { first: *first, flags, geo, folio: Default::default() };
                    let first_block = z.start & !(nr - 1);
                    if *next < first_block {
                        *next = first_block;
                    }
                    while *next < z.end && left > 0 {
                        let b = *next;
                        let count = (b.max(z.start)..(b + nr).min(z.end))
                            .filter(|&p| view.page(p).is_some_and(|u| matches!(u.kind, PageKind::Kernel | PageKind::SlabUnmovable | PageKind::PageTable | PageKind::Reserved)))
                            .count() as u64;
                        unmovable.push(count);
                        *next += nr;
                        left = left.saturating_sub(nr);
                        self.done += nr;
                    }
                    if *next >= z.end {
                        let blocks = (first_block..z.end).step_by(nr as usize);
                        for (b, mt) in blocks.zip(assign_types(unmovable, self.targets[*zi])) {
                            self.types.set(b, mt);
                        }
                        if *zi + 1 < self.spec.zones.len() {
                            self.stage = Stage::Types { zi: *zi + 1, next: 0, unmovable: Vec::new() };
                        } else {
                            let types = &self.types;
                            let m = Machine::layout_begin(self.spec.clone(), |p| types.get(p))
                                .map_err(|e| ImportError::new("zoneinfo", Place::File, e.to_string()))?;
                            let start = self.spec.zones[0].span.start;
                            self.stage = Stage::Layout { m: Box::new(m), zi: 0, next: start };
                        }
                    }
                }
                Stage::Layout { m, zi, next } => {
                    let z = self.spec.zones[*zi].span;
                    // Chunks end on MAX_PAGE_ORDER-aligned PFNs (or the zone
                    // end), so chunking changes nothing.
                    let to = (next.saturating_add(left).div_ceil(chunk_align).saturating_mul(chunk_align)).min(z.end).max(*next + 1).min(z.end);
                    let work = to - *next;
                    match &self.source {
                        Source::Flags { first, flags } => {
                            let view = FlagsView { first: *first, flags, geo, folio: Default::default() };
                            m.layout_fill(*zi, *next, to, &|p| view.page(p), &|p| view.is_free(p));
                        }
                        Source::Synth { free } => {
                            let types = &self.types;
                            let page = |pfn: u64| synth_page(types, pfn);
                            let is_free = |pfn: u64| {
                                let i = free.partition_point(|&(p, _)| p <= pfn);
                                i > 0 && pfn < free[i - 1].0 + (1 << free[i - 1].1)
                            };
                            m.layout_fill(*zi, *next, to, &page, &is_free);
                        }
                    }
                    *next = to;
                    left = left.saturating_sub(work);
                    self.done += work;
                    if *next >= z.end {
                        if *zi + 1 < self.spec.zones.len() {
                            *zi += 1;
                            *next = self.spec.zones[*zi].span.start;
                        } else {
                            let Stage::Layout { m, .. } = std::mem::replace(&mut self.stage, Stage::Done) else { unreachable!() };
                            return Ok(Some(Imported { machine: *m, synthesized: self.synthesized, notes: std::mem::take(&mut self.notes) }));
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

/// The pages of a kpageflags image.
struct FlagsView<'a> {
    first: u64,
    flags: &'a [u64],
    geo: Geometry,
    /// The last folio found, `(head, order)`: the pages are read in PFN
    /// order, so its tails need not search back and scan it again.
    folio: std::cell::Cell<Option<(u64, u8)>>,
}

impl FlagsView<'_> {
    fn flag(&self, pfn: u64) -> Option<u64> {
        pfn.checked_sub(self.first).and_then(|i| self.flags.get(i as usize).copied())
    }

    fn is_free(&self, pfn: u64) -> bool {
        self.flag(pfn).is_some_and(|f| decode(f) == Decoded::Free)
    }

    /// A compound page's order when the head and all its tails agree; the
    /// folio breaks on contradictory flags (a racy read can show a tail
    /// that is also BUDDY), and its pages then stand alone.
    fn compound_order(&self, head: u64) -> Option<u8> {
        if let Some((_, order)) = self.folio.get().filter(|&(h, _)| h == head) {
            return Some(order);
        }
        let order = self.scan_compound_order(head);
        if let Some(order) = order {
            self.folio.set(Some((head, order)));
        }
        order
    }

    fn scan_compound_order(&self, head: u64) -> Option<u8> {
        let used = |f: u64| matches!(decode(f), Decoded::Used(_));
        let f = self.flag(head)?;
        if !has(f, KPF_COMPOUND_HEAD) || !used(f) {
            return None;
        }
        let max = self.geo.max_order_nr_pages();
        let mut len = 1u64;
        while len <= max && self.flag(head + len).is_some_and(|t| has(t, KPF_COMPOUND_TAIL) && !has(t, KPF_COMPOUND_HEAD) && used(t)) {
            len += 1;
        }
        (len.is_power_of_two() && len > 1 && head.is_multiple_of(len) && len <= max).then(|| len.trailing_zeros() as u8)
    }

    fn page(&self, pfn: u64) -> Option<InUse> {
        let f = self.flag(pfn)?;
        let Decoded::Used(mut p) = decode(f) else { return None };
        if has(f, KPF_COMPOUND_HEAD) {
            if let Some(order) = self.compound_order(pfn) {
                p.compound_order = order;
                p.flags |= PageFlags::HEAD;
            }
        } else if has(f, KPF_COMPOUND_TAIL) {
            let max = self.geo.max_order_nr_pages();
            // Within the last folio found, its head is the nearest head
            // before this page (every page between was checked a tail).
            let cached = self.folio.get().filter(|&(h, o)| h < pfn && pfn < h + (1 << o)).map(|(h, _)| h);
            let head = cached.or_else(|| (1..=max).filter_map(|d| pfn.checked_sub(d)).find(|&q| self.flag(q).is_some_and(|g| has(g, KPF_COMPOUND_HEAD))));
            if let Some((h, order)) = head.and_then(|h| self.compound_order(h).map(|o| (h, o))) {
                if pfn < h + (1 << order) {
                    let mut hp = match decode(self.flag(h).unwrap_or(0)) {
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
        Some(p)
    }
}

/// Pageblock types by pageblock from the machine's first one; a block
/// never typed is MOVABLE.
#[derive(Clone, Debug)]
struct BlockTypes {
    /// The first pageblock's number (PFN >> pageblock_order).
    base: u64,
    order: u8,
    types: Vec<MigrateType>,
}

impl BlockTypes {
    fn new(spec: &MachineSpec) -> BlockTypes {
        let (span, order) = (spec.span(), spec.geometry.pageblock_order);
        let base = span.start >> order;
        let len = (span.end.saturating_sub(1) >> order) + 1 - base;
        BlockTypes { base, order, types: vec![MigrateType::Movable; len as usize] }
    }
    fn set(&mut self, block: u64, mt: MigrateType) {
        if let Some(t) = self.types.get_mut(((block >> self.order).wrapping_sub(self.base)) as usize) {
            *t = mt;
        }
    }
    fn get(&self, pfn: u64) -> MigrateType {
        self.types.get(((pfn >> self.order).wrapping_sub(self.base)) as usize).copied().unwrap_or(MigrateType::Movable)
    }
}

/// A synthesized page: a kind that suits its pageblock's type.
fn synth_page(types: &BlockTypes, pfn: u64) -> Option<InUse> {
    let mt = types.get(pfn);
    let k = match mt {
        MigrateType::Unmovable | MigrateType::HighAtomic => PageKind::Kernel,
        MigrateType::Reclaimable => PageKind::SlabReclaimable,
        _ => if pfn.is_multiple_of(2) { PageKind::File } else { PageKind::Anon },
    };
    let p = InUse::new(k);
    Some(if k.is_lru() { p.with_flags(PageFlags::LRU) } else { p })
}

/// Places the buddyinfo counts' free blocks from each zone's start, each
/// with its buddy in use, and types the pageblocks in order.
#[allow(clippy::type_complexity)]
fn synth_layout(spec: &MachineSpec, buddy: &[crate::procfs::BuddyRow], targets: &[Option<[u64; 6]>]) -> Result<(Vec<(u64, u8)>, BlockTypes)> {
    let geo = spec.geometry;
    let nr = geo.pageblock_nr_pages();
    // In PFN order: zones go up, and each zone's cursor only moves up.
    let mut free = Vec::new();
    let mut types = BlockTypes::new(spec);
    for (z, target) in spec.zones.iter().zip(targets) {
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
                free.push((p, order as u8));
                cursor = p + step;
            }
        }
        let first_block = z.span.start & !(nr - 1);
        let blocks: Vec<u64> = (first_block..z.span.end).step_by(nr as usize).collect();
        // Sequential: the first pageblocks unmovable, then reclaimable, ...
        let fake: Vec<u64> = (0..blocks.len() as u64).map(|i| blocks.len() as u64 - i).collect();
        for (b, mt) in blocks.into_iter().zip(assign_types(&fake, *target)) {
            types.set(b, mt);
        }
    }
    Ok((free, types))
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
    // Most unmovable pages first, then by index: as plain keys, one sort's
    // code serves the web build.
    let mut by_unmovable: Vec<u64> = (0..n).filter(|&i| !taken[i]).map(|i| (u32::MAX - unmovable[i] as u32) as u64 * (1 << 32) + i as u64).collect();
    by_unmovable.sort_unstable();
    let mut it = by_unmovable.into_iter().map(|k| (k & 0xffff_ffff) as usize);
    for mt in [MigrateType::Unmovable, MigrateType::HighAtomic, MigrateType::Reclaimable] {
        for _ in 0..t[mt.index()] {
            if let Some(i) = it.next() {
                out[i] = mt;
            }
        }
    }
    out
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
    fn chunked_import_equals_import_at_once() {
        let s = Snapshot {
            buddyinfo: "Node 0, zone   Normal      3      2      1      0      0      0      0      0      0      1      2 \n".into(),
            pagetypeinfo: None,
            zoneinfo: Some("Node 0, zone   Normal\n        spanned  16384\n        present  16384\n        managed  16000\n  start_pfn:           4096\n".into()),
            kpageflags: Some((4096, (0..16384u64).map(|p| if p % 7 < 3 { 1 << 10 } else if p % 11 == 0 { 1 << 7 } else { 1 << 5 }).collect())),
        };
        let whole = reconstruct(&s).unwrap();
        let mut job = ImportJob::new(s).unwrap();
        let mut rounds = 0;
        let chunked = loop {
            rounds += 1;
            let before = job.progress();
            if let Some(done) = job.advance(1000).unwrap() {
                break done;
            }
            assert!(job.progress() > before, "progress moves");
        };
        assert!(rounds > 10, "{rounds} rounds");
        assert_eq!(chunked.machine.fingerprint(), whole.machine.fingerprint());
        chunked.machine.check_quiescent().unwrap();
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
