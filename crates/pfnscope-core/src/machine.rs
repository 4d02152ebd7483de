//! The simulated machine: zones over a flat array of page words, pageblock
//! flags, free lists and per-cpu lists, all in one journaled [`Store`].
//!
//! List heads share the page words' index space: node `i < nr_pages` is the
//! page at `base_pfn + i`, node `nr_pages + k` is list head `k`. Lists are
//! circular, like `struct list_head`, so `list_del` needs no list pointer.

use crate::error::{Error, Result};
use crate::geometry::{Geometry, MachineSpec, PfnRange, ZoneType};
use crate::migratetype::{MigrateType, MIGRATE_TYPES};
use crate::page::{InUse, PageKind, PageWord, Tag, LINK_MASK};
use crate::store::Store;
use crate::trace::{KernelFn, Recorder, StepKind, Trace};
use crate::zone::{self, Zone, ZoneCounter, NR_PCP_LISTS};

/// Machine-wide event counters (a few of `/proc/vmstat`'s), journaled so
/// they step back with the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmEvent {
    /// `mm_page_alloc_extfrag` tracepoint hits: fallbacks to another type.
    ExtfragFallbacks = 0,
    /// Fallbacks with `fragmenting=1` (below pageblock_order).
    ExtfragFragmenting = 1,
    /// Failed page allocations.
    AllocFail = 2,
    /// `PGMIGRATE_SUCCESS`.
    MigrateSuccess = 3,
    /// `PGMIGRATE_FAIL`.
    MigrateFail = 4,
    /// Pageblocks that failed isolation.
    IsolateFail = 5,
}

pub(crate) const NR_VM_EVENTS: usize = 6;

/// Pageblock flag bits: 3 migratetype bits and the compaction skip bit.
pub const PB_MIGRATETYPE_MASK: u8 = 0b0111;
/// `PB_migrate_skip`.
pub const PB_SKIP: u8 = 0b1000;

/// A simulated machine (one NUMA node).
#[derive(Clone, Debug)]
pub struct Machine {
    pub(crate) spec: MachineSpec,
    pub(crate) geo: Geometry,
    /// The PFN of page word 0 (the first zone's start, rounded down to a
    /// MAX_PAGE_ORDER block so buddy PFNs never leave the array).
    pub(crate) base_pfn: u64,
    pub(crate) zones: Vec<Zone>,
    pub(crate) store: Store,
    pub(crate) recorder: Option<Recorder>,
    /// The CPU that runs the next allocation or free.
    pub(crate) cpu: u8,
    /// `zone_pcp_disable()` depth: while above zero, frees skip the per-cpu
    /// lists (the model disables them for every zone at once).
    pub(crate) pcp_disabled: u32,
    /// `lru_cache_disable()` depth: while above zero, new LRU folios skip
    /// the per-cpu batches.
    pub(crate) lru_disabled: u32,
    /// A fatal signal is pending for the task running the operation: long
    /// operations stop with -EINTR.
    pub fatal_signal_pending: bool,
    pub(crate) cma: Vec<crate::cma::CmaArea>,
    /// Folios moved (old, Some(new)) or dropped from the page cache
    /// (old, None) since the last [`Machine::take_migrations`]: owners that
    /// track pages by PFN (the kernel's users hold virtual addresses
    /// instead) follow them here.
    pub(crate) migrations: Vec<(u64, Option<u64>)>,
    /// The free page reporting device, once one registered (see
    /// [`crate::reporting`]); its state lives in the store's counters.
    pub(crate) reporting: Option<crate::reporting::ReportingDev>,
    /// The hypervisor's dirty log while a simulated live migration runs:
    /// every range the guest wrote (allocated) since it was last taken.
    pub(crate) write_log: Option<Vec<PfnRange>>,
    /// Memory regions and the 2013 region allocator (see
    /// [`crate::regions`]); their state lives in the store's counters.
    pub(crate) regions: Option<crate::regions::Regions>,
}

impl Machine {
    /// Boots a machine: every pageblock MOVABLE (`memmap_init_range`),
    /// reserved ranges `PG_reserved`, and all other present memory freed to
    /// the buddy allocator in the largest aligned blocks that fit
    /// (`__free_pages_memory`), to the tail of the lists (`FPI_TO_TAIL`).
    pub fn new(spec: MachineSpec) -> Result<Machine> {
        let mut m = Machine::empty(spec)?;
        for zi in 0..m.zones.len() {
            m.boot_zone(zi);
        }
        Ok(m)
    }

    /// Starts a machine laid out page by page, as an import reconstructs
    /// it: an empty machine with the pageblock types set. Fill each zone
    /// with [`Machine::layout_fill`], in one call or in chunks.
    pub fn layout_begin(spec: MachineSpec, block_type: impl Fn(u64) -> MigrateType) -> Result<Machine> {
        let mut m = Machine::empty(spec)?;
        let nr = m.geo.pageblock_nr_pages();
        for b in 0..m.store.nr_blocks() {
            let pfn = m.base_pfn + b as u64 * nr;
            if m.zone_of(pfn).is_some() || m.zone_of(pfn + nr - 1).is_some() {
                m.set_pageblock_migratetype(pfn, block_type(pfn));
            }
        }
        Ok(m)
    }

    /// Lays out `[from, to)` of zone `zi`: each PFN as `page(pfn)` says,
    /// with the free runs split into the largest aligned blocks and put on
    /// their lists without merging (a snapshot already shows the kernel's
    /// merges). Chunks must start and end at MAX_PAGE_ORDER-aligned PFNs or at the
    /// zone's edges: aligned blocks never cross such a boundary, so the
    /// result is the same as laying out the zone at once. Free runs longer
    /// than a pageblock take their first pageblock's type throughout, as the
    /// kernel's lists require.
    pub fn layout_fill(&mut self, zi: usize, from: u64, to: u64, page: &impl Fn(u64) -> Option<InUse>, is_free: &impl Fn(u64) -> bool) {
        let span = self.zones[zi].span;
        let (from, to) = (from.max(span.start), to.min(span.end));
        let mut pfn = from;
        while pfn < to {
            if is_free(pfn) {
                let run_end = (pfn..to).find(|&p| !is_free(p)).unwrap_or(to);
                let mut start = pfn;
                while start < run_end {
                    let mut order = (start.trailing_zeros() as u8).min(self.geo.max_order);
                    while start + (1 << order) > run_end {
                        order -= 1;
                    }
                    let mt = self.get_pageblock_migratetype(start);
                    if order > self.geo.pageblock_order {
                        self.change_pageblock_range(start, order, mt);
                    }
                    self.set_pages(start + 1, (1 << order) - 1, PageWord::FREE_TAIL);
                    self.add_to_free_list(start, zi, order, mt, true);
                    start += 1 << order;
                }
                pfn = run_end;
            } else {
                let w = page(pfn).map_or(PageWord::HOLE, PageWord::in_use);
                self.set_page(pfn, w);
                pfn += 1;
            }
        }
    }

    /// The arrays, lists and zones of a machine with every page a hole and
    /// every pageblock MOVABLE (CMA areas CMA): what boot starts from.
    fn empty(spec: MachineSpec) -> Result<Machine> {
        validate(&spec)?;
        let geo = spec.geometry;
        let span = spec.span();
        let max_block = geo.max_order_nr_pages();
        let base_pfn = span.start & !(max_block - 1);
        let end_pfn = span.end.div_ceil(max_block) * max_block;
        // A 32-bit platform (wasm in a browser) cannot hold the page words
        // of the biggest machines: refuse them with a clear error before
        // the allocation fails.
        let words = (end_pfn - base_pfn).saturating_mul(8);
        if words > isize::MAX as u64 / 2 {
            return Err(Error::BadMachine(format!(
                "{} PFNs need {} MiB of page words, more than this platform can hold (a browser's wasm has 4 GiB in all); use the command line",
                end_pfn - base_pfn,
                words >> 20
            )));
        }
        let nr_pages = (end_pfn - base_pfn) as usize;
        let nr_blocks = nr_pages >> geo.pageblock_order;
        let nr_cpus = spec.nr_cpus as usize;
        let heads_per_zone = geo.nr_orders() * MIGRATE_TYPES + nr_cpus * NR_PCP_LISTS;
        let nr_heads = heads_per_zone * spec.zones.len();
        if (nr_pages + nr_heads) as u64 > LINK_MASK {
            return Err(Error::BadMachine(format!("{nr_pages} PFNs is more than the model's limit of {}", LINK_MASK as usize - nr_heads)));
        }

        let counters_per_zone = Zone::nr_counters(geo.nr_orders(), nr_cpus);
        let mut global_counters = NR_VM_EVENTS + nr_cpus * crate::lru::LRU_BATCH_SLOTS;
        let mut cma = Vec::new();
        for c in &spec.cma {
            let area = crate::cma::CmaArea { name: c.name.clone(), base_pfn: c.base_pfn, count: c.count, order_per_bit: c.order_per_bit, bitmap_base: global_counters };
            global_counters += area.bitmap_words();
            cma.push(area);
        }
        let lowmem_managed: u64 = spec
            .zones
            .iter()
            .filter(|z| z.zone_type != ZoneType::Movable)
            .map(managed_pages)
            .sum();
        let min_free_pages = zone::min_free_kbytes(lowmem_managed, &geo) >> (geo.page_shift - 10);
        let mut managed_by_type = [0u64; 4];
        for z in &spec.zones {
            managed_by_type[z.zone_type as usize] += managed_pages(z);
        }
        let zones = spec
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let managed = managed_pages(z);
                let watermark = zone::zone_watermarks(z.zone_type, managed, lowmem_managed, min_free_pages);
                let pcp_batch = zone::zone_batchsize(managed, &geo);
                Zone {
                    zone_type: z.zone_type,
                    span: z.span,
                    present_pages: z.span.len() - z.holes.iter().map(PfnRange::len).sum::<u64>(),
                    managed_pages: managed,
                    watermark,
                    lowmem_reserve: zone::lowmem_reserve(z.zone_type, &managed_by_type),
                    pcp_high: zone::zone_highsize(watermark[1], pcp_batch, nr_cpus as u64),
                    pcp_batch,
                    free_head_base: (nr_pages + i * heads_per_zone) as u32,
                    pcp_head_base: (nr_pages + i * heads_per_zone + geo.nr_orders() * MIGRATE_TYPES) as u32,
                    counter_base: (global_counters + i * counters_per_zone) as u32,
                    nr_orders: geo.nr_orders() as u8,
                }
            })
            .collect();

        let store = Store::new(nr_pages, nr_blocks, nr_heads, global_counters + counters_per_zone * spec.zones.len());
        let mut m = Machine { spec, geo, base_pfn, zones, store, recorder: None, cpu: 0, pcp_disabled: 0, lru_disabled: 0, fatal_signal_pending: false, cma, migrations: Vec::new(), reporting: None, write_log: None, regions: None };
        for k in 0..nr_heads {
            let node = (nr_pages + k) as u32;
            m.store.set_head(k, node, node);
        }
        for b in 0..nr_blocks {
            m.store.set_block(b, MigrateType::Movable as u8);
        }
        // cma_activate_area() / init_cma_reserved_pageblock(): the area's
        // pageblocks are MIGRATE_CMA before their pages reach the buddy lists.
        for c in m.spec.cma.clone() {
            let nr = geo.pageblock_nr_pages();
            for p in (c.base_pfn..c.base_pfn + c.count).step_by(nr as usize) {
                m.set_pageblock_migratetype(p, MigrateType::Cma);
            }
        }
        Ok(m)
    }

    /// Marks a zone's pages and frees its usable memory to the buddy lists.
    fn boot_zone(&mut self, zi: usize) {
        let zs = self.spec.zones[zi].clone();
        for pfn in zs.span.start..zs.span.end {
            let i = self.idx(pfn);
            let w = if zs.holes.iter().any(|h| h.contains(pfn)) {
                PageWord::HOLE
            } else if zs.reserved.iter().any(|r| r.contains(pfn)) {
                PageWord::in_use(InUse::new(PageKind::Reserved))
            } else {
                PageWord::FREE_TAIL
            };
            self.store.set_page(i, w);
        }
        // __free_pages_memory(): the largest naturally aligned blocks.
        let mut pfn = zs.span.start;
        while pfn < zs.span.end {
            if self.page(pfn).tag() != Tag::FreeTail {
                pfn += 1;
                continue;
            }
            let run_end = (pfn..zs.span.end).find(|&p| self.page(p).tag() != Tag::FreeTail).unwrap_or(zs.span.end);
            let mut start = pfn;
            while start < run_end {
                let mut order = (start.trailing_zeros() as u8).min(self.geo.max_order);
                while start + (1 << order) > run_end {
                    order -= 1;
                }
                self.free_one_page(start, zi, order, crate::buddy::Fpi::TO_TAIL);
                start += 1 << order;
            }
            pfn = run_end;
        }
    }

    // ----- facts -------------------------------------------------------

    pub fn spec(&self) -> &MachineSpec {
        &self.spec
    }
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }
    pub fn nr_cpus(&self) -> u8 {
        self.spec.nr_cpus
    }
    /// The PFNs the page array covers (every zone, rounded out to
    /// MAX_PAGE_ORDER blocks).
    pub fn pfn_span(&self) -> PfnRange {
        PfnRange::new(self.base_pfn, self.base_pfn + self.store.nr_pages() as u64)
    }
    /// The raw page words, indexed from `pfn_span().start`.
    pub fn page_words(&self) -> &[PageWord] {
        self.store.pages()
    }
    /// The raw pageblock flag bytes, indexed from `pfn_span().start`.
    pub fn pageblock_flags(&self) -> &[u8] {
        self.store.blocks()
    }
    /// Bytes of per-PFN state (page words and pageblock flags) per PFN.
    pub fn bytes_per_pfn(&self) -> f64 {
        (self.store.nr_pages() * 8 + self.store.nr_blocks()) as f64 / self.store.nr_pages() as f64
    }
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// A hash of the whole state (see [`Store::fingerprint`]).
    pub fn fingerprint(&self) -> u64 {
        self.store.fingerprint()
    }

    /// The CPU that runs the next operation.
    pub fn cpu(&self) -> u8 {
        self.cpu
    }
    /// Chooses the CPU that runs the next operation.
    pub fn set_cpu(&mut self, cpu: u8) -> Result<()> {
        if cpu >= self.spec.nr_cpus {
            return Err(Error::NoSuchCpu { cpu, nr_cpus: self.spec.nr_cpus });
        }
        self.cpu = cpu;
        Ok(())
    }

    // ----- pages and pageblocks -----------------------------------------

    #[inline]
    pub(crate) fn idx(&self, pfn: u64) -> usize {
        (pfn - self.base_pfn) as usize
    }
    #[inline]
    pub(crate) fn node_pfn(&self, node: u32) -> u64 {
        self.base_pfn + node as u64
    }
    #[inline]
    pub(crate) fn in_array(&self, pfn: u64) -> bool {
        pfn >= self.base_pfn && pfn < self.base_pfn + self.store.nr_pages() as u64
    }

    /// The word of a page; a hole outside the machine.
    #[inline]
    pub fn page(&self, pfn: u64) -> PageWord {
        if self.in_array(pfn) {
            self.store.page(self.idx(pfn))
        } else {
            PageWord::HOLE
        }
    }
    #[inline]
    pub(crate) fn set_page(&mut self, pfn: u64, w: PageWord) {
        let i = self.idx(pfn);
        self.store.set_page(i, w);
    }

    /// Writes one word to `nr` pages from `pfn` (journaled as runs). An
    /// order-0 block's tails are none, so the common free costs nothing.
    #[inline]
    pub(crate) fn set_pages(&mut self, pfn: u64, nr: u64, w: PageWord) {
        if nr > 0 {
            let i = self.idx(pfn);
            self.store.fill_pages(i, nr as usize, w);
        }
    }

    /// The zone index of a PFN (`page_zone()`), `None` outside every zone.
    #[inline]
    pub fn zone_of(&self, pfn: u64) -> Option<usize> {
        self.zones.iter().position(|z| z.span.contains(pfn))
    }

    /// The zone index of a zone type.
    pub fn zone_index(&self, t: ZoneType) -> Option<usize> {
        self.zones.iter().position(|z| z.zone_type == t)
    }

    /// Checks that a PFN has memory behind it.
    pub fn check_pfn(&self, pfn: u64) -> Result<usize> {
        let zi = self.zone_of(pfn).ok_or(Error::PfnOutOfRange { pfn })?;
        if self.page(pfn).tag() == Tag::Hole {
            return Err(Error::Hole { pfn });
        }
        Ok(zi)
    }

    #[inline]
    pub(crate) fn block_index(&self, pfn: u64) -> usize {
        self.idx(pfn) >> self.geo.pageblock_order
    }
    /// `get_pageblock_migratetype()`.
    #[inline]
    pub fn get_pageblock_migratetype(&self, pfn: u64) -> MigrateType {
        MigrateType::from_bits(self.store.block(self.block_index(pfn)) & PB_MIGRATETYPE_MASK)
    }
    /// The compaction skip bit of the pageblock holding `pfn`.
    pub fn pageblock_skip(&self, pfn: u64) -> bool {
        self.store.block(self.block_index(pfn)) & PB_SKIP != 0
    }
    /// `set_pageblock_migratetype()`. `zone->nr_isolate_pageblock` follows
    /// here, in the same step as the type: the kernel counts it in the
    /// (un)isolation functions around the change, which the model folds in
    /// so every traced step is self-consistent.
    pub(crate) fn set_pageblock_migratetype(&mut self, pfn: u64, mt: MigrateType) {
        let b = self.block_index(pfn);
        let old = MigrateType::from_bits(self.store.block(b) & PB_MIGRATETYPE_MASK);
        let v = (self.store.block(b) & !PB_MIGRATETYPE_MASK) | mt as u8;
        self.store.set_block(b, v);
        if (old == MigrateType::Isolate) != (mt == MigrateType::Isolate) {
            let start = self.pageblock_start_pfn(pfn);
            if let Some(zi) = self.zone_of(start).or_else(|| self.zone_of(pfn)) {
                self.add_zone_counter(zi, ZoneCounter::NrIsolatePageblock, if mt == MigrateType::Isolate { 1 } else { -1 });
            }
        }
    }
    /// `pageblock_start_pfn()`.
    #[inline]
    pub fn pageblock_start_pfn(&self, pfn: u64) -> u64 {
        pfn & !(self.geo.pageblock_nr_pages() - 1)
    }

    // ----- counters ------------------------------------------------------

    /// A zone counter's current value.
    pub fn zone_counter(&self, zi: usize, c: ZoneCounter) -> i64 {
        self.store.counter(self.zones[zi].counter(c))
    }
    pub(crate) fn add_zone_counter(&mut self, zi: usize, c: ZoneCounter, delta: i64) {
        let i = self.zones[zi].counter(c);
        self.store.add_counter(i, delta);
    }
    /// `free_area[order].nr_free`.
    pub fn nr_free(&self, zi: usize, order: u8) -> u64 {
        self.zone_counter(zi, ZoneCounter::NrFree(order)) as u64
    }
    /// `zone_page_state(zone, NR_FREE_PAGES)`.
    pub fn zone_free_pages(&self, zi: usize) -> i64 {
        self.zone_counter(zi, ZoneCounter::FreePages)
    }
    /// Pages on the zone's per-cpu lists, every CPU.
    pub fn zone_pcp_pages(&self, zi: usize) -> u64 {
        (0..self.spec.nr_cpus).map(|cpu| self.pcp_count(zi, cpu)).sum()
    }
    /// A machine-wide event count.
    pub fn vm_event(&self, e: VmEvent) -> i64 {
        self.store.counter(e as usize)
    }
    pub(crate) fn count_vm_event(&mut self, e: VmEvent, n: i64) {
        self.store.add_counter(e as usize, n);
    }

    // ----- intrusive lists (struct list_head) --------------------------

    #[inline]
    fn links(&self, node: u32) -> (u32, u32) {
        let n = node as usize;
        if n < self.store.nr_pages() {
            let w = self.store.page(n);
            (w.prev(), w.next())
        } else {
            self.store.head(n - self.store.nr_pages())
        }
    }
    #[inline]
    fn set_links(&mut self, node: u32, prev: Option<u32>, next: Option<u32>) {
        let n = node as usize;
        if n < self.store.nr_pages() {
            let mut w = self.store.page(n);
            if let Some(p) = prev {
                w = w.with_prev(p);
            }
            if let Some(x) = next {
                w = w.with_next(x);
            }
            self.store.set_page(n, w);
        } else {
            let k = n - self.store.nr_pages();
            let (p0, x0) = self.store.head(k);
            self.store.set_head(k, prev.unwrap_or(p0), next.unwrap_or(x0));
        }
    }
    /// `list_add()` / `list_add_tail()` of a page node to a head node.
    pub(crate) fn list_add(&mut self, node: u32, head: u32, tail: bool) {
        let (head_prev, head_next) = self.links(head);
        let (prev, next) = if tail { (head_prev, head) } else { (head, head_next) };
        self.set_links(node, Some(prev), Some(next));
        self.set_links(prev, None, Some(node));
        self.set_links(next, Some(node), None);
    }
    /// `list_del()`.
    pub(crate) fn list_del(&mut self, node: u32) {
        let (prev, next) = self.links(node);
        self.set_links(prev, None, Some(next));
        self.set_links(next, Some(prev), None);
    }
    /// The first entry's PFN (`list_first_entry_or_null`).
    pub(crate) fn list_first(&self, head: u32) -> Option<u64> {
        let (_, next) = self.links(head);
        (next != head).then(|| self.node_pfn(next))
    }
    /// The last entry's PFN.
    pub(crate) fn list_last(&self, head: u32) -> Option<u64> {
        let (prev, _) = self.links(head);
        (prev != head).then(|| self.node_pfn(prev))
    }
    /// The entry after `pfn`'s on the list headed by `head`, if any.
    pub(crate) fn list_next(&self, pfn: u64, head: u32) -> Option<u64> {
        let (_, next) = self.links(self.page_node(pfn));
        (next != head).then(|| self.node_pfn(next))
    }
    pub(crate) fn list_empty(&self, head: u32) -> bool {
        self.links(head).1 == head
    }
    /// The PFNs on a list, first to last (bounded by the page count, so a
    /// corrupt list cannot loop forever).
    pub(crate) fn list_pfns(&self, head: u32) -> Vec<u64> {
        let mut out = Vec::new();
        let mut node = self.links(head).1;
        while node != head && out.len() <= self.store.nr_pages() {
            if node as usize >= self.store.nr_pages() {
                break;
            }
            out.push(self.node_pfn(node));
            node = self.links(node).1;
        }
        out
    }
    /// The PFNs on `free_area[order].free_list[mt]` of a zone, head first.
    pub fn free_list_pfns(&self, zi: usize, order: u8, mt: MigrateType) -> Vec<u64> {
        self.list_pfns(self.zones[zi].free_list(order, mt.index()))
    }
    /// The PFNs on one CPU's per-cpu list `pindex` of a zone, head first.
    pub fn pcp_list_pfns(&self, zi: usize, cpu: u8, pindex: usize) -> Vec<u64> {
        self.list_pfns(self.zones[zi].pcp_list(cpu, pindex))
    }
    pub(crate) fn page_node(&self, pfn: u64) -> u32 {
        self.idx(pfn) as u32
    }

    // ----- tracing -------------------------------------------------------

    #[inline]
    pub(crate) fn enter(&mut self, f: KernelFn) {
        if let Some(r) = &mut self.recorder {
            r.enter(f);
        }
    }
    #[inline]
    pub(crate) fn leave(&mut self) {
        if let Some(r) = &mut self.recorder {
            r.leave();
        }
    }
    /// Records a step in the current function; `text` runs only when tracing.
    #[inline]
    pub(crate) fn note(&mut self, kind: StepKind, range: Option<PfnRange>, text: impl FnOnce() -> String) {
        if self.recorder.is_some() {
            let pos = self.store.position();
            let t = text();
            if let Some(r) = &mut self.recorder {
                r.step(kind, range, t, pos);
            }
        }
    }

    /// Records a step that moved pages from `range` to `target`.
    #[inline]
    pub(crate) fn note_move(&mut self, range: PfnRange, target: PfnRange, text: impl FnOnce() -> String) {
        if self.recorder.is_some() {
            let pos = self.store.position();
            let t = text();
            if let Some(r) = &mut self.recorder {
                r.step_to(StepKind::Action, Some(range), Some(target), t, pos);
            }
        }
    }

    /// Runs `op` as part of one step: its writes are folded in the journal
    /// (see [`Store::begin_fold`]; pages of `range` in runs) and it records
    /// no steps of its own, so the caller's next note says what it did.
    /// Inside another fold, `op` simply runs in it.
    pub(crate) fn folded<R>(&mut self, range: PfnRange, op: impl FnOnce(&mut Machine) -> R) -> R {
        if self.store.folding() {
            return op(self);
        }
        let recorder = self.recorder.take();
        let (lo, hi) = (range.start.saturating_sub(self.base_pfn) as usize, range.end.saturating_sub(self.base_pfn) as usize);
        self.store.begin_fold(lo, hi);
        let r = op(self);
        self.store.end_fold();
        self.recorder = recorder;
        r
    }

    /// Runs `op` with journaling and step recording on, and returns its
    /// result with the trace. The state stays where `op` left it; seek the
    /// store to any step's journal position to see the state after it.
    pub fn record<R>(&mut self, title: impl Into<String>, op: impl FnOnce(&mut Machine) -> R) -> (R, Trace) {
        let was_journaling = self.store.journaling();
        self.store.set_journaling(true);
        let journal_start = self.store.position();
        let outer = self.recorder.replace(Recorder::default());
        let result = op(self);
        let steps = self.recorder.take().map(Recorder::into_steps).unwrap_or_default();
        self.recorder = outer;
        self.store.set_journaling(was_journaling);
        (result, Trace { title: title.into(), journal_start, steps })
    }

    /// Takes the log of migrated folios, in order: (old, Some(new)) for a
    /// move, (old, None) for clean page cache that reclaim dropped.
    pub fn take_migrations(&mut self) -> Vec<(u64, Option<u64>)> {
        std::mem::take(&mut self.migrations)
    }

    /// Moves the whole state to a journal position (see [`Trace::position_after`]).
    pub fn seek(&mut self, pos: usize) -> usize {
        self.store.seek(pos)
    }
    /// The PFN ranges whose picture may differ between two journal
    /// positions: every page written, a free block's whole extent when its
    /// head was written (its tails take their color and shape from it),
    /// and every pageblock whose type was written. Sorted and merged.
    pub fn touched_pfns(&self, a: usize, b: usize) -> Vec<PfnRange> {
        let (pages, blocks, counters) = self.store.touched(a, b);
        let nr = self.geo.pageblock_nr_pages();
        let mut out: Vec<PfnRange> = Vec::with_capacity(pages.len() + blocks.len());
        for (i, len, old, new) in pages {
            let pfn = self.base_pfn + i as u64;
            let extent = |w: crate::page::PageWord| match w.tag() {
                crate::page::Tag::Buddy | crate::page::Tag::Pcp | crate::page::Tag::Taken => 1u64 << w.order(),
                _ => 1,
            };
            out.push(PfnRange::new(pfn, pfn + len as u64 - 1 + extent(old).max(extent(new))));
        }
        for b in blocks {
            let pfn = self.base_pfn + b as u64 * nr;
            out.push(PfnRange::new(pfn, pfn + nr));
        }
        out.extend(self.host_bitmap_changes(&counters));
        union_of(out)
    }

    /// Forgets the journal, keeping the current state: a copy taken to
    /// start something new need not carry the history that led to it.
    pub fn forget_journal(&mut self) {
        self.store.clear_journal();
    }
    /// Turns journaling on or off (see [`Store::set_journaling`]).
    pub fn set_journaling(&mut self, on: bool) {
        self.store.set_journaling(on);
    }
}

/// The union of ranges, in PFN order, touching ones merged. Starts and
/// ends are sorted apart, as plain u64s: the union is the same, and the
/// web build carries one sort's code fewer.
fn union_of(ranges: Vec<PfnRange>) -> Vec<PfnRange> {
    let mut starts: Vec<u64> = ranges.iter().map(|r| r.start).collect();
    let mut ends: Vec<u64> = ranges.iter().map(|r| r.end).collect();
    starts.sort_unstable();
    ends.sort_unstable();
    let mut merged = Vec::new();
    let mut i = 0;
    while i < starts.len() {
        let start = starts[i];
        while i + 1 < starts.len() && starts[i + 1] <= ends[i] {
            i += 1;
        }
        merged.push(PfnRange::new(start, ends[i]));
        i += 1;
    }
    merged
}

/// `managed_pages` of a zone spec: present, not reserved.
fn managed_pages(z: &crate::geometry::ZoneSpec) -> u64 {
    let holes: u64 = z.holes.iter().map(PfnRange::len).sum();
    let reserved: u64 = z.reserved.iter().map(PfnRange::len).sum();
    z.span.len().saturating_sub(holes + reserved)
}

#[inline(never)]
pub(crate) fn validate(spec: &MachineSpec) -> Result<()> {
    let bad = |s: String| Err(Error::BadMachine(s));
    if spec.zones.is_empty() {
        return bad("no zones".into());
    }
    if spec.nr_cpus == 0 || spec.nr_cpus > 64 {
        return bad(format!("{} CPUs; 1 to 64 are supported", spec.nr_cpus));
    }
    let g = spec.geometry;
    if g.pageblock_order > g.max_order || g.max_order > crate::page::MAX_WORD_ORDER || !(12..=16).contains(&g.page_shift) {
        return bad(format!("geometry {g:?} is not supported"));
    }
    for (i, z) in spec.zones.iter().enumerate() {
        if z.span.is_empty() {
            return bad(format!("zone {} is empty", z.zone_type.proc_name()));
        }
        if let Some(prev) = i.checked_sub(1).map(|j| &spec.zones[j]) {
            if prev.span.end > z.span.start || prev.zone_type >= z.zone_type {
                return bad(format!("zones {} and {} overlap or are out of order", prev.zone_type.proc_name(), z.zone_type.proc_name()));
            }
        }
        for r in z.holes.iter().chain(&z.reserved) {
            if r.start < z.span.start || r.end > z.span.end || r.is_empty() {
                return bad(format!("range {:#x}-{:#x} is not inside zone {}", r.start, r.end, z.zone_type.proc_name()));
            }
        }
    }
    let nr = g.pageblock_nr_pages();
    for d in &spec.virtio_mem {
        let zone = spec.zones.iter().find(|z| z.span.contains(d.range.start));
        if zone.is_none_or(|z| d.range.end > z.span.end) || d.range.is_empty() {
            return bad(format!("virtio-mem device {} must lie inside one zone", d.name));
        }
        if d.subblock_pages < nr || d.subblock_pages % nr != 0 || d.range.start % d.subblock_pages != 0 || d.range.len() % d.subblock_pages != 0 {
            return bad(format!("virtio-mem device {}: subblocks must be whole pageblocks and tile the range", d.name));
        }
    }
    for c in &spec.cma {
        let r = PfnRange::new(c.base_pfn, c.base_pfn + c.count);
        let zone = spec.zones.iter().find(|z| z.span.contains(r.start));
        if zone.is_none_or(|z| r.end > z.span.end) || r.is_empty() {
            return bad(format!("CMA area {} ({:#x}-{:#x}) must lie inside one zone", c.name, r.start, r.end));
        }
        if !r.start.is_multiple_of(nr) || !r.end.is_multiple_of(nr) || c.order_per_bit > g.max_order || (c.count >> c.order_per_bit) << c.order_per_bit != c.count {
            return bad(format!("CMA area {} must be pageblock-aligned and a whole number of bitmap bits", c.name));
        }
        if zone.is_some_and(|z| z.holes.iter().chain(&z.reserved).any(|h| h.start < r.end && r.start < h.end)) {
            return bad(format!("CMA area {} overlaps a hole or reserved memory", c.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorting starts and ends apart gives the union a sort of the ranges
    /// would.
    #[test]
    fn the_union_of_ranges_merges_overlapping_and_touching_ones() {
        let r = |a, b| PfnRange::new(a, b);
        assert_eq!(union_of(vec![r(10, 20), r(0, 5), r(15, 30), r(5, 8), r(40, 41), r(12, 13)]), vec![r(0, 8), r(10, 30), r(40, 41)]);
        assert_eq!(union_of(vec![r(0, 100), r(10, 20), r(30, 40)]), vec![r(0, 100)]);
        assert!(union_of(vec![]).is_empty());
    }

    #[test]
    fn boot_frees_all_usable_memory_in_max_order_blocks() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        // 4096 pages, 64 reserved at the start: 0x40..0x400 fills the first
        // MAX_ORDER block with orders 6, 7, 8 and 9, then three order-10 blocks.
        assert_eq!(m.nr_free(0, 10), 3);
        assert_eq!(m.nr_free(0, 9), 1);
        assert_eq!(m.nr_free(0, 8), 1);
        assert_eq!(m.nr_free(0, 7), 1);
        assert_eq!(m.nr_free(0, 6), 1);
        assert_eq!(m.zone_free_pages(0), 4096 - 64);
        assert!(m.bytes_per_pfn() <= 8.01);
    }

    #[test]
    fn bad_machines_are_errors() {
        let mut spec = MachineSpec::teaching_64m();
        spec.zones.swap(0, 1);
        assert!(matches!(Machine::new(spec), Err(Error::BadMachine(_))));
        let mut spec = MachineSpec::teaching_16m();
        spec.nr_cpus = 0;
        assert!(Machine::new(spec).is_err());
        let mut spec = MachineSpec::teaching_16m();
        spec.zones[0].holes.push(PfnRange::new(0x2000, 0x3000));
        assert!(Machine::new(spec).is_err());
    }
}
