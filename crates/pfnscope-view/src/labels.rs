//! Words on the map: a ruler beside it (each labelled row's first PFN and
//! physical address, zone names where zones begin, CMA areas, virtio-mem
//! devices, memory regions with their state, and holes), and the order written inside free blocks when
//! cells are big enough. Positions are computed here, natively tested;
//! the browser only draws the text.

use pfnscope_core::{Machine, PfnRange, RegionState, Tag};

use crate::viewport::Viewport;

/// A label in the ruler, at a row's top (`y` in map pixels).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulerMark {
    pub y: u32,
    pub text: String,
    pub kind: MarkKind,
}

/// What a ruler mark says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A row's first PFN and physical address.
    Row,
    /// A zone begins here.
    Zone,
    /// A CMA area, virtio-mem device or hole begins here.
    Region,
}

/// Text inside the map, centered on (x, y).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapText {
    pub x: u32,
    pub y: u32,
    pub text: String,
}

/// A zone's rows in view, for the band beside the map: `[y0, y1)` in map
/// pixels, and the zone's index (bands alternate shades by it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneBand {
    pub y0: u32,
    pub y1: u32,
    pub zone: usize,
}

/// A memory region's rows in view and its state, for a second band
/// beside the map, colored by the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionBand {
    pub y0: u32,
    pub y1: u32,
    pub state: RegionState,
}

/// Everything to write for a view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels {
    pub ruler: Vec<RulerMark>,
    pub inside: Vec<MapText>,
    pub bands: Vec<ZoneBand>,
    pub regions: Vec<RegionBand>,
}

/// Rows are labelled at least this many pixels apart.
const ROW_LABEL_SPACING: u32 = 36;
/// The height of a line of ruler text.
pub const LINE_H: u32 = 12;

/// "52 MiB" or "1.5 GiB" for a byte address.
pub fn bytes_label(b: u64) -> String {
    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;
    if b == 0 {
        "0".into()
    } else if b >= G {
        if b.is_multiple_of(G) { format!("{} GiB", b / G) } else { format!("{:.2} GiB", b as f64 / G as f64) }
    } else if b.is_multiple_of(M) {
        format!("{} MiB", b / M)
    } else if b >= M {
        format!("{:.1} MiB", b as f64 / M as f64)
    } else {
        format!("{} KiB", b >> 10)
    }
}

/// The runs of PFNs with no memory, found once per machine (they never
/// change) so that labelling a view does not scan it.
pub fn hole_runs(m: &Machine) -> Vec<PfnRange> {
    let span = m.pfn_span();
    let mut out = Vec::new();
    let mut start = None;
    for p in span.start..span.end {
        match (m.page(p).tag() == Tag::Hole, start) {
            (true, None) => start = Some(p),
            (false, Some(s)) => {
                out.push(PfnRange::new(s, p));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(PfnRange::new(s, span.end));
    }
    out
}

/// The labels for what `v` shows of `m`, with its [`hole_runs`].
pub fn labels(m: &Machine, v: &Viewport, holes: &[PfnRange]) -> Labels {
    let mut out = Labels::default();
    let page = m.geometry().page_size();
    let row_h = v.row_h();
    let shown = v.visible_pfns();
    let row_of = |pfn: u64| (pfn - v.span.start) / v.cols();
    let y_of = |pfn: u64| (row_of(pfn) - v.top_row) as u32 * row_h;
    // Rows, every `every` rows so labels do not crowd.
    let every = ROW_LABEL_SPACING.div_ceil(row_h).max(1) as u64;
    for r in 0..v.visible_rows() {
        let row = v.top_row + r;
        let pfn = v.row_start(row);
        if pfn >= v.span.end {
            break;
        }
        if row.is_multiple_of(every) {
            out.ruler.push(RulerMark { y: r as u32 * row_h, text: format!("{pfn:#x} {}", bytes_label(pfn * page)), kind: MarkKind::Row });
        }
    }
    // Each zone's rows, as a band.
    for (zi, z) in m.zones().iter().enumerate() {
        let (a, b) = (z.span.start.max(shown.start), z.span.end.min(shown.end));
        if a < b {
            out.bands.push(ZoneBand { y0: y_of(a), y1: y_of(b - 1) + row_h, zone: zi });
        }
    }
    // Where zones, CMA areas, virtio-mem devices and holes begin.
    let mut regions: Vec<(u64, String, MarkKind)> = Vec::new();
    for z in m.zones() {
        regions.push((z.span.start, format!("{} {:#x}–{:#x}", z.name(), z.span.start, z.span.end), MarkKind::Zone));
    }
    for a in m.cma_areas() {
        regions.push((a.base_pfn, format!("CMA {} ({})", a.name, bytes_label(a.count * page)), MarkKind::Region));
    }
    for d in m.virtio_mem_devices() {
        regions.push((d.range.start, format!("{} ({})", d.name, bytes_label(d.range.len() * page)), MarkKind::Region));
    }
    for zi in 0..m.zones().len() {
        for r in 0..m.zone_regions(zi) {
            let span = m.region_span(zi, r);
            let (a, b) = (span.start.max(shown.start), span.end.min(shown.end));
            if a >= b {
                continue;
            }
            let info = m.region_info(zi, r);
            if info.state != RegionState::Empty {
                out.regions.push(RegionBand { y0: y_of(a), y1: y_of(b - 1) + row_h, state: info.state });
            }
            if !shown.contains(span.start) {
                continue;
            }
            let state = match info.state {
                RegionState::Empty => continue,
                RegionState::InRegionAllocator => "region allocator".to_string(),
                RegionState::FullyFree => "all free".to_string(),
                RegionState::Owned(mt) => format!("{mt} {}% free", info.free_pages * 100 / info.present_pages.max(1)),
            };
            regions.push((span.start, format!("r{r} {state}"), MarkKind::Region));
        }
    }
    for h in holes.iter().filter(|h| h.start < shown.end && h.end > shown.start) {
        regions.push((h.start.max(shown.start), format!("hole {:#x}–{:#x}", h.start, h.end), MarkKind::Region));
    }
    for (pfn, text, kind) in regions {
        if shown.contains(pfn) {
            out.ruler.push(RulerMark { y: y_of(pfn), text, kind });
        }
    }
    // Zone and region marks win over a row label at the same place; marks
    // that would overlap move down a line, row labels give way instead.
    // (Sorted by plain u64 keys, place last: stable, and no sort code of
    // its own in the web build.)
    let mut keys: Vec<u64> = out.ruler.iter().enumerate().map(|(i, m)| (m.y as u64) << 33 | ((m.kind == MarkKind::Row) as u64) << 32 | i as u64).collect();
    keys.sort_unstable();
    let mut marks: Vec<Option<RulerMark>> = std::mem::take(&mut out.ruler).into_iter().map(Some).collect();
    out.ruler = keys.iter().filter_map(|k| marks[(*k & 0xffff_ffff) as usize].take()).collect();
    let mut placed: Vec<RulerMark> = Vec::with_capacity(out.ruler.len());
    for mut mark in std::mem::take(&mut out.ruler) {
        let free = placed.last().map_or(0, |p| p.y + LINE_H);
        if mark.y < free {
            if mark.kind == MarkKind::Row {
                continue;
            }
            mark.y = free;
        }
        placed.push(mark);
    }
    out.ruler = placed;
    // Orders inside free blocks, on the block's first row, when it spans
    // at least three cells of at least 8 pixels.
    if v.px_per_pfn() >= 8 {
        let mut p = shown.start;
        while p < shown.end {
            let w = m.page(p);
            if matches!(w.tag(), Tag::Buddy | Tag::Pcp) {
                let size = 1u64 << w.order();
                let block = PfnRange::new(p, p + size);
                let row_end = v.row_start(row_of(p) + 1);
                let cells = block.end.min(row_end) - p;
                if cells >= 3 {
                    let (x, y, cw, ch) = v.cell_rect(p).expect("visible");
                    out.inside.push(MapText { x: x + (cells as u32 * cw) / 2, y: y + ch / 2, text: format!("o{}", w.order()) });
                }
                p = block.end;
            } else {
                p += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfnscope_core::MachineSpec;

    #[test]
    fn the_ruler_names_rows_zones_and_regions() {
        let m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let v = Viewport::fit(m.pfn_span(), 512, 400);
        let l = labels(&m, &v, &hole_runs(&m));
        assert!(l.ruler.iter().any(|r| r.kind == MarkKind::Row && r.text == "0x900 9 MiB"));
        assert!(l.ruler.iter().any(|r| r.kind == MarkKind::Zone && r.text.starts_with("Normal 0x1000")));
        assert!(l.ruler.iter().any(|r| r.text.starts_with("CMA reserved")));
        assert!(l.ruler.iter().any(|r| r.text.starts_with("virtio-mem0")));
        assert!(l.ruler.iter().any(|r| r.text.starts_with("hole 0x9f")), "{:?}", l.ruler);
        // One band per zone, in order, covering the rows shown.
        assert_eq!(l.bands.iter().map(|b| b.zone).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(l.bands.windows(2).all(|w| w[0].y1 <= w[1].y0 + v.row_h()));
        // Nothing overlaps.
        assert!(l.ruler.windows(2).all(|w| w[1].y >= w[0].y + LINE_H), "{:?}", l.ruler);
    }

    #[test]
    fn memory_regions_get_a_band_and_a_mark_with_their_state() {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        m.regions_register(pfnscope_core::AllocatorPolicy::Regions, None).unwrap();
        let v = Viewport::fit(m.pfn_span(), 512, 600);
        let l = labels(&m, &v, &[]);
        // 8 MiB regions: 2 in DMA, 4 in Normal, 2 in Movable, in order.
        assert_eq!(l.regions.len(), 8);
        assert!(l.regions.windows(2).all(|w| w[0].y0 <= w[1].y0));
        assert_eq!(l.regions.last().unwrap().state, RegionState::InRegionAllocator);
        assert!(l.ruler.iter().any(|r| r.text == "r1 region allocator"), "{:?}", l.ruler);
        assert!(l.ruler.iter().any(|r| r.text.starts_with("r0 Movable")), "{:?}", l.ruler);
        // Without regions, neither.
        let plain = labels(&Machine::new(MachineSpec::teaching_64m()).unwrap(), &v, &[]);
        assert!(plain.regions.is_empty() && !plain.ruler.iter().any(|r| r.text.starts_with("r0 ")));
    }

    #[test]
    fn free_blocks_carry_their_order_when_there_is_room() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let v = Viewport { zoom: 3, ..Viewport::fit(m.pfn_span(), 512, 400) }.reveal(0xc00);
        let l = labels(&m, &v, &[]);
        assert!(l.inside.iter().any(|t| t.text == "o10"), "{:?}", l.inside);
        let zoomed_out = Viewport::fit(m.pfn_span(), 512, 400);
        assert!(labels(&m, &zoomed_out, &[]).inside.is_empty(), "no text on small cells");
        assert_eq!(bytes_label(0x3400 * 4096), "52 MiB");
        assert_eq!(bytes_label(3 << 29), "1.50 GiB");
    }
}
