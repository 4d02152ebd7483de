//! Colors for page states and migratetypes, in a light and a dark theme.
//!
//! Built on the Okabe-Ito palette, which stays distinguishable with the
//! common forms of color blindness; free memory is one blue hue whose
//! lightness encodes the buddy order, so order reads without hue.

use pfnscope_core::{MigrateType, PageKind, PageState};

/// An RGBA color.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgba(pub [u8; 4]);

impl Rgba {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Rgba {
        Rgba([r, g, b, 255])
    }
    /// `#rrggbb` for CSS.
    pub fn css(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }
    /// Linear mix of two colors, `t` in 0..=256 (256 = all `other`;
    /// larger values count as 256).
    pub fn mix(self, other: Rgba, t: u32) -> Rgba {
        let t = t.min(256);
        let m = |a: u8, b: u8| ((a as u32 * (256 - t) + b as u32 * t) / 256) as u8;
        Rgba([m(self.0[0], other.0[0]), m(self.0[1], other.0[1]), m(self.0[2], other.0[2]), 255])
    }
}

/// Light or dark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

/// What a PFN's pixel shows: its state reduced to a handful of categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    Hole,
    /// Free in a buddy block of this order.
    Free(u8),
    /// On a per-cpu list.
    Pcp,
    /// Taken off the free lists, not yet handed out (mid-operation).
    Taken,
    Used(PageKind),
    /// Page cache that must be written back first.
    DirtyFile,
    /// Pinned: migration will fail.
    Pinned,
    /// Free, and given back to the host by free page reporting (the host
    /// holds it as discarded until the guest writes it again).
    Reported,
}

impl Category {
    /// The category of a page; a free tail takes the category of the
    /// block head it belongs to (`head`, if known).
    pub fn of(state: PageState, head: Option<PageState>) -> Category {
        match state {
            PageState::Hole => Category::Hole,
            PageState::Buddy { order, .. } => Category::Free(order),
            PageState::FreeTail => match head {
                Some(h @ (PageState::Buddy { .. } | PageState::Pcp { .. } | PageState::Taken { .. })) => Category::of(h, None),
                _ => Category::Hole,
            },
            PageState::Pcp { .. } => Category::Pcp,
            PageState::Taken { .. } => Category::Taken,
            PageState::InUse(p) => {
                if p.pincount > 0 {
                    Category::Pinned
                } else if p.kind == PageKind::File && p.flags.contains(pfnscope_core::PageFlags::DIRTY) {
                    Category::DirtyFile
                } else {
                    Category::Used(p.kind)
                }
            }
        }
    }

    /// A legend label.
    pub fn label(self) -> String {
        match self {
            Category::Hole => "hole (no memory)".into(),
            Category::Free(o) => format!("free, order {o}"),
            Category::Pcp => "per-cpu list".into(),
            Category::Taken => "off the free lists (in flight)".into(),
            Category::Used(k) => k.label().into(),
            Category::DirtyFile => "page cache, dirty".into(),
            Category::Pinned => "pinned".into(),
            Category::Reported => "free, given back to the host (reported)".into(),
        }
    }
}

/// The colors of one theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    pub theme: Theme,
    pub background: Rgba,
    pub hole: Rgba,
    pub free_low: Rgba,
    pub free_high: Rgba,
    pub grid: Rgba,
    pub highlight: Rgba,
    /// Tint of a migration's target pages.
    pub target: Rgba,
}

impl Palette {
    pub const fn new(theme: Theme) -> Palette {
        match theme {
            Theme::Light => Palette {
                theme,
                background: Rgba::rgb(0xff, 0xff, 0xff),
                hole: Rgba::rgb(0x3a, 0x3a, 0x3a),
                free_low: Rgba::rgb(0xdc, 0xee, 0xfa),
                free_high: Rgba::rgb(0x00, 0x5a, 0x8f),
                grid: Rgba::rgb(0x9a, 0x9a, 0x9a),
                highlight: Rgba::rgb(0x00, 0x00, 0x00),
                target: Rgba::rgb(0x00, 0x9e, 0x73),
            },
            Theme::Dark => Palette {
                theme,
                background: Rgba::rgb(0x16, 0x18, 0x1c),
                hole: Rgba::rgb(0x05, 0x05, 0x05),
                free_low: Rgba::rgb(0x1d, 0x3a, 0x4d),
                free_high: Rgba::rgb(0x7c, 0xc8, 0xf2),
                grid: Rgba::rgb(0x50, 0x50, 0x50),
                highlight: Rgba::rgb(0xff, 0xff, 0xff),
                target: Rgba::rgb(0x5f, 0xd3, 0x9a),
            },
        }
    }

    /// The color of a category; `max_order` scales the free-order ramp.
    pub fn category(&self, c: Category, max_order: u8) -> Rgba {
        match c {
            Category::Hole => self.hole,
            Category::Free(o) => self.free_low.mix(self.free_high, o as u32 * 256 / max_order.max(1) as u32),
            Category::Pcp => Rgba::rgb(0xcc, 0x79, 0xa7),
            Category::Taken => Rgba::rgb(0x00, 0xe5, 0xff),
            Category::Pinned => Rgba::rgb(0xe0, 0x00, 0x2b),
            Category::DirtyFile => Rgba::rgb(0xb3, 0x9b, 0x00),
            Category::Reported => match self.theme {
                Theme::Light => Rgba::rgb(0x9d, 0x8c, 0xd6),
                Theme::Dark => Rgba::rgb(0x8f, 0x7f, 0xd8),
            },
            Category::Used(k) => match k {
                PageKind::Anon => Rgba::rgb(0xe6, 0x9f, 0x00),
                PageKind::File => Rgba::rgb(0xf0, 0xe4, 0x42),
                PageKind::SlabReclaimable => Rgba::rgb(0x00, 0x9e, 0x73),
                PageKind::SlabUnmovable => Rgba::rgb(0xd5, 0x5e, 0x00),
                PageKind::PageTable => Rgba::rgb(0x8c, 0x3b, 0x00),
                PageKind::Kernel => Rgba::rgb(0x6e, 0x2c, 0x00),
                PageKind::Reserved => Rgba::rgb(0x80, 0x80, 0x80),
                PageKind::Offline => Rgba::rgb(0x55, 0x3c, 0x7a),
                PageKind::Hugetlb => Rgba::rgb(0xa6, 0x6d, 0x00),
                PageKind::MovableOps => Rgba::rgb(0xf5, 0xc6, 0x7a),
                PageKind::HwPoison => Rgba::rgb(0xff, 0x00, 0xff),
                PageKind::Contig => Rgba::rgb(0x7b, 0x32, 0x94),
            },
        }
    }

    /// The strip's color over a region held by the 2013 region allocator.
    pub fn region_allocator(&self) -> Rgba {
        match self.theme {
            Theme::Light => Rgba::rgb(0xe8, 0xe8, 0xe8),
            Theme::Dark => Rgba::rgb(0x30, 0x30, 0x30),
        }
    }

    /// The line that marks where a memory region begins.
    pub fn region_edge(&self) -> Rgba {
        match self.theme {
            Theme::Light => Rgba::rgb(0x00, 0x00, 0x00),
            Theme::Dark => Rgba::rgb(0xff, 0xff, 0xff),
        }
    }

    /// The color of a pageblock migratetype in the pageblock strip.
    pub fn migratetype(&self, mt: MigrateType) -> Rgba {
        match mt {
            MigrateType::Unmovable => Rgba::rgb(0xd5, 0x5e, 0x00),
            MigrateType::Movable => Rgba::rgb(0x00, 0x9e, 0x73),
            MigrateType::Reclaimable => Rgba::rgb(0xf0, 0xe4, 0x42),
            MigrateType::HighAtomic => Rgba::rgb(0xcc, 0x79, 0xa7),
            MigrateType::Cma => Rgba::rgb(0x56, 0xb4, 0xe9),
            MigrateType::Isolate => match self.theme {
                Theme::Light => Rgba::rgb(0x00, 0x00, 0x00),
                Theme::Dark => Rgba::rgb(0xff, 0xff, 0xff),
            },
        }
    }

    /// Legend rows for page categories: (label, color).
    pub fn page_legend(&self, max_order: u8) -> Vec<(String, Rgba)> {
        let mut rows = vec![
            ("free, order 0".to_string(), self.category(Category::Free(0), max_order)),
            (format!("free, order {max_order}"), self.category(Category::Free(max_order), max_order)),
            (Category::Pcp.label(), self.category(Category::Pcp, max_order)),
            (Category::Taken.label(), self.category(Category::Taken, max_order)),
        ];
        for k in PageKind::ALL {
            rows.push((k.label().to_string(), self.category(Category::Used(k), max_order)));
        }
        rows.push((Category::DirtyFile.label(), self.category(Category::DirtyFile, max_order)));
        rows.push((Category::Pinned.label(), self.category(Category::Pinned, max_order)));
        rows.push((Category::Hole.label(), self.hole));
        rows
    }

    /// Legend rows for pageblock types.
    pub fn migratetype_legend(&self) -> Vec<(String, Rgba)> {
        MigrateType::ALL.iter().map(|&mt| (mt.proc_name().to_string(), self.migratetype(mt))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_colors_are_distinct() {
        for theme in [Theme::Light, Theme::Dark] {
            let p = Palette::new(theme);
            let mut legend = p.page_legend(10);
            legend.push((Category::Reported.label(), p.category(Category::Reported, 10)));
            for (i, a) in legend.iter().enumerate() {
                for b in &legend[i + 1..] {
                    assert_ne!(a.1, b.1, "{} and {} share a color", a.0, b.0);
                }
            }
            let mts = p.migratetype_legend();
            for (i, a) in mts.iter().enumerate() {
                for b in &mts[i + 1..] {
                    assert_ne!(a.1, b.1);
                }
            }
        }
    }

    #[test]
    fn free_ramp_runs_from_low_to_high() {
        let p = Palette::new(Theme::Light);
        assert_eq!(p.category(Category::Free(0), 10), p.free_low);
        assert_eq!(p.category(Category::Free(10), 10), p.free_high);
        assert_eq!(Rgba::rgb(1, 2, 255).css(), "#0102ff");
        assert_eq!(p.free_low.mix(p.free_high, 10_000), p.free_high, "weights above 256 saturate");
    }
}
