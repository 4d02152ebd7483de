//! The contiguity layer: a [`ContiguityMap`]'s verdicts washed over the
//! PFN map (free windows green, windows that need migration amber, deeper
//! the more they cost, blocked windows vermillion), with its legend.

use pfnscope_core::{ContiguityMap, PfnRange, Verdict};

use crate::palette::Rgba;

/// Okabe-Ito colors, readable with the common color blindnesses.
pub const FREE: Rgba = Rgba::rgb(0x00, 0x9e, 0x73);
pub const MIGRATE: Rgba = Rgba::rgb(0xe6, 0x9f, 0x00);
pub const BLOCKED: Rgba = Rgba::rgb(0xd5, 0x5e, 0x00);

/// A computed map, ready to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The window size as people say it ("2 MiB").
    pub label: String,
    pub map: ContiguityMap,
    pub tints: Vec<(PfnRange, Rgba, u32)>,
}

impl Layer {
    pub fn new(label: String, map: ContiguityMap) -> Layer {
        let size = map.size_pages.max(1);
        let tints = map
            .windows
            .iter()
            .map(|w| {
                let r = PfnRange::new(w.start_pfn, w.start_pfn + size);
                match w.verdict {
                    Verdict::Free => (r, FREE, 110),
                    // 60 for a window that only drops clean cache, up to
                    // 190 when every page must move.
                    Verdict::Migrate => (r, MIGRATE, 60 + (130 * w.pages_to_migrate.min(size) / size) as u32),
                    Verdict::Blocked => (r, BLOCKED, 170),
                }
            })
            .collect();
        Layer { label, map, tints }
    }

    /// The summary sentence.
    pub fn sentence(&self) -> String {
        self.map.sentence(&self.label)
    }
}

/// "2 MiB" for 512 pages of 4 KiB.
pub fn size_label(pages: u64, page_size: u64) -> String {
    crate::labels::bytes_label(pages * page_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::palette::{Palette, Theme};
    use crate::raster::{render, Overlay};
    use crate::viewport::Viewport;
    use pfnscope_core::{Machine, MachineSpec, PageKind};

    #[test]
    fn verdicts_tint_their_windows_and_nothing_else() {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        m.alloc_pages_at(0x2100, 0, PageKind::SlabUnmovable).unwrap();
        let layer = Layer::new(size_label(512, 4096), m.contiguity_map(512));
        assert_eq!(layer.label, "2 MiB");
        let blocked = layer.tints.iter().find(|t| t.0.start == 0x2000).unwrap();
        assert_eq!(blocked.1, BLOCKED);
        assert!(layer.tints.iter().any(|t| t.1 == FREE));
        let v = Viewport::fit(m.pfn_span(), 256, 256);
        let p = Palette::new(Theme::Light);
        let plain = render(&m, &v, &p, &Overlay::default());
        let tinted = render(&m, &v, &p, &Overlay { tints: layer.tints.clone(), ..Overlay::default() });
        assert_ne!(plain, tinted);
        // A pixel inside the blocked window is pulled toward vermillion.
        let (x, y, _, _) = v.cell_rect(0x2010).unwrap();
        let i = ((y * 256 + x) * 4) as usize;
        assert!(tinted[i] > plain[i], "red rises: {} -> {}", plain[i], tinted[i]);
    }
}
