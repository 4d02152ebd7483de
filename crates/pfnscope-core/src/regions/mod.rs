//! Seed 003: Srivatsa Bhat's memory power management series (v4, 40
//! patches, 25 September 2013, on 3.12-rc2; never merged), as an opt-in
//! policy beside mainline.
//!
//! Memory controllers can power down a whole memory region (a DIMM or a
//! bank) when nothing in it is used. The series packs allocations into few
//! regions so the rest can stay empty:
//!
//! - **Regions** ([`RegionSpec`]): fixed-size slices of the node (the
//!   series hard-coded 512 MiB), cut by zone boundaries.
//! - **Sorted buddy lists** ([`sorted`]): every `free_list[mt]` is kept in
//!   region order, with each region's first entry and count remembered
//!   (`mr_list[]`), so allocation from the list head takes the lowest
//!   region.
//! - **The region allocator** ([`allocator`]): a per-zone back end that
//!   takes back a region whose memory is all free as MAX_ORDER blocks and
//!   hands a whole region to a migratetype whose lists ran dry. Fallback
//!   borrows pages without changing pageblock ownership, and
//!   `move_freepages()` first moves a region out of the region allocator
//!   onto the MOVABLE lists (the seed's patch 30/40).
//! - **Evacuation** ([`evacuate`]): `kmempowerd` reuses the contiguous
//!   allocator's migration to empty lightly used regions; region 0 is never
//!   evacuated.
//!
//! With the mainline policy the regions are only counted (free pages per
//! region), so the map and the comparison ([`timeline`]) can say how many
//! regions are fully free on either kernel.
//!
//! Simplified, and said in the steps: the series assumed pageblock_order ==
//! MAX_ORDER - 1, which x86 with 4 KiB pages does not have; pfnscope keeps
//! 6.12's geometry. The series' names for the functions it shows are kept
//! (`move_freepages`, `__del_from_region_allocator`, `can_return_region`,
//! `kmempowerd`); the structures are pfnscope's (counters in the journaled
//! store, not `struct mem_region_list`).

pub mod allocator;
pub mod evacuate;
pub mod sorted;
pub mod timeline;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geometry::PfnRange;
use crate::machine::Machine;
use crate::migratetype::{MigrateType, MIGRATE_TYPES};
use crate::page::Tag;

/// Which page allocator runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocatorPolicy {
    /// Linux 6.12.
    #[default]
    Mainline,
    /// Seed 003's region allocator (2013 v4 series, not merged).
    Regions,
}

impl AllocatorPolicy {
    pub const ALL: [AllocatorPolicy; 2] = [AllocatorPolicy::Mainline, AllocatorPolicy::Regions];
    pub const fn name(self) -> &'static str {
        match self {
            AllocatorPolicy::Mainline => "mainline",
            AllocatorPolicy::Regions => "regions",
        }
    }
    pub const fn label(self) -> &'static str {
        match self {
            AllocatorPolicy::Mainline => "mainline 6.12",
            AllocatorPolicy::Regions => "region allocator (seed 003, 2013, not merged)",
        }
    }
    pub fn by_name(name: &str) -> Option<AllocatorPolicy> {
        AllocatorPolicy::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The series' region size: 512 MiB.
pub const DEFAULT_REGION_BYTES: u64 = 512 << 20;
/// Machines under 1 GiB (the teaching presets) get 8 MiB regions by
/// default instead, so they have more than one region per zone.
pub const SMALL_MACHINE_REGION_BYTES: u64 = 8 << 20;

/// How a machine is cut into regions, and which allocator uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionSpec {
    pub policy: AllocatorPolicy,
    /// Pages per region: a multiple of the MAX_ORDER block.
    pub region_pages: u64,
}

/// A zone's regions: where their counters live in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZoneRegions {
    /// The node region index of the zone's region 0.
    pub(crate) first: u64,
    pub(crate) nr: usize,
    /// Counters: `in_ra[nr]`, `nr_free[nr]`, then `(first entry + 1,
    /// count)` per order, migratetype and region.
    pub(crate) base: usize,
}

/// The machine's regions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Regions {
    pub(crate) spec: RegionSpec,
    pub(crate) zones: Vec<ZoneRegions>,
}

/// What a region is doing, for the map and the counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionState {
    /// Held by the region allocator: free, and could be powered down.
    InRegionAllocator,
    /// Every present page free on the buddy lists: could be powered down.
    FullyFree,
    /// In use; its pageblocks are mostly of this type.
    Owned(MigrateType),
    /// No memory behind it (a hole).
    Empty,
}

/// One region of one zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionInfo {
    pub zone: usize,
    /// The region's index in its zone (`zone_mem_region[]`).
    pub index: usize,
    pub span: PfnRange,
    pub present_pages: u64,
    pub free_pages: u64,
    pub state: RegionState,
}

impl RegionInfo {
    /// Could the memory controller power this region down?
    pub fn powerable(&self) -> bool {
        matches!(self.state, RegionState::InRegionAllocator | RegionState::FullyFree)
    }
}

impl Machine {
    /// The region size a machine gets when none is asked for: the series'
    /// 512 MiB, or 8 MiB on a machine under 1 GiB.
    pub fn default_region_pages(&self) -> u64 {
        let bytes = (self.store.nr_pages() as u64) << self.geo.page_shift;
        let size = if bytes < 1 << 30 { SMALL_MACHINE_REGION_BYTES } else { DEFAULT_REGION_BYTES };
        (size >> self.geo.page_shift).max(self.geo.max_order_nr_pages())
    }

    /// Cuts the machine into regions of `region_pages` (none: see
    /// [`Machine::default_region_pages`]) and
    /// chooses the allocator. With [`AllocatorPolicy::Regions`] every free
    /// list is re-sorted by region and every fully free region goes to the
    /// region allocator, as at the series' boot. Like the reporting device,
    /// this is part of building a machine, once.
    pub fn regions_register(&mut self, policy: AllocatorPolicy, region_pages: Option<u64>) -> Result<()> {
        if self.regions.is_some() {
            return Err(Error::BadRequest("this machine already has memory regions; rebuild it to change them".into()));
        }
        let block = self.geo.max_order_nr_pages();
        let region_pages = region_pages.unwrap_or_else(|| self.default_region_pages());
        if region_pages == 0 || !region_pages.is_multiple_of(block) {
            return Err(Error::BadMachine(format!("a region must be a whole number of MAX_ORDER blocks ({block} pages), not {region_pages} pages")));
        }
        if self.store.nr_pages() as u64 / region_pages > 1 << 16 {
            return Err(Error::BadMachine(format!("{region_pages}-page regions cut this machine into more than 65536 regions")));
        }
        let per_region = 2 + self.geo.nr_orders() * MIGRATE_TYPES * 2;
        let mut zones = Vec::new();
        for z in &self.zones {
            let first = (z.span.start - self.base_pfn) / region_pages;
            let last = (z.span.end - 1 - self.base_pfn) / region_pages;
            let nr = (last - first + 1) as usize;
            let base = self.store.grow_counters(nr * per_region);
            zones.push(ZoneRegions { first, nr, base });
        }
        self.regions = Some(Regions { spec: RegionSpec { policy, region_pages }, zones });
        // Count what is free now, and with the allocator sort the lists.
        for zi in 0..self.zones.len() {
            for order in 0..=self.geo.max_order {
                for mt in MigrateType::ALL {
                    let head = self.zones[zi].free_list(order, mt.index());
                    let pfns = self.list_pfns(head);
                    for &pfn in &pfns {
                        let r = self.region_of(zi, pfn);
                        let i = self.region_free_counter(zi, r);
                        self.store.add_counter(i, 1 << order);
                    }
                    if policy == AllocatorPolicy::Regions {
                        for &pfn in &pfns {
                            self.list_del(self.page_node(pfn));
                        }
                        for pfn in pfns {
                            self.sorted_list_add(pfn, zi, order, mt, true);
                        }
                    }
                }
            }
        }
        if policy == AllocatorPolicy::Regions {
            for zi in 0..self.zones.len() {
                for r in 0..self.zone_regions(zi) {
                    self.try_return_region(zi, r);
                }
            }
        }
        Ok(())
    }

    /// The machine's regions and allocator, if it has them.
    pub fn region_spec(&self) -> Option<RegionSpec> {
        self.regions.as_ref().map(|r| r.spec)
    }

    /// Whether the region allocator runs (not merely counts regions).
    #[inline]
    pub(crate) fn region_allocator_on(&self) -> bool {
        self.regions.as_ref().is_some_and(|r| r.spec.policy == AllocatorPolicy::Regions)
    }

    /// Regions of zone `zi` (0 without regions).
    pub fn zone_regions(&self, zi: usize) -> usize {
        self.regions.as_ref().map_or(0, |r| r.zones[zi].nr)
    }

    /// `page_zone_region_id()`: the region of `pfn` within zone `zi`.
    #[inline]
    pub fn region_of(&self, zi: usize, pfn: u64) -> usize {
        let r = self.regions.as_ref().expect("regions");
        ((pfn - self.base_pfn) / r.spec.region_pages - r.zones[zi].first) as usize
    }

    /// The PFNs of region `r` of zone `zi`, cut by the zone.
    pub fn region_span(&self, zi: usize, r: usize) -> PfnRange {
        let rs = self.regions.as_ref().expect("regions");
        let start = self.base_pfn + (rs.zones[zi].first + r as u64) * rs.spec.region_pages;
        let span = self.zones[zi].span;
        PfnRange::new(start.max(span.start), (start + rs.spec.region_pages).min(span.end))
    }

    pub(crate) fn region_ra_counter(&self, zi: usize, r: usize) -> usize {
        self.regions.as_ref().expect("regions").zones[zi].base + r
    }
    pub(crate) fn region_free_counter(&self, zi: usize, r: usize) -> usize {
        let z = &self.regions.as_ref().expect("regions").zones[zi];
        z.base + z.nr + r
    }
    /// The counter pair `(first entry + 1, count)` of region `r` on
    /// `free_list[mt]` of `order`.
    pub(crate) fn mr_counter(&self, zi: usize, order: u8, mt: MigrateType, r: usize) -> usize {
        let z = &self.regions.as_ref().expect("regions").zones[zi];
        z.base + 2 * z.nr + ((order as usize * MIGRATE_TYPES + mt.index()) * z.nr + r) * 2
    }

    /// Whether region `r` of zone `zi` is held by the region allocator.
    pub fn region_in_allocator(&self, zi: usize, r: usize) -> bool {
        self.regions.is_some() && self.store.counter(self.region_ra_counter(zi, r)) != 0
    }

    /// `page_in_region_allocator()`: a free block held by the region
    /// allocator rather than the buddy lists.
    pub fn page_in_region_allocator(&self, pfn: u64) -> bool {
        if !self.region_allocator_on() {
            return false;
        }
        match self.zone_of(pfn) {
            Some(zi) => self.region_in_allocator(zi, self.region_of(zi, pfn)),
            None => false,
        }
    }

    /// Free pages of a region: on the buddy lists or in the region
    /// allocator (per-cpu pages are not counted: the allocator can hand
    /// them out at any moment).
    pub fn region_free_pages(&self, zi: usize, r: usize) -> u64 {
        self.store.counter(self.region_free_counter(zi, r)) as u64
    }

    /// Present pages of a region: its span less the holes.
    pub fn region_present_pages(&self, zi: usize, r: usize) -> u64 {
        let span = self.region_span(zi, r);
        self.spec.zones[zi].holes.iter().fold(span.len(), |n, h| n - h.end.min(span.end).saturating_sub(h.start.max(span.start)))
    }

    /// Every region of every zone with its state.
    pub fn regions(&self) -> Vec<RegionInfo> {
        let mut out = Vec::new();
        for zi in 0..self.zones.len() {
            for r in 0..self.zone_regions(zi) {
                out.push(self.region_info(zi, r));
            }
        }
        out
    }

    /// One region's state.
    pub fn region_info(&self, zi: usize, r: usize) -> RegionInfo {
        let span = self.region_span(zi, r);
        let present = self.region_present_pages(zi, r);
        let free = self.region_free_pages(zi, r);
        let state = if present == 0 {
            RegionState::Empty
        } else if self.region_in_allocator(zi, r) {
            RegionState::InRegionAllocator
        } else if self.region_powerable(zi, r) {
            RegionState::FullyFree
        } else {
            let mut counts = [0u64; MIGRATE_TYPES];
            let nr = self.geo.pageblock_nr_pages();
            let mut p = self.pageblock_start_pfn(span.start);
            while p < span.end {
                counts[self.get_pageblock_migratetype(p).index()] += 1;
                p += nr;
            }
            let top = (0..MIGRATE_TYPES).max_by_key(|&i| (counts[i], usize::MAX - i)).unwrap_or(1);
            RegionState::Owned(MigrateType::from_bits(top as u8))
        };
        RegionInfo { zone: zi, index: r, span, present_pages: present, free_pages: free, state }
    }

    /// Whether a region could be powered down: it has memory, all of it
    /// free (on the buddy lists or held by the region allocator). Cheaper
    /// than [`Machine::region_info`], which also finds the owning type.
    pub fn region_powerable(&self, zi: usize, r: usize) -> bool {
        let present = self.region_present_pages(zi, r);
        present > 0 && self.region_free_pages(zi, r) == present
    }

    /// Regions that could be powered down, and all regions with memory.
    pub fn powerable_regions(&self) -> (usize, usize) {
        let (mut free, mut all) = (0, 0);
        for zi in 0..self.zones.len() {
            for r in 0..self.zone_regions(zi) {
                all += usize::from(self.region_present_pages(zi, r) > 0);
                free += usize::from(self.region_powerable(zi, r));
            }
        }
        (free, all)
    }

    /// Accounts `nr` pages joining (or leaving, negative) the free memory
    /// of `pfn`'s region.
    #[inline]
    pub(crate) fn region_account(&mut self, zi: usize, pfn: u64, nr: i64) {
        if self.regions.is_some() {
            let i = self.region_free_counter(zi, self.region_of(zi, pfn));
            self.store.add_counter(i, nr);
        }
    }

    /// The max-order block heads of a region that the region allocator
    /// would hold: every MAX_ORDER-aligned block inside the region.
    pub(crate) fn region_blocks(&self, zi: usize, r: usize) -> impl Iterator<Item = u64> + use<> {
        let span = self.region_span(zi, r);
        let block = self.geo.max_order_nr_pages();
        let first = span.start.div_ceil(block) * block;
        let end = span.end;
        (first..end).step_by(block as usize).filter(move |p| p + block <= end)
    }

    /// Whether every present page of the region is a free MAX_ORDER block.
    pub(crate) fn region_all_max_blocks(&self, zi: usize, r: usize) -> bool {
        let max = self.geo.max_order;
        let mut pages = 0;
        for p in self.region_blocks(zi, r) {
            let w = self.page(p);
            if w.tag() == Tag::Hole {
                continue;
            }
            if !(w.is_buddy() && w.order() == max) {
                return false;
            }
            pages += 1u64 << max;
        }
        pages == self.region_present_pages(zi, r) && pages > 0
    }
}
