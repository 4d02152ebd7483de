//! Why a contiguous range cannot be had, and where one could be: the
//! diagnosis of a range and the contiguity map of a whole machine.
//!
//! Both read the state and change nothing. They follow
//! `alloc_contig_range()` (6.12) stage by stage, as this crate models it:
//! isolation refuses what `has_unmovable_pages()` refuses, block by block in
//! the kernel's order (the first pageblock, the last, then the interior);
//! migration drops clean page cache, moves what it can and cannot move a
//! pinned folio; `test_pages_isolated()` then fails at the lowest page
//! still in use. Where the kernel reports one page, a diagnosis lists them
//! all, each with the rule it breaks.
//!
//! Whether every migration target can be allocated depends on which blocks
//! the allocator picks along the way, which only running it can tell. The
//! diagnosis says [`Targets::Sure`] when one zone has enough of everything
//! whatever it picks, [`Targets::Impossible`] when the zones hold too few
//! pages in all (then the range is blocked, -ENOMEM), and
//! [`Targets::Uncertain`] in between; the verdict is then "migrate", and
//! the run may still end in -ENOMEM.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::geometry::{PfnRange, ZoneType};
use crate::isolation::{IsolFlags, Unmovable};
use crate::machine::Machine;
use crate::migrate::{is_clean_cache, migration_fails, skips_pinned_anon};
use crate::migratetype::MigrateType;
use crate::page::{PageFlags, PageKind, Tag};
use crate::trace::{KernelFn, Trace};
use crate::zone::{Wmark, ZoneCounter};

/// The rule by which a page stops a contiguous allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `PG_reserved`: firmware, the kernel image, memblock.
    Reserved,
    /// No memory there (a hole has no online struct page).
    Hole,
    /// In use, neither LRU nor movable_ops: slab, page tables, kernel memory.
    Unmovable,
    /// An LRU page still in a per-cpu batch: not yet PageLRU when isolation
    /// looks.
    LruBatch,
    /// Passed isolation (ZONE_MOVABLE assumes movable) but migration has no
    /// way to move it, so `test_pages_isolated()` fails.
    NotMigratable,
    /// Pinned, or holding references migration does not expect.
    Pinned,
    /// A compound page that is not hugetlb straddles the isolation edge.
    CompoundStraddles,
    /// A CMA pageblock, for a caller that is not CMA.
    CmaBlock,
    /// The pageblock is already isolated: another caller owns it.
    Isolated,
    /// No migration target could be allocated (-ENOMEM).
    NoTarget,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::Reserved,
        Rule::Hole,
        Rule::Unmovable,
        Rule::LruBatch,
        Rule::NotMigratable,
        Rule::Pinned,
        Rule::CompoundStraddles,
        Rule::CmaBlock,
        Rule::Isolated,
        Rule::NoTarget,
    ];

    /// The name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Reserved => "reserved",
            Rule::Hole => "hole",
            Rule::Unmovable => "unmovable",
            Rule::LruBatch => "lru-batch",
            Rule::NotMigratable => "not-migratable",
            Rule::Pinned => "pinned",
            Rule::CompoundStraddles => "compound-straddles",
            Rule::CmaBlock => "cma-block",
            Rule::Isolated => "isolated",
            Rule::NoTarget => "no-target",
        }
    }

    /// One sentence on the rule, in the kernel's terms.
    pub fn explain(self) -> &'static str {
        match self {
            Rule::Reserved => "PG_reserved: has_unmovable_pages() refuses the pageblock",
            Rule::Hole => "no memory there: a hole counts as reserved, and isolation fails",
            Rule::Unmovable => "in use and neither on the LRU nor movable_ops (slab, page tables, kernel memory): has_unmovable_pages() refuses the pageblock",
            Rule::LruBatch => "an LRU page still in a per-cpu batch is not PageLRU yet, so has_unmovable_pages() refuses it",
            Rule::NotMigratable => "isolation let it pass, but migration cannot move it, so test_pages_isolated() fails here",
            Rule::Pinned => "pinned, or holding a reference migration does not expect: every migration pass gets -EAGAIN and test_pages_isolated() fails here",
            Rule::CompoundStraddles => "a compound page that is not hugetlb crosses the isolation edge: isolate_single_pageblock() fails (6.10+)",
            Rule::CmaBlock => "a CMA pageblock, and the caller is not CMA: has_unmovable_pages() refuses it",
            Rule::Isolated => "the pageblock is already MIGRATE_ISOLATE: another caller owns it, and set_migratetype_isolate() returns -EBUSY",
            Rule::NoTarget => "no page could be allocated to migrate it to: migrate_pages() returns -ENOMEM and alloc_contig_range() gives up",
        }
    }

    /// The kernel function that applies the rule.
    pub fn kernel_fn(self) -> KernelFn {
        match self {
            Rule::Reserved | Rule::Hole | Rule::Unmovable | Rule::LruBatch | Rule::CmaBlock => KernelFn::HasUnmovablePages,
            Rule::NotMigratable => KernelFn::TestPagesIsolated,
            Rule::Pinned => KernelFn::MigratePages,
            Rule::CompoundStraddles => KernelFn::IsolateSinglePageblock,
            Rule::Isolated => KernelFn::SetMigratetypeIsolate,
            Rule::NoTarget => KernelFn::AllocContigMigrateRange,
        }
    }

    /// A link to that function's 6.12 source.
    pub fn source_url(self) -> String {
        self.kernel_fn().source_url()
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A page (or folio) that stops the allocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    pub pfn: u64,
    /// Pages of the folio (1 for a single page or a pageblock-wide rule).
    pub pages: u64,
    /// What the page is, in words.
    pub kind: String,
    pub rule: Rule,
}

/// What `alloc_contig_range()` would reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every page is free already.
    Free,
    /// Obtainable after migrating (and dropping clean page cache).
    Migrate,
    Blocked,
}

/// Everything that stands between a range and its allocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub range: PfnRange,
    pub verdict: Verdict,
    /// The blocker `alloc_contig_range()` would report, by the kernel's
    /// order of stages: isolation, migration targets, the final test.
    pub first: Option<Blocker>,
    /// Every blocker, each folio once, by PFN.
    pub blockers: Vec<Blocker>,
    /// Folios and pages migration would move.
    pub folios_to_migrate: u64,
    pub pages_to_migrate: u64,
    /// Clean page-cache folios and pages it would drop instead.
    pub folios_to_drop: u64,
    pub pages_to_drop: u64,
    /// Whether migration will find its targets (when isolation passes).
    pub targets: Targets,
}

impl Diagnosis {
    /// The blockers grouped by rule, rules in [`Rule::ALL`] order.
    pub fn by_rule(&self) -> Vec<(Rule, Vec<&Blocker>)> {
        Rule::ALL
            .iter()
            .filter_map(|&r| {
                let v: Vec<&Blocker> = self.blockers.iter().filter(|b| b.rule == r).collect();
                (!v.is_empty()).then_some((r, v))
            })
            .collect()
    }

    /// A few lines for people: the verdict, then each rule with its pages.
    pub fn report(&self) -> String {
        let r = self.range;
        let mut out = match self.verdict {
            Verdict::Free => format!("{:#x}-{:#x}: free now\n", r.start, r.end),
            Verdict::Migrate => format!(
                "{:#x}-{:#x}: obtainable after migrating {} page(s) ({} folio(s)) and dropping {} clean page-cache page(s)\n",
                r.start, r.end, self.pages_to_migrate, self.folios_to_migrate, self.pages_to_drop
            ),
            Verdict::Blocked => {
                let f = self.first.as_ref().expect("a blocked range has a first blocker");
                format!("{:#x}-{:#x}: blocked; alloc_contig_range() stops at {:#x}: {} (rule: {})\n", r.start, r.end, f.pfn, f.kind, f.rule)
            }
        };
        for (rule, pages) in self.by_rule() {
            let total: u64 = pages.iter().map(|b| b.pages).sum();
            let list: Vec<String> = pages.iter().take(8).map(|b| format!("{:#x} ({})", b.pfn, b.kind)).collect();
            let more = if pages.len() > 8 { format!(", and {} more", pages.len() - 8) } else { String::new() };
            out += &format!("  {rule}: {} folio(s), {total} page(s): {}{more}\n    {}; {}\n", pages.len(), list.join(", "), rule.explain(), rule.source_url());
        }
        out
    }
}

/// Whether migration will find its targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Targets {
    /// One zone alone has the pages and blocks for every target, whatever
    /// the allocator picks: migration cannot run out.
    Sure,
    /// Enough memory exists in all, but whether each target finds a block
    /// depends on the allocator's choices along the way.
    Uncertain,
    /// The zones the targets may come from hold fewer usable pages than
    /// migration needs: it must fail with -ENOMEM.
    Impossible,
}

/// Free memory outside an isolated range, from which migration targets
/// are allocated: per zone, in zonelist order (highest first).
#[derive(Clone, Debug)]
struct TargetPool {
    zones: Vec<PoolZone>,
    pcp_batch: Vec<u64>,
}

#[derive(Clone, Debug)]
struct PoolZone {
    zi: usize,
    zone_type: ZoneType,
    /// NR_FREE_PAGES.
    free: i64,
    /// Free pages on HIGHATOMIC lists, kept back by the watermark check.
    highatomic: i64,
    /// The min watermark with the boost.
    min: i64,
    lowmem_reserve: [u64; 4],
    /// Free blocks per order on lists a movable request may use
    /// (UNMOVABLE, MOVABLE, RECLAIMABLE, CMA).
    blocks: Vec<i64>,
    /// Of those, the blocks on MOVABLE lists, which a movable request takes
    /// first, smallest first.
    movable: Vec<i64>,
    /// Pages on every CPU's lists.
    pcp: i64,
}

impl TargetPool {
    fn new(m: &Machine) -> TargetPool {
        let zones = (0..m.zones.len())
            .rev()
            .map(|zi| {
                let blocks = (0..=m.geo.max_order)
                    .map(|o| (m.nr_free(zi, o) - m.free_blocks_of_type(zi, o, MigrateType::HighAtomic) - m.free_blocks_of_type(zi, o, MigrateType::Isolate)) as i64)
                    .collect();
                PoolZone {
                    zi,
                    zone_type: m.zones[zi].zone_type,
                    free: m.zone_free_pages(zi),
                    highatomic: m.zone_counter(zi, ZoneCounter::NrFreeHighatomic),
                    min: m.wmark_pages(zi, Wmark::Min) as i64,
                    lowmem_reserve: m.zones[zi].lowmem_reserve,
                    blocks,
                    movable: (0..=m.geo.max_order).map(|o| m.free_blocks_of_type(zi, o, MigrateType::Movable) as i64).collect(),
                    pcp: (0..m.spec.nr_cpus).map(|cpu| m.pcp_count(zi, cpu) as i64).sum(),
                }
            })
            .collect();
        TargetPool { zones, pcp_batch: m.zones.iter().map(|z| z.pcp_batch).collect() }
    }

    fn zone(&mut self, zi: usize) -> Option<&mut PoolZone> {
        self.zones.iter_mut().find(|z| z.zi == zi)
    }

    /// The outlook for targets of these orders, from zones up to `highest`
    /// (`alloc_migration_target()` with GFP_USER|__GFP_MOVABLE, plus
    /// __GFP_HIGHMEM for ZONE_MOVABLE sources).
    ///
    /// Impossible when even every usable page above each zone's min
    /// watermark, and every per-cpu page, falls short. Sure when one zone
    /// alone suffices whatever blocks the allocator picks. The argument:
    /// a request of order o succeeds while any block of order o or more is
    /// free. A draw of order p takes one block and splits off the rest, so
    /// it lowers the pages held in blocks of order o or more by at most
    /// 2^o, and not at all when it is served from a smaller MOVABLE block,
    /// which a movable request takes first, smallest first; that is so for
    /// every draw below order o when, for every p below o, the pages
    /// asked for at orders p..o fit in the MOVABLE blocks of orders p..o.
    /// Every draw is counted, a whole per-cpu refill batch included.
    fn outlook(&self, orders: &[u8], highest: ZoneType, pcp_allowed: impl Fn(u8) -> bool) -> Targets {
        if orders.is_empty() {
            return Targets::Sure;
        }
        let need: i64 = orders.iter().map(|&o| 1i64 << o).sum();
        let allowed = || self.zones.iter().filter(|z| z.zone_type <= highest);
        let supply: i64 = allowed().map(|z| (z.free - z.min - z.lowmem_reserve[highest as usize] as i64).max(0) + z.pcp).sum();
        if need > supply {
            return Targets::Impossible;
        }
        let nr_orders = self.zones[0].blocks.len();
        let top = *orders.iter().max().expect("not empty") as usize;
        for z in allowed() {
            let batch = self.pcp_batch[z.zi] as i64;
            // Draws per order, with a whole per-cpu batch for every order
            // that goes through the per-cpu lists.
            let mut draws = vec![0i64; nr_orders];
            for &o in orders {
                draws[o as usize] += 1;
            }
            for (o, d) in draws.iter_mut().enumerate() {
                if *d > 0 && pcp_allowed(o as u8) {
                    *d += if o == 0 { batch } else { (batch >> o).max(2) };
                }
            }
            let drawn: i64 = (0..nr_orders).map(|o| draws[o] << o).sum();
            let spare = z.free - z.highatomic - z.min - z.lowmem_reserve[highest as usize] as i64 - (1 << top);
            let sure = spare >= drawn
                && (0..nr_orders).filter(|&o| orders.contains(&(o as u8))).all(|o| {
                    let held: i64 = (o..nr_orders).map(|q| z.blocks[q] << q).sum();
                    let at_or_above: i64 = draws[o..].iter().sum();
                    let below_fits = (0..o).all(|p| {
                        let asked: i64 = (p..o).map(|r| draws[r] << r).sum();
                        let small: i64 = (p..o).map(|k| z.movable[k] << k).sum();
                        asked <= small
                    });
                    let below: i64 = if below_fits { 0 } else { draws[..o].iter().sum() };
                    held > (at_or_above + below - 1) << o
                });
            if sure {
                return Targets::Sure;
            }
        }
        Targets::Uncertain
    }
}

/// Which stages of a contiguous allocation a diagnosis follows.
#[derive(Clone, Copy, Debug)]
struct Stages {
    /// Isolation is still to come (not done already by the caller).
    isolate: bool,
    flags: IsolFlags,
    /// Stop at the first isolation blocker, as the kernel does (the
    /// contiguity map), instead of listing every blocker.
    first_only: bool,
}

impl Stages {
    const CONTIG: Stages = Stages { isolate: true, flags: IsolFlags { memory_offline: false, report_failure: false }, first_only: false };
    const OFFLINE: Stages = Stages { isolate: true, flags: IsolFlags { memory_offline: true, report_failure: true }, first_only: false };
    const ISOLATED: Stages = Stages { isolate: false, flags: IsolFlags { memory_offline: false, report_failure: false }, first_only: false };
    const MAP: Stages = Stages { first_only: true, ..Stages::CONTIG };
}

/// One range an operation tried, diagnosed on the state before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The trace step that starts the attempt.
    pub step: usize,
    pub diagnosis: Diagnosis,
}

/// One pageblock of `start_isolate_page_range()`, in the kernel's order.
struct IsolationBlock {
    pfn: u64,
    /// The edge boundary `isolate_single_pageblock()` checks for
    /// straddling compound pages, for the first and last blocks.
    edge: Option<u64>,
}

impl Machine {
    /// What `alloc_contig_range(start, end, migratetype)` (6.12) would meet
    /// in the range as the machine is now: every blocking page with its
    /// rule, the page the kernel would report, and what migration would
    /// cost. The machine is not changed.
    pub fn diagnose_range(&self, start: u64, end: u64, migratetype: MigrateType) -> Diagnosis {
        self.diagnose_with(start, end, migratetype, Stages::CONTIG, TargetPool::new(self))
    }

    /// Diagnoses every contiguous range a recorded operation tried
    /// (`alloc_contig_range()` itself, the windows of `alloc_contig_pages()`,
    /// CMA's slots, virtio-mem's subblocks, the variants' ranges, an
    /// offlined range), each on the state just before it was tried, by
    /// 6.12's rules. The machine must hold the trace's journal; its
    /// position is restored.
    pub fn diagnose_trace(&mut self, trace: &Trace) -> Vec<Attempt> {
        let back = self.store.position();
        let mut out = Vec::new();
        for (i, step) in trace.steps.iter().enumerate() {
            let Some(r) = step.range else { continue };
            let (stages, mt) = match step.func {
                KernelFn::AllocContigRange | KernelFn::AllocContigRangeV4 if step.text.starts_with("alloc_contig_range(") => {
                    (Stages::CONTIG, if step.text.contains(", CMA)") { MigrateType::Cma } else { MigrateType::Movable })
                }
                KernelFn::OfflinePages if step.text.starts_with("offline_pages(") => (Stages::OFFLINE, MigrateType::Movable),
                // The RFC's window is isolated by the time it is named.
                KernelFn::AllocContigPages2010 if step.text.starts_with("window ") => (Stages::ISOLATED, MigrateType::Movable),
                _ => continue,
            };
            self.store.seek(if i == 0 { trace.journal_start } else { trace.steps[i - 1].journal_end });
            let pool = TargetPool::new(self);
            out.push(Attempt { step: i, diagnosis: self.diagnose_with(r.start, r.end, mt, stages, pool) });
        }
        self.store.seek(back);
        out
    }

    fn isolation_blocks(&self, start: u64, end: u64) -> Vec<IsolationBlock> {
        let nr = self.geo.pageblock_nr_pages();
        let istart = self.pageblock_start_pfn(start);
        let iend = end.div_ceil(nr) * nr;
        // A one-pageblock range is isolated once, and checked at both edges.
        let out_first = IsolationBlock { pfn: istart, edge: Some(istart) };
        let mut out = vec![out_first, IsolationBlock { pfn: iend - nr, edge: Some(iend) }];
        let mut b = istart + nr;
        while b + nr < iend {
            out.push(IsolationBlock { pfn: b, edge: None });
            b += nr;
        }
        out
    }

    fn blocker(&self, pfn: u64, pages: u64, rule: Rule) -> Blocker {
        Blocker { pfn, pages, kind: self.describe_page(pfn), rule }
    }

    /// The isolation stage: blockers in the kernel's order, and hugetlb
    /// folios straddling an edge (migrated there) as (head, order).
    #[allow(clippy::too_many_arguments)]
    fn isolation_stage(&self, start: u64, end: u64, migratetype: MigrateType, flags: IsolFlags, first_only: bool, out: &mut Vec<Blocker>, straddlers: &mut Vec<(u64, u8)>) {
        let nr = self.geo.pageblock_nr_pages();
        let blocks = self.isolation_blocks(start, end);
        let single = blocks.len() >= 2 && blocks[0].pfn == blocks[1].pfn;
        for (i, b) in blocks.iter().enumerate() {
            if first_only && !out.is_empty() {
                return;
            }
            let isolates = !(single && i == 1);
            let Some(zi) = self.zone_of(b.pfn) else {
                if b.edge.is_some() && isolates {
                    out.push(self.blocker(b.pfn, nr, Rule::Hole));
                }
                continue;
            };
            if isolates {
                let mt = self.get_pageblock_migratetype(b.pfn);
                if mt == MigrateType::Isolate {
                    out.push(self.blocker(b.pfn, nr, Rule::Isolated));
                    continue;
                }
                // Edge blocks are checked whole; the interior clipped to
                // the range, which covers it whole.
                let (cs, ce) = if b.edge.is_some() { (b.pfn, b.pfn + nr) } else { (b.pfn.max(start), (b.pfn + nr).min(end)) };
                if mt == MigrateType::Cma {
                    if migratetype != MigrateType::Cma {
                        out.push(self.blocker(cs, nr, Rule::CmaBlock));
                    }
                } else {
                    let movable_zone = self.zones[zi].zone_type == ZoneType::Movable;
                    let mut pfn = cs;
                    while pfn < ce {
                        match self.unmovable_page(pfn, movable_zone, flags) {
                            Unmovable::Next(next) => pfn = next,
                            Unmovable::Refuse(rule) => {
                                let (head, order) = self.allocation_at(pfn).unwrap_or((pfn, 0));
                                out.push(self.blocker(pfn, 1 << order, rule));
                                if first_only {
                                    return;
                                }
                                pfn = (head + (1 << order)).max(pfn + 1);
                            }
                        }
                    }
                }
            }
            if let Some(boundary) = b.edge {
                self.straddle_check(zi, b.pfn, boundary, out, straddlers);
            }
        }
    }

    /// `isolate_single_pageblock()`'s check that nothing in use crosses
    /// `boundary`, scanning from the MAX_ORDER-aligned start of `block`.
    fn straddle_check(&self, zi: usize, block: u64, boundary: u64, out: &mut Vec<Blocker>, straddlers: &mut Vec<(u64, u8)>) {
        let online = |p: u64| self.zone_of(p).is_some() && self.page(p).tag() != Tag::Hole;
        if !online(boundary.wrapping_sub(1)) || !online(boundary) {
            return;
        }
        let mut pfn = (block & !(self.geo.max_order_nr_pages() - 1)).max(self.zones[zi].span.start);
        while pfn < boundary {
            let w = self.page(pfn);
            if w.is_buddy() {
                pfn += 1 << w.order();
                continue;
            }
            if let Some(p) = w.as_in_use().filter(|p| p.flags.intersects(PageFlags::HEAD | PageFlags::TAIL)) {
                let (head, order, hp) = self.folio_of(pfn, p);
                let end = head + (1 << order);
                if end > boundary {
                    if hp.kind == PageKind::Hugetlb {
                        straddlers.push((head, order));
                    } else {
                        out.push(self.blocker(head, 1 << order, Rule::CompoundStraddles));
                    }
                }
                pfn = end.max(pfn + 1);
                continue;
            }
            pfn += 1;
        }
    }

    fn diagnose_with(&self, start: u64, end: u64, migratetype: MigrateType, stages: Stages, mut pool: TargetPool) -> Diagnosis {
        let mut isolation = Vec::new();
        let mut straddlers = Vec::new();
        if stages.isolate {
            self.isolation_stage(start, end, migratetype, stages.flags, stages.first_only, &mut isolation, &mut straddlers);
        }
        if stages.first_only && !isolation.is_empty() {
            let first = isolation.swap_remove(0);
            return Diagnosis {
                range: PfnRange::new(start, end),
                verdict: Verdict::Blocked,
                first: Some(first.clone()),
                blockers: vec![first],
                folios_to_migrate: 0,
                pages_to_migrate: 0,
                folios_to_drop: 0,
                pages_to_drop: 0,
                targets: Targets::Sure,
            };
        }

        // The migration stage over [start, end), as isolate_migratepages_range()
        // and migrate_pages() would treat each folio.
        let mut test_stage = Vec::new();
        let mut targets: Vec<(u64, u8, bool)> = straddlers.iter().map(|&(h, o)| (h, o, self.in_movable_zone(h))).collect();
        let (mut folios_to_migrate, mut pages_to_migrate, mut folios_to_drop, mut pages_to_drop) = (0, 0, 0, 0);
        for &(_, o) in &straddlers {
            folios_to_migrate += 1;
            pages_to_migrate += 1u64 << o;
        }
        let mut pfn = start;
        while pfn < end {
            let w = self.page(pfn);
            if w.is_buddy() {
                pfn += 1 << w.order();
                continue;
            }
            let Some(p) = w.as_in_use() else {
                pfn += 1;
                continue;
            };
            let (head, order, hp) = self.folio_of(pfn, p);
            let next = (head + (1 << order)).max(pfn + 1);
            if straddlers.iter().any(|&(h, _)| h == head) {
                pfn = next;
                continue;
            }
            let lru = hp.flags.intersects(PageFlags::LRU | PageFlags::LRU_BATCH);
            if lru || matches!(hp.kind, PageKind::MovableOps | PageKind::Hugetlb) {
                if skips_pinned_anon(&hp) || migration_fails(&hp) {
                    test_stage.push(self.blocker(pfn, 1 << order, Rule::Pinned));
                } else if is_clean_cache(&hp) {
                    folios_to_drop += 1;
                    pages_to_drop += 1u64 << order;
                } else {
                    folios_to_migrate += 1;
                    pages_to_migrate += 1u64 << order;
                    targets.push((head, order, self.in_movable_zone(head)));
                }
            } else if stages.flags.memory_offline && (p.kind == PageKind::HwPoison || (p.kind == PageKind::Offline && (p.refcount == 0 || self.virtio_mem_owns(pfn)))) {
                // test_pages_isolated(MEMORY_OFFLINE) lets these pass; a
                // virtio-mem page's reference is dropped at MEM_GOING_OFFLINE.
            } else if hp.refcount > 0 || !p.flags.contains(PageFlags::TAIL) {
                test_stage.push(self.blocker(pfn, 1 << order, Rule::NotMigratable));
            }
            pfn = next;
        }

        // Migration targets, from the free memory outside the isolated
        // pageblocks.
        let mut no_target = None;
        let mut outlook = Targets::Sure;
        if isolation.is_empty() && !targets.is_empty() {
            self.exclude_isolated(start, end, &mut pool);
            let movable = targets[0].2;
            let highest = if movable { ZoneType::Movable } else { ZoneType::Normal };
            let orders: Vec<u8> = targets.iter().map(|t| t.1).collect();
            outlook = pool.outlook(&orders, highest, |o| self.pcp_allowed_order(o));
            if outlook == Targets::Impossible {
                no_target = Some(self.blocker(targets[0].0, pages_to_migrate, Rule::NoTarget));
            }
        }

        let first = isolation
            .first()
            .cloned()
            .or_else(|| no_target.clone())
            .or_else(|| test_stage.iter().min_by_key(|b| b.pfn).cloned());
        // By PFN, the first stage's blocker of each page kept. The keys
        // are plain u64 (PFN, then place) so the sort shares its code with
        // the other u64 sorts (PFNs are below 2^32).
        let found: Vec<Blocker> = isolation.into_iter().chain(no_target).chain(test_stage).collect();
        let mut keys: Vec<u64> = found.iter().enumerate().map(|(i, b)| b.pfn << 32 | i as u64).collect();
        keys.sort_unstable();
        keys.dedup_by_key(|k| *k >> 32);
        let all: Vec<Blocker> = keys.iter().map(|k| found[(*k & 0xffff_ffff) as usize].clone()).collect();
        let verdict = match (&first, pages_to_migrate + pages_to_drop) {
            (Some(_), _) => Verdict::Blocked,
            (None, 0) => Verdict::Free,
            (None, _) => Verdict::Migrate,
        };
        Diagnosis {
            range: PfnRange::new(start, end),
            verdict,
            first,
            blockers: all,
            folios_to_migrate,
            pages_to_migrate,
            folios_to_drop,
            pages_to_drop,
            targets: outlook,
        }
    }

    fn in_movable_zone(&self, pfn: u64) -> bool {
        self.zone_of(pfn).is_some_and(|zi| self.zones[zi].zone_type == ZoneType::Movable)
    }

    /// Takes out of the pool what isolating `[start, end)` takes away: the
    /// free blocks of its pageblocks.
    fn exclude_isolated(&self, start: u64, end: u64, pool: &mut TargetPool) {
        let nr = self.geo.pageblock_nr_pages();
        let (istart, iend) = (self.pageblock_start_pfn(start), end.div_ceil(nr) * nr);
        let mut pfn = istart;
        while pfn < iend {
            let w = self.page(pfn);
            if w.is_buddy() {
                let order = w.order();
                let usable = !matches!(self.get_pageblock_migratetype(pfn), MigrateType::HighAtomic | MigrateType::Isolate);
                if let (true, Some(zi)) = (usable, self.zone_of(pfn)) {
                    let movable = self.get_pageblock_migratetype(pfn) == MigrateType::Movable;
                    if let Some(z) = pool.zone(zi) {
                        z.blocks[order as usize] -= 1;
                        if movable {
                            z.movable[order as usize] -= 1;
                        }
                        z.free -= 1 << order;
                    }
                }
                pfn += 1 << order;
            } else {
                pfn += 1;
            }
        }
    }

    /// The contiguity map: the verdict `alloc_contig_range(MOVABLE)` would
    /// reach on every window of `size` pages, aligned to `size` from each
    /// zone's start as `alloc_contig_pages()` steps, inside a zone.
    pub fn contiguity_map(&self, size: u64) -> ContiguityMap {
        let mut job = ContiguityJob::new(self, size);
        while !job.advance(self, usize::MAX) {}
        job.finish()
    }
}

/// One window of a [`ContiguityMap`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowVerdict {
    pub start_pfn: u64,
    pub zone: String,
    pub verdict: Verdict,
    pub pages_to_migrate: u64,
    /// Clean page-cache pages dropped instead of migrated.
    pub pages_to_drop: u64,
    pub blocker_pfn: Option<u64>,
    pub rule: Option<Rule>,
    /// For windows that need migration: whether targets are sure.
    pub targets: Targets,
    /// What the blocking page is, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocker_kind: Option<String>,
}

/// Counts over a [`ContiguityMap`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContiguitySummary {
    pub windows: u64,
    pub free: u64,
    pub migrate: u64,
    pub blocked: u64,
    /// The obtainable window that needs the least migration.
    pub cheapest_pfn: Option<u64>,
    pub cheapest_pages_to_migrate: Option<u64>,
    /// Blocked windows by the rule of the page that blocks them.
    pub blocked_by_rule: Tally,
    /// Blocked windows by what the blocking page is.
    pub blocked_by_kind: Tally,
}

/// Counts by name, in name order; a JSON object of counts. (A sorted
/// vector rather than a `BTreeMap`: the web build carries no B-tree of
/// strings for it.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally(Vec<(String, u64)>);

impl Tally {
    /// Counts one more of `name`.
    pub fn add(&mut self, name: &str) {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (name.to_string(), 1)),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `(name, count)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, n)| (k.as_str(), *n))
    }
}

impl Serialize for Tally {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, n) in &self.0 {
            m.serialize_entry(k, n)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Tally {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Tally, D::Error> {
        Ok(Tally(BTreeMap::<String, u64>::deserialize(d)?.into_iter().collect()))
    }
}

/// Where in a machine a contiguous range of one size could still be had.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContiguityMap {
    pub size_pages: u64,
    pub windows: Vec<WindowVerdict>,
    pub summary: ContiguitySummary,
}

impl ContiguityMap {
    /// "37 of 64 1 GiB windows obtainable; cheapest at PFN 0x140000, 1,234
    /// pages to migrate; 27 blocked, 22 of them by unmovable slab".
    pub fn sentence(&self, size_label: &str) -> String {
        let s = &self.summary;
        let mut out = format!("{} of {} {size_label} windows obtainable", s.free + s.migrate, s.windows);
        if s.free > 0 {
            out += &format!(" ({} free now)", s.free);
        }
        if let (Some(p), Some(n)) = (s.cheapest_pfn, s.cheapest_pages_to_migrate) {
            out += &format!("; cheapest at PFN {p:#x}, {} pages to migrate", group(n));
        }
        if s.blocked > 0 {
            out += &format!("; {} blocked", s.blocked);
            if let Some((kind, n)) = s.blocked_by_kind.iter().max_by_key(|&(k, n)| (n, std::cmp::Reverse(k))) {
                out += &format!(", {n} of them by {kind}");
            }
        }
        out
    }
}

/// 1234567 as "1,234,567".
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A contiguity map computed a few windows at a time, so a front end can
/// show progress; the result equals [`Machine::contiguity_map`].
#[derive(Clone, Debug)]
pub struct ContiguityJob {
    size: u64,
    /// Every window, by zone: (zone index, start PFN).
    todo: Vec<(usize, u64)>,
    next: usize,
    pool: TargetPool,
    windows: Vec<WindowVerdict>,
}

impl ContiguityJob {
    pub fn new(m: &Machine, size: u64) -> ContiguityJob {
        let size = size.max(1);
        let mut todo = Vec::new();
        for (zi, z) in m.zones.iter().enumerate() {
            let mut pfn = z.span.start.div_ceil(size) * size;
            while pfn + size <= z.span.end {
                todo.push((zi, pfn));
                pfn += size;
            }
        }
        ContiguityJob { size, todo, next: 0, pool: TargetPool::new(m), windows: Vec::new() }
    }

    /// Windows done, as a fraction.
    pub fn progress(&self) -> f64 {
        if self.todo.is_empty() {
            1.0
        } else {
            self.next as f64 / self.todo.len() as f64
        }
    }

    /// Computes up to `n` more windows; true when all are done.
    pub fn advance(&mut self, m: &Machine, n: usize) -> bool {
        let stop = self.next.saturating_add(n).min(self.todo.len());
        for &(zi, start) in &self.todo[self.next..stop] {
            let d = m.diagnose_with(start, start + self.size, MigrateType::Movable, Stages::MAP, self.pool.clone());
            self.windows.push(WindowVerdict {
                start_pfn: start,
                zone: m.zones[zi].name().to_string(),
                verdict: d.verdict,
                pages_to_migrate: d.pages_to_migrate,
                pages_to_drop: d.pages_to_drop,
                blocker_pfn: d.first.as_ref().filter(|b| b.rule != Rule::NoTarget).map(|b| b.pfn),
                rule: d.first.as_ref().map(|b| b.rule),
                targets: d.targets,
                blocker_kind: d.first.map(|b| b.kind),
            });
        }
        self.next = stop;
        self.next == self.todo.len()
    }

    pub fn finish(self) -> ContiguityMap {
        let mut s = ContiguitySummary { windows: self.windows.len() as u64, ..Default::default() };
        for w in &self.windows {
            match w.verdict {
                Verdict::Free => s.free += 1,
                Verdict::Migrate => s.migrate += 1,
                Verdict::Blocked => {
                    s.blocked += 1;
                    if let Some(r) = w.rule {
                        s.blocked_by_rule.add(r.name());
                        let kind = match r {
                            Rule::Unmovable | Rule::NotMigratable | Rule::Pinned | Rule::LruBatch => w.blocker_kind.clone().unwrap_or_default(),
                            _ => r.explain().split(':').next().unwrap_or("").to_string(),
                        };
                        s.blocked_by_kind.add(&format!("{r} ({kind})"));
                    }
                }
            }
            if w.verdict != Verdict::Blocked && s.cheapest_pages_to_migrate.is_none_or(|c| w.pages_to_migrate < c) {
                s.cheapest_pfn = Some(w.start_pfn);
                s.cheapest_pages_to_migrate = Some(w.pages_to_migrate);
            }
        }
        ContiguityMap { size_pages: self.size, windows: self.windows, summary: s }
    }
}
