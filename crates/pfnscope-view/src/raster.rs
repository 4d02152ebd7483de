//! Draws the PFN map into an RGBA pixel buffer (what the browser puts in an
//! `ImageData`). One pass over the visible PFNs; when zoomed out, a pixel
//! shows the most common category among its PFNs.

use pfnscope_core::{Machine, PageState, PfnRange, Tag};

use crate::palette::{Category, Palette, Rgba};
use crate::viewport::Viewport;

/// Extra marks drawn over the map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlay {
    /// Ranges to tint (the current step's PFNs).
    pub highlight: Vec<PfnRange>,
    /// Ranges tinted in the target color (where a migration moved pages).
    pub targets: Vec<PfnRange>,
    /// Non-overlapping ranges, by start, each washed with a color at a
    /// strength (0-255): a layer such as the contiguity map.
    pub tints: Vec<(PfnRange, Rgba, u32)>,
    /// Ranges outlined as one shape (the operation's range, a page that
    /// caused a failure), each in its color.
    pub outlines: Vec<(PfnRange, Rgba)>,
}

impl Overlay {
    /// The tint over `[pfn, end)`, if a tinted range meets it.
    fn tint(&self, pfn: u64, end: u64) -> Option<(Rgba, u32)> {
        let i = self.tints.partition_point(|(r, _, _)| r.end <= pfn);
        self.tints.get(i).filter(|(r, _, _)| r.start < end).map(|&(_, c, t)| (c, t))
    }
}

/// Walks PFNs in order and remembers the free block it is in, so tails
/// need no search except at the start of a row.
struct Scanner<'a> {
    m: &'a Machine,
    block_start: u64,
    block_end: u64,
    head: PageState,
}

impl<'a> Scanner<'a> {
    fn new(m: &'a Machine) -> Scanner<'a> {
        Scanner { m, block_start: 0, block_end: 0, head: PageState::Hole }
    }

    fn category(&mut self, pfn: u64) -> Category {
        let w = self.m.page(pfn);
        match w.tag() {
            Tag::Buddy | Tag::Pcp | Tag::Taken => {
                self.block_start = pfn;
                self.block_end = pfn + (1 << w.order());
                self.head = w.state();
            }
            Tag::FreeTail if pfn >= self.block_end => match self.m.free_block_at(pfn) {
                Some((head, order)) => {
                    self.block_start = head;
                    self.block_end = head + (1 << order);
                    self.head = self.m.page(head).state();
                }
                None => self.head = PageState::Hole,
            },
            _ => {}
        }
        match Category::of(w.state(), Some(self.head)) {
            Category::Free(_) if self.m.host_holds(pfn) => Category::Reported,
            c => c,
        }
    }

    /// The free block (buddy, per-cpu or in flight) `pfn` lies in, if the
    /// last call was for a PFN of one.
    fn free_block(&self, pfn: u64) -> Option<PfnRange> {
        let w = self.m.page(pfn);
        (matches!(w.tag(), Tag::Buddy | Tag::Pcp | Tag::Taken | Tag::FreeTail) && pfn >= self.block_start && pfn < self.block_end)
            .then(|| PfnRange::new(self.block_start, self.block_end))
    }
}

/// Which edges of a cell lie on the boundary of `shape`, for a cell
/// holding `[pfn, pfn + agg)` in a row of `cols` PFNs starting at
/// `row_start`: (top, bottom, left, right).
fn edges(shape: PfnRange, pfn: u64, agg: u64, row_start: u64, cols: u64) -> (bool, bool, bool, bool) {
    let inside = |p: u64| shape.contains(p);
    let last = pfn + agg - 1;
    (
        pfn < shape.start + cols || !inside(pfn - cols),
        !inside(last + cols),
        pfn == row_start || !inside(pfn - 1),
        last + 1 == row_start + cols || !inside(last + 1),
    )
}

fn slot(c: Category) -> usize {
    match c {
        Category::Hole => 0,
        Category::Free(o) => 1 + o as usize,
        Category::Pcp => 17,
        Category::Taken => 16,
        Category::Used(k) => 18 + k as usize,
        Category::DirtyFile => 30,
        Category::Pinned => 31,
        Category::Reported => 32,
    }
}

/// Draws cells: what a full render and a partial one share.
struct Painter<'a> {
    m: &'a Machine,
    v: &'a Viewport,
    palette: &'a Palette,
    overlay: &'a Overlay,
    max_order: u8,
    pageblock: u64,
    /// Memory regions' size, if the machine has regions, and the PFN they
    /// count from.
    region_pages: Option<u64>,
    base: u64,
}

impl<'a> Painter<'a> {
    fn new(m: &'a Machine, v: &'a Viewport, palette: &'a Palette, overlay: &'a Overlay) -> Painter<'a> {
        let g = m.geometry();
        Painter { m, v, palette, overlay, max_order: g.max_order, pageblock: g.pageblock_nr_pages(), region_pages: m.region_spec().map(|r| r.region_pages), base: m.pfn_span().start }
    }

    /// Paints the cell whose first PFN is `pfn` (in the row starting at
    /// `row_start`, `r` rows below the top), background first.
    fn cell(&self, buf: &mut [u8], scan: &mut Scanner, r: u64, row_start: u64, pfn: u64) {
        let (m, v, palette, overlay) = (self.m, self.v, self.palette, self.overlay);
        let (w, h) = (v.width as usize, v.height as usize);
        let agg = v.pfns_per_px();
        let px = v.px_per_pfn() as usize;
        let (cell_h, strip_h, row_h) = (v.cell_h() as usize, v.strip_h() as usize, v.row_h() as usize);
        let put = |buf: &mut [u8], x: usize, y: usize, c: Rgba| {
            if x < w && y < h {
                let i = (y * w + x) * 4;
                buf[i..i + 4].copy_from_slice(&c.0);
            }
        };
        let y0 = r as usize * row_h;
        let x = ((pfn - row_start) / agg) as usize * px;
        for dy in 0..row_h {
            for dx in 0..px {
                put(buf, x + dx, y0 + dy, palette.background);
            }
        }
        let end = (pfn + agg).min(v.span.end);
        let cat = if agg == 1 {
            scan.category(pfn)
        } else {
            let mut counts = [0u32; 33];
            let mut cats = [Category::Hole; 33];
            for p in pfn..end {
                let c = scan.category(p);
                let s = slot(c);
                counts[s] += 1;
                cats[s] = c;
            }
            let best = (0..33).max_by_key(|&s| (counts[s], std::cmp::Reverse(s))).unwrap_or(0);
            cats[best]
        };
        let mut color = palette.category(cat, self.max_order);
        if let Some((tint, strength)) = overlay.tint(pfn, end) {
            color = color.mix(tint, strength);
        }
        let strip = if m.page(pfn).tag() == Tag::Hole {
            palette.hole
        } else if m.page_in_region_allocator(pfn) {
            palette.region_allocator()
        } else {
            palette.migratetype(m.get_pageblock_migratetype(pfn))
        };
        if overlay.highlight.iter().any(|r| r.start < end && pfn < r.end) {
            color = color.mix(palette.highlight, 110);
        } else if overlay.targets.iter().any(|r| r.start < end && pfn < r.end) {
            color = color.mix(palette.target, 150);
        }
        // Page cell. When cells are big enough to read one by one, a page
        // in use has a 1-pixel gap around it, and a free block is drawn as
        // one shape with a darker border.
        let big = px >= 4;
        let block = if big { scan.free_block(pfn) } else { None };
        let gap = usize::from(big && block.is_none());
        let (top, bottom, left, right) = match block {
            Some(b) => edges(b, pfn, agg, row_start, v.cols()),
            None => (false, false, false, false),
        };
        let border = color.mix(Rgba::rgb(0, 0, 0), 150);
        let ch = cell_h - gap.min(cell_h - 1);
        for dy in 0..ch {
            for dx in 0..px - gap {
                let edge = (top && dy == 0) || (bottom && dy + 1 == ch) || (left && dx == 0) || (right && dx + 1 == px);
                put(buf, x + dx, y0 + strip_h + dy, if edge { border } else { color });
            }
        }
        // A memory region's first cell has a line down its left edge.
        if let Some(rp) = self.region_pages {
            let first = (pfn - self.base).div_ceil(rp) * rp + self.base;
            if first < end && px >= 1 && (pfn == first || agg > 1) {
                for dy in 0..row_h {
                    put(buf, x, y0 + dy, palette.region_edge());
                }
            }
        }
        // A pageblock's first cell starts with a dark tick in the strip, so
        // pageblock boundaries read within a row.
        let boundary = px >= 2 && pfn.is_multiple_of(self.pageblock);
        let tick = strip.mix(Rgba::rgb(0, 0, 0), 200);
        for dy in 0..strip_h.saturating_sub(usize::from(strip_h > 1)) {
            for dx in 0..px {
                put(buf, x + dx, y0 + dy, if boundary && dx == 0 { tick } else { strip });
            }
        }
    }
}

/// Renders the viewport into `width * height * 4` RGBA bytes.
pub fn render(m: &Machine, v: &Viewport, palette: &Palette, overlay: &Overlay) -> Vec<u8> {
    let (w, h) = (v.width as usize, v.height as usize);
    let mut buf = vec![0u8; w * h * 4];
    for px in buf.chunks_exact_mut(4) {
        px.copy_from_slice(&palette.background.0);
    }
    let painter = Painter::new(m, v, palette, overlay);
    let mut scan = Scanner::new(m);
    let agg = v.pfns_per_px();
    for r in 0..v.visible_rows() {
        let row_start = v.row_start(v.top_row + r);
        if row_start >= v.span.end {
            break;
        }
        let mut pfn = row_start;
        while pfn < (row_start + v.cols()).min(v.span.end) {
            painter.cell(&mut buf, &mut scan, r, row_start, pfn);
            pfn += agg;
        }
    }
    for &(shape, color) in &overlay.outlines {
        outline(&mut buf, v, shape, color);
    }
    buf
}

/// Redraws, in a picture `render` made of the same view, only the cells
/// that cover `dirty` (then every outline): a step costs what it changed.
/// The caller includes in `dirty` whatever the old and new overlays
/// highlighted or outlined; a change of tints needs a full render.
pub fn render_dirty(buf: &mut [u8], m: &Machine, v: &Viewport, palette: &Palette, overlay: &Overlay, dirty: &[PfnRange]) {
    let painter = Painter::new(m, v, palette, overlay);
    let shown = v.visible_pfns();
    let agg = v.pfns_per_px();
    for d in dirty {
        // The scanner caches the free block it is in: a fresh one for each
        // range, which it then walks forward.
        let mut scan = Scanner::new(m);
        let (a, b) = (d.start.max(shown.start), d.end.min(shown.end));
        if a >= b {
            continue;
        }
        let mut row = (a - v.span.start) / v.cols();
        loop {
            let row_start = v.row_start(row);
            if row_start >= b {
                break;
            }
            let row_end = (row_start + v.cols()).min(v.span.end);
            let from = a.max(row_start);
            let mut pfn = row_start + (from - row_start) / agg * agg;
            while pfn < b.min(row_end) {
                painter.cell(buf, &mut scan, row - v.top_row, row_start, pfn);
                pfn += agg;
            }
            row += 1;
        }
    }
    for &(shape, color) in &overlay.outlines {
        outline(buf, v, shape, color);
    }
}

/// Draws the boundary of `shape` over the cells it covers: a line on
/// every cell edge that borders a cell outside it (2 pixels wide when
/// cells are big).
fn outline(buf: &mut [u8], v: &Viewport, shape: PfnRange, color: Rgba) {
    let (w, h) = (v.width as usize, v.height as usize);
    let visible = v.visible_pfns();
    let (from, to) = (shape.start.max(visible.start), shape.end.min(visible.end));
    if from >= to {
        return;
    }
    let agg = v.pfns_per_px();
    let px = v.px_per_pfn() as usize;
    let thick = if px >= 4 { 2 } else { 1 };
    let (cell_h, strip_h, row_h) = (v.cell_h() as usize, v.strip_h() as usize, v.row_h() as usize);
    let mut put = |x: usize, y: usize| {
        if x < w && y < h {
            let i = (y * w + x) * 4;
            buf[i..i + 4].copy_from_slice(&color.0);
        }
    };
    let cols = v.cols();
    let mut pfn = from - (from - v.span.start) % agg;
    while pfn < to {
        let row = (pfn - v.span.start) / cols;
        let row_start = v.row_start(row);
        let x = ((pfn - row_start) / agg) as usize * px;
        let y = (row - v.top_row) as usize * row_h + strip_h;
        let (top, bottom, left, right) = edges(shape, pfn, agg, row_start, cols);
        let (top, bottom, left, right) = (top && shape.contains(pfn), bottom && shape.contains(pfn), left && shape.contains(pfn), right && shape.contains(pfn + agg - 1));
        for t in 0..thick {
            for dx in 0..px {
                if top {
                    put(x + dx, y + t);
                }
                if bottom {
                    put(x + dx, y + cell_h - 1 - t);
                }
            }
            for dy in 0..cell_h {
                if left {
                    put(x + t, y + dy);
                }
                if right {
                    put(x + px - 1 - t, y + dy);
                }
            }
        }
        pfn += agg;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::palette::Theme;
    use pfnscope_core::{Gfp, MachineSpec, MigrateType, PageKind};

    fn pixel(buf: &[u8], v: &Viewport, x: u32, y: u32) -> Rgba {
        let i = ((y * v.width + x) * 4) as usize;
        Rgba([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]])
    }

    #[test]
    fn cells_show_state_and_strips_show_migratetype() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let pfn = m.alloc_pages(Gfp::KERNEL, 3, PageKind::SlabUnmovable).unwrap();
        let p = Palette::new(Theme::Light);
        let v = Viewport { zoom: 3, ..Viewport::fit(m.pfn_span(), 1024, 4000) }.reveal(pfn);
        let buf = render(&m, &v, &p, &Overlay::default());
        let (x, y, _, _) = v.cell_rect(pfn + 1).unwrap();
        assert_eq!(pixel(&buf, &v, x + 2, y + 2), p.category(Category::Used(PageKind::SlabUnmovable), 10));
        // The strip above shows the pageblock's (now UNMOVABLE) type.
        assert_eq!(m.get_pageblock_migratetype(pfn), MigrateType::Unmovable);
        assert_eq!(pixel(&buf, &v, x + 2, y - 2), p.migratetype(MigrateType::Unmovable));
        // A reserved page at PFN 0 and a free order-10 page at 0xc00.
        let (x, y, _, _) = v.reveal(0).cell_rect(0).unwrap_or((0, 0, 0, 0));
        let v0 = v.reveal(0);
        let buf0 = render(&m, &v0, &p, &Overlay::default());
        assert_eq!(pixel(&buf0, &v0, x + 2, y + 2), p.category(Category::Used(PageKind::Reserved), 10));
        let v1 = v.reveal(0xc05);
        let buf1 = render(&m, &v1, &p, &Overlay::default());
        let (x, y, _, _) = v1.cell_rect(0xc05).unwrap();
        assert_eq!(pixel(&buf1, &v1, x + 2, y + 2), p.category(Category::Free(10), 10));
    }

    #[test]
    fn zoomed_out_pixels_show_the_majority() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let p = Palette::new(Theme::Dark);
        let v = Viewport { zoom: -6, ..Viewport::fit(m.pfn_span(), 64, 64) };
        let buf = render(&m, &v, &p, &Overlay::default());
        // Pixel 0 covers PFNs 0..64: all reserved. Pixel 1: the order-6 block.
        assert_eq!(pixel(&buf, &v, 0, 1), p.category(Category::Used(PageKind::Reserved), 10));
        assert_eq!(pixel(&buf, &v, 1, 1), p.category(Category::Free(6), 10));
        assert_eq!(pixel(&buf, &v, 20, 1), p.category(Category::Free(10), 10));
    }

    #[test]
    fn highlight_tints_the_range() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let p = Palette::new(Theme::Light);
        let v = Viewport { zoom: 0, ..Viewport::fit(m.pfn_span(), 512, 64) };
        let plain = render(&m, &v, &p, &Overlay::default());
        let lit = render(&m, &v, &p, &Overlay { highlight: vec![PfnRange::new(0x100, 0x101)], targets: vec![PfnRange::new(0x200, 0x201)], ..Overlay::default() });
        let (x, y, _, _) = v.cell_rect(0x100).unwrap();
        assert_ne!(pixel(&plain, &v, x, y), pixel(&lit, &v, x, y));
        let (x, y, _, _) = v.cell_rect(0x102).unwrap();
        assert_eq!(pixel(&plain, &v, x, y), pixel(&lit, &v, x, y));
        let (x, y, _, _) = v.cell_rect(0x200).unwrap();
        assert_ne!(pixel(&plain, &v, x, y), pixel(&lit, &v, x, y), "a migration target is tinted too");
    }

    #[test]
    fn free_blocks_are_shapes_and_outlines_follow_their_range() {
        let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let pfn = m.alloc_pages(Gfp::KERNEL, 0, PageKind::SlabUnmovable).unwrap();
        let p = Palette::new(Theme::Light);
        let v = Viewport { zoom: 3, ..Viewport::fit(m.pfn_span(), 512, 4000) }.reveal(pfn);
        let buf = render(&m, &v, &p, &Overlay::default());
        // The free buddy of the slab page: no gap between its cells, a
        // darker border around the block.
        let (b, order) = m.free_block_at(pfn + 2).unwrap();
        assert!(order >= 1);
        let (x, y, cw, ch) = v.cell_rect(b + 1).unwrap();
        let inside = pixel(&buf, &v, x + cw / 2, y + ch / 2);
        assert_eq!(pixel(&buf, &v, x, y + ch / 2), inside, "no gap or border between cells of one block");
        let (x0, y0, _, _) = v.cell_rect(b).unwrap();
        assert_ne!(pixel(&buf, &v, x0, y0 + ch / 2), inside, "the block's left edge is its border");
        // An outline around two pages draws on their outer edges only.
        let shape = PfnRange::new(pfn, pfn + 2);
        let ring = render(&m, &v, &p, &Overlay { outlines: vec![(shape, Rgba::rgb(255, 0, 0))], ..Overlay::default() });
        let (x, y, cw, ch) = v.cell_rect(pfn).unwrap();
        assert_eq!(pixel(&ring, &v, x, y + ch / 2), Rgba::rgb(255, 0, 0));
        assert_eq!(pixel(&ring, &v, x + cw / 2, y), Rgba::rgb(255, 0, 0));
        assert_ne!(pixel(&ring, &v, x + cw - 1, y + ch / 2), Rgba::rgb(255, 0, 0), "no line between the two pages");
        assert_eq!(pixel(&ring, &v, x + cw / 2, y + ch / 2), pixel(&buf, &v, x + cw / 2, y + ch / 2), "the inside is untouched");
    }

    #[test]
    fn pageblock_boundaries_are_ticked_in_the_strip() {
        let m = Machine::new(MachineSpec::teaching_16m()).unwrap();
        let p = Palette::new(Theme::Light);
        let v = Viewport { zoom: 1, ..Viewport::fit(m.pfn_span(), 2048, 400) }.reveal(0x200);
        let buf = render(&m, &v, &p, &Overlay::default());
        let (x, y, _, _) = v.cell_rect(0x200).unwrap();
        let strip_y = y - v.strip_h();
        assert_ne!(pixel(&buf, &v, x, strip_y), pixel(&buf, &v, x + 2, strip_y), "a tick at the pageblock's first cell");
        let (x, _, _, _) = v.cell_rect(0x201).unwrap();
        assert_eq!(pixel(&buf, &v, x, strip_y), pixel(&buf, &v, x + 1, strip_y), "none inside it");
    }
}
