//! Page size, buddy orders and pageblock size of an architecture, and the
//! machine presets (zones with real start PFNs, holes, CPUs) built on them.
//!
//! The values mirror `include/linux/pageblock-flags.h` and the arm64
//! `ARCH_FORCE_MAX_ORDER` defaults of Linux 6.12 (domain brief, section 1).

use serde::{Deserialize, Serialize};

/// The architectures with presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arch {
    X86_64,
    Arm64,
}

/// The constants of one architecture and page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    pub arch: Arch,
    /// log2 of the page size in bytes (`PAGE_SHIFT`).
    pub page_shift: u8,
    /// `MAX_PAGE_ORDER` (6.8+): the largest buddy order, inclusive.
    pub max_order: u8,
    /// `pageblock_order`: min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER).
    pub pageblock_order: u8,
}

impl Geometry {
    /// x86-64 with 4 KiB pages: orders 0..=10, 2 MiB pageblocks.
    pub const X86_64_4K: Geometry =
        Geometry { arch: Arch::X86_64, page_shift: 12, max_order: 10, pageblock_order: 9 };
    /// arm64 with 4 KiB pages: the same orders as x86-64.
    pub const ARM64_4K: Geometry =
        Geometry { arch: Arch::Arm64, page_shift: 12, max_order: 10, pageblock_order: 9 };
    /// arm64 with 16 KiB pages: 32 MiB blocks and pageblocks.
    pub const ARM64_16K: Geometry =
        Geometry { arch: Arch::Arm64, page_shift: 14, max_order: 11, pageblock_order: 11 };
    /// arm64 with 64 KiB pages: 512 MiB blocks and pageblocks.
    pub const ARM64_64K: Geometry =
        Geometry { arch: Arch::Arm64, page_shift: 16, max_order: 13, pageblock_order: 13 };

    /// A short name such as `x86-64 4K`.
    pub fn name(&self) -> String {
        let arch = match self.arch {
            Arch::X86_64 => "x86-64",
            Arch::Arm64 => "arm64",
        };
        format!("{arch} {}K", self.page_size() / 1024)
    }

    /// `NR_PAGE_ORDERS`: the number of free areas per zone.
    pub const fn nr_orders(&self) -> usize {
        self.max_order as usize + 1
    }
    /// `pageblock_nr_pages`.
    pub const fn pageblock_nr_pages(&self) -> u64 {
        1 << self.pageblock_order
    }
    /// `MAX_ORDER_NR_PAGES`: pages in the largest buddy block.
    pub const fn max_order_nr_pages(&self) -> u64 {
        1 << self.max_order
    }
    /// The page size in bytes.
    pub const fn page_size(&self) -> u64 {
        1 << self.page_shift
    }
    /// `PAGE_ALLOC_COSTLY_ORDER`: the largest order kept on per-cpu lists
    /// besides the THP order.
    pub const fn costly_order(&self) -> u8 {
        3
    }
    /// The THP order that also has per-cpu lists (`HPAGE_PMD_ORDER`). The
    /// model takes it equal to `pageblock_order`, as on x86-64 and arm64 4K;
    /// on 16K/64K arm64 the real PMD order is larger than the costly order
    /// and also equals the pageblock order.
    pub const fn thp_order(&self) -> u8 {
        self.pageblock_order
    }
}

/// The kernel's `enum zone_type`, in its order (lower zones first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ZoneType {
    Dma,
    Dma32,
    Normal,
    Movable,
}

impl ZoneType {
    /// All zone types, lowest first.
    pub const ALL: [ZoneType; 4] = [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::Movable];

    /// The name as `/proc/zoneinfo` and `/proc/buddyinfo` print it.
    pub const fn proc_name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::Movable => "Movable",
        }
    }

    /// Parses a zone name as `/proc` prints it.
    pub fn from_proc_name(name: &str) -> Option<ZoneType> {
        ZoneType::ALL.into_iter().find(|z| z.proc_name() == name)
    }
}

/// A half-open PFN range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PfnRange {
    pub start: u64,
    pub end: u64,
}

impl PfnRange {
    pub const fn new(start: u64, end: u64) -> PfnRange {
        PfnRange { start, end }
    }
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    pub const fn contains(&self, pfn: u64) -> bool {
        self.start <= pfn && pfn < self.end
    }
}

/// One zone of a machine: its type, the PFNs it spans and the holes in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSpec {
    pub zone_type: ZoneType,
    /// `zone_start_pfn` and `zone_end_pfn()`: the spanned range.
    pub span: PfnRange,
    /// Ranges inside the span with no memory behind them (no `struct page`
    /// is online there; kpageflags says NOPAGE).
    pub holes: Vec<PfnRange>,
    /// Ranges inside the span that are present but `PG_reserved` from boot
    /// (firmware tables, the kernel image, memblock allocations).
    pub reserved: Vec<PfnRange>,
}

/// A CMA area reserved at boot (`cma_declare_contiguous`, `cma=`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmaSpec {
    pub name: String,
    pub base_pfn: u64,
    /// Pages.
    pub count: u64,
    /// Each bitmap bit stands for 2^order_per_bit pages.
    pub order_per_bit: u8,
}

/// A virtio-mem device (Sub Block Mode) managing a range of a zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtioMemSpec {
    pub name: String,
    pub range: PfnRange,
    /// Subblock size in pages: max(device block size, pageblock), 2 MiB on
    /// x86 since 5.19 (4 MiB before).
    pub subblock_pages: u64,
}

/// A machine to simulate: geometry, CPUs and zones (one NUMA node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineSpec {
    pub name: String,
    pub geometry: Geometry,
    /// Number of CPUs, each with its own per-cpu page lists per zone.
    pub nr_cpus: u8,
    /// Zones, lowest first, not overlapping.
    pub zones: Vec<ZoneSpec>,
    /// CMA areas, each inside one zone.
    #[serde(default)]
    pub cma: Vec<CmaSpec>,
    /// virtio-mem devices, each inside one zone.
    #[serde(default)]
    pub virtio_mem: Vec<VirtioMemSpec>,
}

/// x86's legacy hole between 640 KiB and 1 MiB (VGA memory and the BIOS),
/// and PFN 0, which the kernel reserves.
const X86_LOW_HOLE: PfnRange = PfnRange::new(0x9f, 0x100);

/// x86's ZONE_DMA: the first 16 MiB from PFN 1, with the legacy hole and
/// the BIOS data reserved.
fn x86_dma_zone() -> ZoneSpec {
    ZoneSpec {
        zone_type: ZoneType::Dma,
        span: PfnRange::new(0x1, 0x1000),
        holes: vec![X86_LOW_HOLE],
        reserved: vec![PfnRange::new(0x1, 0x10)],
    }
}

impl MachineSpec {
    /// The PFN range covered by all zones.
    pub fn span(&self) -> PfnRange {
        let start = self.zones.iter().map(|z| z.span.start).min().unwrap_or(0);
        let end = self.zones.iter().map(|z| z.span.end).max().unwrap_or(0);
        PfnRange::new(start, end)
    }

    /// A 64 MiB x86-64 teaching machine where every page is visible:
    /// DMA (the first 16 MiB, with the 640K-1M hole), Normal and Movable.
    pub fn teaching_64m() -> MachineSpec {
        MachineSpec {
            name: "teaching 64 MiB (x86-64 4K)".into(),
            geometry: Geometry::X86_64_4K,
            nr_cpus: 2,
            zones: vec![
                x86_dma_zone(),
                ZoneSpec {
                    zone_type: ZoneType::Normal,
                    span: PfnRange::new(0x1000, 0x3000),
                    holes: vec![],
                    // The kernel image and early memblock allocations.
                    reserved: vec![PfnRange::new(0x1000, 0x1180)],
                },
                ZoneSpec {
                    zone_type: ZoneType::Movable,
                    span: PfnRange::new(0x3000, 0x4000),
                    holes: vec![],
                    reserved: vec![],
                },
            ],
            cma: vec![CmaSpec { name: "reserved".into(), base_pfn: 0x2800, count: 0x800, order_per_bit: 0 }],
            // Two small devices in 2 MiB subblocks: one in a kernel zone, one
            // in ZONE_MOVABLE (6.12 retries the latter harder).
            virtio_mem: vec![
                VirtioMemSpec { name: "virtio-mem0".into(), range: PfnRange::new(0x2000, 0x2800), subblock_pages: 512 },
                VirtioMemSpec { name: "virtio-mem1".into(), range: PfnRange::new(0x3000, 0x4000), subblock_pages: 512 },
            ],
        }
    }

    /// A 16 MiB teaching machine with a single Normal zone: 4096 pages,
    /// eight pageblocks, small enough to read page by page.
    pub fn teaching_16m() -> MachineSpec {
        MachineSpec {
            name: "teaching 16 MiB (x86-64 4K)".into(),
            geometry: Geometry::X86_64_4K,
            nr_cpus: 2,
            zones: vec![ZoneSpec {
                zone_type: ZoneType::Normal,
                span: PfnRange::new(0x0, 0x1000),
                holes: vec![],
                reserved: vec![PfnRange::new(0x0, 0x40)],
            }],
            cma: vec![],
            virtio_mem: vec![],
        }
    }

    /// An x86-64 PC with `gib` GiB of RAM (at least 4): DMA below 16 MiB,
    /// DMA32 below 4 GiB with the PCI hole from 3 GiB, and the rest of the
    /// memory in Normal above 4 GiB, as the BIOS e820 map usually lays it out.
    pub fn x86_64_pc(gib: u64) -> MachineSpec {
        let gib = gib.max(4);
        let pages_per_gib = 1u64 << 18;
        let low_ram_end = 3 * pages_per_gib; // 0xc0000: the PCI hole starts at 3 GiB
        let normal_end = 0x100000 + (gib - 3) * pages_per_gib;
        MachineSpec {
            name: format!("x86-64 PC {gib} GiB"),
            geometry: Geometry::X86_64_4K,
            nr_cpus: 4,
            zones: vec![
                x86_dma_zone(),
                ZoneSpec {
                    zone_type: ZoneType::Dma32,
                    span: PfnRange::new(0x1000, low_ram_end),
                    holes: vec![],
                    reserved: vec![PfnRange::new(0x1000, 0x1000 + 0x2000)],
                },
                ZoneSpec {
                    zone_type: ZoneType::Normal,
                    span: PfnRange::new(0x100000, normal_end),
                    holes: vec![],
                    reserved: vec![],
                },
            ],
            // cma=64M, placed at the top of DMA32 as on many PCs.
            cma: vec![CmaSpec { name: "reserved".into(), base_pfn: low_ram_end - 0x4000, count: 0x4000, order_per_bit: 0 }],
            // A 1 GiB device at the top of Normal, 2 MiB subblocks.
            virtio_mem: vec![VirtioMemSpec { name: "virtio-mem0".into(), range: PfnRange::new(normal_end - 0x40000, normal_end), subblock_pages: 512 }],
        }
    }

    /// An arm64 board with `gib` GiB of DRAM at 1 GiB physical, DMA covering
    /// the first GiB of DRAM (as with a 30-bit DMA limit) and Normal above.
    pub fn arm64_board(geometry: Geometry, gib: u64) -> MachineSpec {
        let gib = gib.max(2);
        let pages_per_gib = 1u64 << (30 - geometry.page_shift);
        let base = pages_per_gib; // DRAM starts at 1 GiB
        MachineSpec {
            name: format!("arm64 board {gib} GiB ({})", geometry.name()),
            geometry,
            nr_cpus: 4,
            zones: vec![
                ZoneSpec {
                    zone_type: ZoneType::Dma,
                    span: PfnRange::new(base, base + pages_per_gib),
                    holes: vec![],
                    reserved: vec![PfnRange::new(base, base + (pages_per_gib >> 6))],
                },
                ZoneSpec {
                    zone_type: ZoneType::Normal,
                    span: PfnRange::new(base + pages_per_gib, base + gib * pages_per_gib),
                    holes: vec![],
                    reserved: vec![],
                },
            ],
            cma: vec![],
            virtio_mem: vec![],
        }
    }

    /// The presets by name, as the UI and the command line offer them.
    #[inline(never)]
    pub fn preset(name: &str) -> Option<MachineSpec> {
        Some(match name {
            "teaching-16m" => MachineSpec::teaching_16m(),
            "teaching-64m" => MachineSpec::teaching_64m(),
            "x86-64-4g" => MachineSpec::x86_64_pc(4),
            "x86-64-16g" => MachineSpec::x86_64_pc(16),
            "x86-64-64g" => MachineSpec::x86_64_pc(64),
            "x86-64-256g" => MachineSpec::x86_64_pc(256),
            "x86-64-1t" => MachineSpec::x86_64_pc(1024),
            "arm64-4k-4g" => MachineSpec::arm64_board(Geometry::ARM64_4K, 4),
            "arm64-16k-4g" => MachineSpec::arm64_board(Geometry::ARM64_16K, 4),
            "arm64-64k-8g" => MachineSpec::arm64_board(Geometry::ARM64_64K, 8),
            _ => return None,
        })
    }

    /// The largest preset, 1 TiB (268.7 M PFNs, 2.1 GB of page words): it
    /// runs natively; the app in a browser has too little address space.
    pub const NATIVE_PRESET: &'static str = "x86-64-1t";

    /// The names [`MachineSpec::preset`] accepts, but for
    /// [`MachineSpec::NATIVE_PRESET`].
    pub const PRESETS: [&'static str; 9] = [
        "teaching-16m",
        "teaching-64m",
        "x86-64-4g",
        "x86-64-16g",
        "x86-64-64g",
        "x86-64-256g",
        "arm64-4k-4g",
        "arm64-16k-4g",
        "arm64-64k-8g",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pageblock_order_is_min_of_hugetlb_and_max_order() {
        // include/linux/pageblock-flags.h: pageblock_order = min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER)
        assert_eq!(Geometry::X86_64_4K.pageblock_nr_pages(), 512);
        assert_eq!(Geometry::X86_64_4K.max_order_nr_pages(), 1024);
        assert_eq!(Geometry::ARM64_16K.pageblock_order, Geometry::ARM64_16K.max_order);
        assert_eq!(Geometry::ARM64_64K.pageblock_nr_pages() * 64 * 1024, 512 << 20);
    }

    #[test]
    fn x86_64_pc_64g_has_16_7m_pfns_of_memory() {
        let spec = MachineSpec::x86_64_pc(64);
        let present: u64 = spec.zones.iter().map(|z| z.span.len() - z.holes.iter().map(PfnRange::len).sum::<u64>()).sum();
        // 64 GiB = 16 777 216 pages; the DMA zone starts at PFN 1 and the
        // low hole takes 97 pages.
        assert_eq!(present, (64u64 << 18) - 1 - 0x61);
        assert_eq!(spec.zones[2].span.start, 0x100000);
    }

    #[test]
    fn every_preset_resolves_and_zones_do_not_overlap() {
        for name in MachineSpec::PRESETS {
            let spec = MachineSpec::preset(name).expect(name);
            for pair in spec.zones.windows(2) {
                assert!(pair[0].span.end <= pair[1].span.start, "{name}");
                assert!(pair[0].zone_type < pair[1].zone_type, "{name}");
            }
        }
        assert!(MachineSpec::preset("no-such-machine").is_none());
    }

    #[test]
    fn the_1_tib_preset_fits_the_page_words_links() {
        let spec = MachineSpec::preset(MachineSpec::NATIVE_PRESET).unwrap();
        let span = spec.span();
        assert!(span.len() > 1 << 28, "more PFNs than 28-bit links could name");
        assert!(span.end < crate::page::LINK_MASK - 65_536, "room for the list heads");
    }
}
