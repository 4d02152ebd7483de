//! The PFN map's layout: PFNs wrap into rows whose width is a multiple of
//! [`ROW_UNIT`] pages (a power of two below that), so small buddy blocks
//! never break across rows and the map fills the canvas; each row of pages
//! has a thin strip above it showing the pageblock migratetypes.
//!
//! `zoom` is log2 of pixels per PFN: 4 shows 16-pixel pages, 0 one pixel
//! per page, -6 one pixel per 64 pages (a 64 GiB machine fits a screen).

use pfnscope_core::PfnRange;

/// The smallest zoom: 2^-12 = 4096 PFNs per pixel.
pub const MIN_ZOOM: i32 = -12;
/// The largest zoom: 32 pixels per PFN.
pub const MAX_ZOOM: i32 = 5;

/// Row widths are multiples of this many cells, so blocks up to order 4
/// stay on one row.
pub const ROW_UNIT: u64 = 16;

/// What lies under a pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The first PFN under the pixel.
    pub pfn: u64,
    /// How many PFNs the pixel covers (1 when zoomed in).
    pub count: u64,
    /// True if the pixel is in the pageblock strip.
    pub in_strip: bool,
}

/// A window onto a machine's PFNs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
    pub zoom: i32,
    /// The first row shown.
    pub top_row: u64,
    /// The machine's PFNs.
    pub span: PfnRange,
}

fn floor_pow2(x: u64) -> u64 {
    if x == 0 {
        1
    } else {
        1 << (63 - x.leading_zeros())
    }
}

impl Viewport {
    /// A viewport zoomed to fit the whole span.
    pub fn fit(span: PfnRange, width: u32, height: u32) -> Viewport {
        let mut v = Viewport { width: width.max(1), height: height.max(1), zoom: MAX_ZOOM, top_row: 0, span };
        while v.zoom > MIN_ZOOM && v.total_rows() > v.visible_rows() {
            v.zoom -= 1;
        }
        v
    }

    /// Pixels per PFN horizontally (1 when zoomed out).
    pub fn px_per_pfn(&self) -> u64 {
        1 << self.zoom.max(0)
    }
    /// PFNs per pixel (1 when zoomed in).
    pub fn pfns_per_px(&self) -> u64 {
        1 << (-self.zoom).max(0)
    }
    /// PFNs per row: as many cells as fit, rounded down to a multiple of
    /// [`ROW_UNIT`] (or to a power of two on very narrow canvases).
    pub fn cols(&self) -> u64 {
        let cells = self.width as u64 / self.px_per_pfn();
        let cells = if cells >= ROW_UNIT { cells / ROW_UNIT * ROW_UNIT } else { floor_pow2(cells) };
        cells.max(1) * self.pfns_per_px()
    }
    /// Height of the page cells of a row.
    pub fn cell_h(&self) -> u32 {
        self.px_per_pfn() as u32
    }
    /// Height of the pageblock strip of a row.
    pub fn strip_h(&self) -> u32 {
        match self.cell_h() {
            0..=1 => 1,
            2..=7 => 2,
            _ => 3,
        }
    }
    pub fn row_h(&self) -> u32 {
        self.cell_h() + self.strip_h()
    }
    pub fn total_rows(&self) -> u64 {
        self.span.len().div_ceil(self.cols())
    }
    pub fn visible_rows(&self) -> u64 {
        (self.height / self.row_h()) as u64
    }
    /// Width in pixels of the drawn rows.
    pub fn drawn_width(&self) -> u32 {
        ((self.cols() / self.pfns_per_px()) * self.px_per_pfn()) as u32
    }

    /// The first PFN of a row.
    pub fn row_start(&self, row: u64) -> u64 {
        self.span.start + row * self.cols()
    }

    /// The PFNs shown.
    pub fn visible_pfns(&self) -> PfnRange {
        let start = self.row_start(self.top_row).min(self.span.end);
        let end = self.row_start(self.top_row + self.visible_rows()).min(self.span.end);
        PfnRange::new(start, end)
    }

    /// What is under pixel (x, y), if anything.
    pub fn hit(&self, x: u32, y: u32) -> Option<Hit> {
        if x >= self.drawn_width() || y >= self.visible_rows() as u32 * self.row_h() {
            return None;
        }
        let row = self.top_row + (y / self.row_h()) as u64;
        let in_strip = y % self.row_h() < self.strip_h();
        let col = x as u64 / self.px_per_pfn() * self.pfns_per_px();
        let pfn = self.row_start(row) + col;
        (pfn < self.span.end).then_some(Hit { pfn, count: self.pfns_per_px(), in_strip })
    }

    /// The pixel rectangle (x, y, w, h) of a PFN's cell, if visible.
    pub fn cell_rect(&self, pfn: u64) -> Option<(u32, u32, u32, u32)> {
        if !self.visible_pfns().contains(pfn) {
            return None;
        }
        let off = pfn - self.span.start;
        let row = off / self.cols() - self.top_row;
        let col = off % self.cols();
        let x = (col / self.pfns_per_px() * self.px_per_pfn()) as u32;
        let y = row as u32 * self.row_h() + self.strip_h();
        Some((x, y, self.px_per_pfn() as u32, self.cell_h()))
    }

    fn clamp(mut self) -> Viewport {
        let max_top = self.total_rows().saturating_sub(self.visible_rows());
        self.top_row = self.top_row.min(max_top);
        self
    }

    /// Scrolls by `rows` (negative = up).
    pub fn scroll(self, rows: i64) -> Viewport {
        Viewport { top_row: self.top_row.saturating_add_signed(rows), ..self }.clamp()
    }

    /// Zooms by `dz` steps keeping the PFN under (x, y) in the same row on
    /// screen when possible.
    pub fn zoom_at(self, x: u32, y: u32, dz: i32) -> Viewport {
        let zoom = (self.zoom + dz).clamp(MIN_ZOOM, MAX_ZOOM);
        let anchor = self.hit(x, y).map(|h| h.pfn).unwrap_or(self.visible_pfns().start);
        let mut v = Viewport { zoom, ..self };
        let row = (anchor - v.span.start) / v.cols();
        v.top_row = row.saturating_sub((y / v.row_h()) as u64);
        v.clamp()
    }

    /// The closest zoom at which `range`, with half its length again as
    /// context around it, fits on screen, scrolled so the range sits in
    /// the middle.
    pub fn frame(span: PfnRange, width: u32, height: u32, range: PfnRange) -> Viewport {
        let pad = range.len() / 4;
        let (from, to) = (range.start.saturating_sub(pad).max(span.start), (range.end + pad).min(span.end));
        let mut v = Viewport { width: width.max(1), height: height.max(1), zoom: MAX_ZOOM, top_row: 0, span };
        let rows = |v: &Viewport| (to.saturating_sub(1) - span.start) / v.cols() - (from - span.start) / v.cols() + 1;
        while v.zoom > MIN_ZOOM && rows(&v) > v.visible_rows() {
            v.zoom -= 1;
        }
        let first = (from - span.start) / v.cols();
        let spare = v.visible_rows().saturating_sub(rows(&v));
        Viewport { top_row: first.saturating_sub(spare / 2), ..v }.clamp()
    }

    /// Scrolls so that `pfn` is visible, a third of the way down.
    pub fn reveal(self, pfn: u64) -> Viewport {
        if self.visible_pfns().contains(pfn) || !self.span.contains(pfn) {
            return self;
        }
        let row = (pfn - self.span.start) / self.cols();
        Viewport { top_row: row.saturating_sub(self.visible_rows() / 3), ..self }.clamp()
    }

    /// Resizes, keeping the top row.
    pub fn resize(self, width: u32, height: u32) -> Viewport {
        Viewport { width: width.max(1), height: height.max(1), ..self }.clamp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Viewport {
        Viewport::fit(PfnRange::new(0, 0x4000), 1024, 600)
    }

    #[test]
    fn fit_shows_everything_at_the_largest_zoom_that_fits() {
        let v = v();
        assert!(v.total_rows() <= v.visible_rows());
        let closer = Viewport { zoom: v.zoom + 1, ..v };
        assert!(closer.total_rows() > closer.visible_rows());
        assert_eq!(v.visible_pfns(), PfnRange::new(0, 0x4000));
    }

    #[test]
    fn hit_and_cell_rect_agree() {
        let v = Viewport { zoom: 3, ..v() };
        for pfn in [0u64, 1, 127, 128, 0x3ff, 0x1234] {
            let v = v.reveal(pfn);
            let (x, y, w, h) = v.cell_rect(pfn).unwrap();
            assert_eq!((w, h), (8, 8));
            let hit = v.hit(x + w / 2, y + h / 2).unwrap();
            assert_eq!(hit.pfn, pfn);
            assert!(!hit.in_strip);
            assert!(v.hit(x, y - 1).unwrap().in_strip);
        }
    }

    #[test]
    fn zoom_keeps_the_anchor_under_the_cursor_row() {
        let v = Viewport { zoom: 0, ..v() };
        let (x, y) = (300, 21);
        let before = v.hit(x, y).unwrap().pfn;
        let z = v.zoom_at(x, y, 2);
        assert_eq!(z.zoom, 2);
        let row = (before - z.span.start) / z.cols();
        assert!(row >= z.top_row && row < z.top_row + z.visible_rows());
        // Clamped at both ends.
        assert_eq!(v.zoom_at(0, 0, 100).zoom, MAX_ZOOM);
        assert_eq!(v.zoom_at(0, 0, -100).zoom, MIN_ZOOM);
    }

    #[test]
    fn rows_are_whole_units_wide_and_aggregate_when_zoomed_out() {
        let v = Viewport { zoom: -2, ..v() };
        assert_eq!(v.pfns_per_px(), 4);
        assert_eq!(v.cols(), 1024 * 4);
        assert_eq!(Viewport { width: 1020, zoom: 2, ..v }.cols(), 240);
        assert_eq!(Viewport { width: 10, zoom: 0, ..v }.cols(), 8);
        let hit = v.hit(5, 1).unwrap();
        assert_eq!((hit.pfn, hit.count), (20, 4));
        assert!(v.scroll(-5).top_row == 0);
        assert!(v.hit(2000, 0).is_none());
    }

    #[test]
    fn frame_shows_the_range_with_context_as_large_as_it_fits() {
        let span = PfnRange::new(0, 0x4000);
        let r = PfnRange::new(0x2000, 0x2200);
        let v = Viewport::frame(span, 640, 400, r);
        let shown = v.visible_pfns();
        assert!(shown.start <= 0x2000 - 0x80 && shown.end >= 0x2200 + 0x80, "{shown:?}");
        let closer = Viewport { zoom: v.zoom + 1, ..v };
        assert!(closer.total_rows() > 0 && (0x2280 - 0x1f80) / closer.cols() + 1 > closer.visible_rows(), "the next zoom would not fit");
    }
}
