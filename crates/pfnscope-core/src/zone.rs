//! `struct zone`: the fixed facts of a zone (span, watermarks, per-cpu list
//! sizing) and where its changing state lives in the [`Store`](crate::store::Store).

use serde::{Deserialize, Serialize};

use crate::geometry::{Geometry, PfnRange, ZoneType};
use crate::migratetype::MIGRATE_TYPES;

/// Per-cpu lists per zone and CPU: (order 0..=3) x 3 pcp types, plus two THP
/// lists (`NR_PCP_LISTS`, with the 2024 fix that split THP by movability).
pub const NR_PCP_LISTS: usize = 4 * 3 + 2;

/// Watermark indices (`enum zone_watermarks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wmark {
    Min = 0,
    Low = 1,
    High = 2,
}

/// Counters a zone keeps, as offsets into its block of the store's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneCounter {
    /// `free_area[order].nr_free`: free blocks of this order, all types.
    NrFree(u8),
    /// `NR_FREE_PAGES` (MemFree's share): ISOLATE blocks are not counted (6.12).
    FreePages,
    /// `NR_FREE_CMA_PAGES`.
    FreeCmaPages,
    /// `zone->nr_isolate_pageblock`.
    NrIsolatePageblock,
    /// `zone->nr_reserved_highatomic`, in pages.
    NrReservedHighatomic,
    /// `zone->watermark_boost`, in pages.
    WatermarkBoost,
    /// `zone->nr_free_highatomic` (6.12): free pages on HIGHATOMIC lists,
    /// what the watermark check keeps back from ordinary requests.
    NrFreeHighatomic,
    /// `per_cpu_pages.count` of one CPU, in base pages.
    PcpCount(u8),
}

/// The fixed description of one zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub zone_type: ZoneType,
    /// `zone_start_pfn` .. `zone_end_pfn()`.
    pub span: PfnRange,
    /// `present_pages`: spanned minus holes.
    pub present_pages: u64,
    /// `managed_pages`: present minus reserved.
    pub managed_pages: u64,
    /// `_watermark[WMARK_MIN..=WMARK_HIGH]`, in pages.
    pub watermark: [u64; 3],
    /// `lowmem_reserve[highest_zoneidx]`, in pages, indexed by
    /// `ZoneType as usize`: what this zone keeps back from requests that
    /// could have used a higher zone.
    pub lowmem_reserve: [u64; 4],
    /// `pcp->high`, in pages (the same for every CPU).
    pub pcp_high: u64,
    /// `pcp->batch`, in pages.
    pub pcp_batch: u64,
    pub(crate) free_head_base: u32,
    pub(crate) pcp_head_base: u32,
    pub(crate) counter_base: u32,
    pub(crate) nr_orders: u8,
}

impl Zone {
    /// The number of counters a zone needs.
    pub(crate) fn nr_counters(nr_orders: usize, nr_cpus: usize) -> usize {
        nr_orders + 6 + nr_cpus
    }

    /// The store index of a counter.
    pub(crate) fn counter(&self, c: ZoneCounter) -> usize {
        let n = self.nr_orders as usize;
        self.counter_base as usize
            + match c {
                ZoneCounter::NrFree(o) => o as usize,
                ZoneCounter::FreePages => n,
                ZoneCounter::FreeCmaPages => n + 1,
                ZoneCounter::NrIsolatePageblock => n + 2,
                ZoneCounter::NrReservedHighatomic => n + 3,
                ZoneCounter::WatermarkBoost => n + 4,
                ZoneCounter::NrFreeHighatomic => n + 5,
                ZoneCounter::PcpCount(cpu) => n + 6 + cpu as usize,
            }
    }

    /// The node index of `free_area[order].free_list[mt]`.
    pub(crate) fn free_list(&self, order: u8, mt: usize) -> u32 {
        self.free_head_base + (order as usize * MIGRATE_TYPES + mt) as u32
    }

    /// The node index of a per-cpu list.
    pub(crate) fn pcp_list(&self, cpu: u8, pindex: usize) -> u32 {
        self.pcp_head_base + (cpu as usize * NR_PCP_LISTS + pindex) as u32
    }

    pub fn name(&self) -> &'static str {
        self.zone_type.proc_name()
    }
}

/// `init_per_zone_wmark_min()` (mm/page_alloc.c, v6.12):
/// `min_free_kbytes = int_sqrt(lowmem_kbytes * 16)`, clamped to 128..=262144.
pub fn min_free_kbytes(lowmem_pages: u64, geo: &Geometry) -> u64 {
    let lowmem_kbytes = lowmem_pages * (geo.page_size() / 1024);
    ((lowmem_kbytes * 16) as f64).sqrt().floor().clamp(128.0, 262_144.0) as u64
}

/// `__setup_per_zone_wmarks()` (v6.12) for one zone: `tmp` is its share of
/// `min_free_kbytes` by managed pages among the lowmem zones; min is `tmp`,
/// except in ZONE_MOVABLE (treated like highmem), whose min is
/// clamp(managed / 1024, 32, 128) pages; low and high sit above min by
/// max(tmp / 4, managed * watermark_scale_factor / 10000), with the default
/// watermark_scale_factor of 10.
pub fn zone_watermarks(zone_type: ZoneType, managed: u64, total_lowmem_managed: u64, min_free_pages: u64) -> [u64; 3] {
    let tmp = (min_free_pages * managed).checked_div(total_lowmem_managed).unwrap_or(0);
    let min = if zone_type == ZoneType::Movable { (managed / 1024).clamp(32, 128) } else { tmp };
    let gap = (tmp / 4).max(managed * 10 / 10_000);
    [min, min + gap, min + 2 * gap]
}

/// `sysctl_lowmem_reserve_ratio` defaults (mm/page_alloc.c, v6.12).
pub const fn lowmem_reserve_ratio(t: ZoneType) -> u64 {
    match t {
        ZoneType::Dma | ZoneType::Dma32 => 256,
        ZoneType::Normal => 32,
        ZoneType::Movable => 0,
    }
}

/// `setup_per_zone_lowmem_reserve()` (v6.12): for each higher zone type j,
/// the managed pages of the zones above this one up to j, divided by this
/// zone's ratio. `managed` is indexed by `ZoneType as usize` (0 for absent
/// zones).
pub fn lowmem_reserve(t: ZoneType, managed: &[u64; 4]) -> [u64; 4] {
    let ratio = lowmem_reserve_ratio(t);
    let i = t as usize;
    let mut out = [0; 4];
    if ratio == 0 || managed[i] == 0 {
        return out;
    }
    let mut above = 0;
    for j in i + 1..4 {
        above += managed[j];
        out[j] = above / ratio;
    }
    out
}

/// `zone_batchsize()` (v6.12): a quarter of min(managed/1024, 1 MiB of
/// pages), then rounded down to a power of two of 1.5x, minus one.
pub fn zone_batchsize(managed: u64, geo: &Geometry) -> u64 {
    let mut batch = (managed >> 10).min((1 << 20) / geo.page_size());
    batch /= 4;
    if batch < 1 {
        batch = 1;
    }
    let x = batch + batch / 2;
    let pow = 1u64 << (63 - x.leading_zeros());
    (pow - 1).max(1)
}

/// `zone_highsize()` (v6.12) with the default `percpu_pagelist_high_fraction`
/// of 0: the low watermark shared among the CPUs, at least 4 batches.
/// Simplified: 6.7+ tunes `pcp->high` between `high_min` and `high_max` at
/// run time; the model keeps it at `high_min`.
pub fn zone_highsize(low_wmark: u64, batch: u64, nr_cpus: u64) -> u64 {
    (low_wmark / nr_cpus.max(1)).max(batch * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_free_kbytes_follows_the_sqrt_rule() {
        // 16 GiB of lowmem: sqrt(16 GiB in KiB * 16) = sqrt(268435456) = 16384.
        assert_eq!(min_free_kbytes(16 << 18, &Geometry::X86_64_4K), 16384);
        // Tiny machines are clamped to 128 KiB.
        assert_eq!(min_free_kbytes(256, &Geometry::X86_64_4K), 128);
    }

    #[test]
    fn lowmem_reserve_protects_lower_zones() {
        // DMA 4K pages, DMA32 1M, Normal 3M: DMA keeps back 1M/256 from
        // DMA32 requests and (1M+3M)/256 from Normal ones.
        let managed = [4096, 1 << 20, 3 << 20, 0];
        assert_eq!(lowmem_reserve(ZoneType::Dma, &managed), [0, 4096, 16384, 16384]);
        assert_eq!(lowmem_reserve(ZoneType::Normal, &managed), [0, 0, 0, 0]);
        assert_eq!(lowmem_reserve(ZoneType::Movable, &managed), [0; 4]);
    }

    #[test]
    fn batchsize_of_a_4g_zone_is_63() {
        // managed >> 10 = 1024, capped at 256 (1 MiB of 4K pages), /4 = 64,
        // 64 + 32 = 96, rounded down to 64, minus 1 = 63: the familiar value.
        assert_eq!(zone_batchsize(1 << 20, &Geometry::X86_64_4K), 63);
        assert_eq!(zone_batchsize(100, &Geometry::X86_64_4K), 1);
    }

    #[test]
    fn watermarks_are_increasing() {
        // A 4 GiB zone: the scale factor term (1048576 * 10 / 10000 = 1048)
        // beats min / 4 = 1024.
        let w = zone_watermarks(ZoneType::Normal, 1 << 20, 1 << 20, 4096);
        assert_eq!(w, [4096, 4096 + 1048, 4096 + 2 * 1048]);
        // A zone with a sixteenth of lowmem gets a sixteenth of min.
        let w = zone_watermarks(ZoneType::Normal, 1 << 16, 1 << 20, 4096);
        assert_eq!(w, [256, 256 + 65, 256 + 130]);
        // A large min_free share: min / 4 wins over the scale factor.
        let w = zone_watermarks(ZoneType::Normal, 1 << 16, 1 << 16, 4096);
        assert_eq!(w, [4096, 4096 + 1024, 4096 + 2048]);
        // ZONE_MOVABLE's min is clamp(managed / 1024, 32, 128).
        assert_eq!(zone_watermarks(ZoneType::Movable, 1 << 16, 1 << 20, 4096)[0], 64);
    }
}
