//! Words on the map, drawn with the canvas text API on canvases of their
//! own (so the map canvas holds exactly the native pixels): the ruler
//! beside the map and the orders inside free blocks. Where each word goes
//! is `pfnscope_view::labels`.

use std::rc::Rc;

use pfnscope_view::labels::{Labels, MarkKind, LINE_H};
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};
use yew::prelude::*;

/// The ruler's width in pixels.
pub const RULER_W: u32 = 150;

#[derive(Clone, PartialEq, Properties)]
pub struct TextLayerProps {
    /// The map's height (the ruler's) and width (the text layer's).
    pub width: u32,
    pub height: u32,
    pub labels: Rc<Labels>,
    pub version: u64,
    pub dark: bool,
}

/// The ruler and the text over the map.
pub struct TextLayer {
    ruler: NodeRef,
    text: NodeRef,
    drawn: u64,
}

impl Component for TextLayer {
    type Message = ();
    type Properties = TextLayerProps;

    fn create(_: &Context<Self>) -> Self {
        TextLayer { ruler: NodeRef::default(), text: NodeRef::default(), drawn: u64::MAX }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let p = ctx.props();
        html! {
            <>
                <canvas id="ruler" class="ruler" ref={self.ruler.clone()} width={RULER_W.to_string()} height={p.height.to_string()}
                    aria-label="Ruler: the first PFN and physical address of rows, where zones, CMA areas, virtio-mem devices and holes begin" />
                <canvas id="map-text" class="map-text" ref={self.text.clone()} width={p.width.to_string()} height={p.height.to_string()} aria-hidden="true" />
            </>
        }
    }

    fn rendered(&mut self, ctx: &Context<Self>, _first: bool) {
        let p = ctx.props();
        if self.drawn == p.version {
            return;
        }
        self.drawn = p.version;
        let (fg, muted, accent, halo) = if p.dark { ("#e4e6ea", "#9aa1ad", "#56b4e9", "rgba(15,17,21,0.75)") } else { ("#1b1d21", "#5d636e", "#0072b2", "rgba(255,255,255,0.75)") };
        if let Some(c) = context(&self.ruler) {
            c.clear_rect(0.0, 0.0, RULER_W as f64, p.height as f64);
            // Zone bands: a strip at the ruler's edge, shades alternating.
            let shades = if p.dark { ["#3a4150", "#5d6678"] } else { ["#c9ced8", "#9aa1ad"] };
            for b in &p.labels.bands {
                c.set_fill_style_str(shades[b.zone % 2]);
                c.fill_rect((RULER_W - 8) as f64, b.y0 as f64, 4.0, (b.y1 - b.y0) as f64);
            }
            // Memory regions: a band beside the zones', filled with the
            // type of the region's pageblocks, hollow where it is all free
            // (it could be powered down).
            let palette = pfnscope_view::palette::Palette::new(if p.dark { pfnscope_view::palette::Theme::Dark } else { pfnscope_view::palette::Theme::Light });
            for b in &p.labels.regions {
                let (x, y, h) = ((RULER_W - 15) as f64, b.y0 as f64 + 1.0, (b.y1 - b.y0).saturating_sub(2) as f64);
                match b.state {
                    pfnscope_core::RegionState::Owned(mt) => {
                        c.set_fill_style_str(&palette.migratetype(mt).css());
                        c.fill_rect(x, y, 5.0, h);
                    }
                    _ => {
                        c.set_stroke_style_str(fg);
                        c.stroke_rect(x + 0.5, y + 0.5, 4.0, h - 1.0);
                    }
                }
            }
            c.set_text_baseline("top");
            for m in &p.labels.ruler {
                let (font, color) = match m.kind {
                    MarkKind::Row => ("11px ui-monospace, monospace", muted),
                    MarkKind::Zone => ("bold 12px system-ui, sans-serif", fg),
                    MarkKind::Region => ("11px system-ui, sans-serif", accent),
                };
                c.set_font(font);
                c.set_fill_style_str(color);
                let _ = c.fill_text_with_max_width(&m.text, 4.0, m.y as f64, (RULER_W - 14) as f64);
                if m.kind != MarkKind::Row {
                    c.set_fill_style_str(color);
                    c.fill_rect((RULER_W - 3) as f64, m.y as f64, 3.0, LINE_H as f64);
                }
            }
        }
        if let Some(c) = context(&self.text) {
            c.clear_rect(0.0, 0.0, p.width as f64, p.height as f64);
            c.set_font("bold 10px system-ui, sans-serif");
            c.set_text_align("center");
            c.set_text_baseline("middle");
            for t in &p.labels.inside {
                let w = 7.0 * t.text.len() as f64;
                c.set_fill_style_str(halo);
                c.fill_rect(t.x as f64 - w / 2.0 - 1.0, t.y as f64 - 6.0, w + 2.0, 12.0);
                c.set_fill_style_str(fg);
                let _ = c.fill_text(&t.text, t.x as f64, t.y as f64);
            }
        }
    }
}

fn context(node: &NodeRef) -> Option<CanvasRenderingContext2d> {
    node.cast::<HtmlCanvasElement>()?.get_context("2d").ok().flatten()?.dyn_into::<CanvasRenderingContext2d>().ok()
}
