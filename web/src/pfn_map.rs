//! The PFN map: a canvas that shows the session's pixel buffer. It draws
//! only when the buffer's version changes, never one DOM node per page.

use std::rc::Rc;

use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData, MouseEvent, WheelEvent};
use yew::prelude::*;

#[derive(Clone, PartialEq, Properties)]
pub struct PfnMapProps {
    pub width: u32,
    pub height: u32,
    /// RGBA, `width * height * 4` bytes.
    pub pixels: Rc<Vec<u8>>,
    /// Bumped whenever `pixels` changes.
    pub version: u64,
    pub on_hover: Callback<(u32, u32)>,
    pub on_leave: Callback<()>,
    /// (x, y, deltaY, zoom requested with Ctrl or Meta)
    pub on_wheel: Callback<(u32, u32, f64, bool)>,
    /// A click at (x, y) in canvas pixels.
    pub on_click: Callback<(u32, u32)>,
    /// The element id (`pfn-map` for the map).
    pub id: AttrValue,
}

pub struct PfnMap {
    canvas: NodeRef,
    drawn: u64,
    _wheel: Option<EventListener>,
}

impl Component for PfnMap {
    type Message = ();
    type Properties = PfnMapProps;

    fn create(_: &Context<Self>) -> Self {
        PfnMap { canvas: NodeRef::default(), drawn: u64::MAX, _wheel: None }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let p = ctx.props();
        let on_hover = p.on_hover.clone();
        let on_leave = p.on_leave.clone();
        let canvas = self.canvas.clone();
        let click_canvas = self.canvas.clone();
        let on_click = p.on_click.clone();
        html! {
            <canvas
                id={p.id.clone()}
                onclick={Callback::from(move |e: MouseEvent| on_click.emit(to_canvas(&click_canvas, e.offset_x(), e.offset_y())))}
                ref={self.canvas.clone()}
                width={p.width.to_string()}
                height={p.height.to_string()}
                aria-label="Map of physical page frames: each cell is one page, colored by state; the strip above each row shows pageblock migratetypes"
                onmousemove={Callback::from(move |e: MouseEvent| on_hover.emit(to_canvas(&canvas, e.offset_x(), e.offset_y())))}
                onmouseleave={Callback::from(move |_: MouseEvent| on_leave.emit(()))}
            />
        }
    }

    fn rendered(&mut self, ctx: &Context<Self>, first_render: bool) {
        let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() else { return };
        if first_render {
            // A non-passive listener, so the page does not scroll under the map.
            let on_wheel = ctx.props().on_wheel.clone();
            let node = self.canvas.clone();
            self._wheel = Some(EventListener::new_with_options(&canvas, "wheel", EventListenerOptions::enable_prevent_default(), move |e| {
                if let Some(w) = e.dyn_ref::<WheelEvent>() {
                    w.prevent_default();
                    let (x, y) = to_canvas(&node, w.offset_x(), w.offset_y());
                    on_wheel.emit((x, y, w.delta_y(), w.ctrl_key() || w.meta_key()));
                }
            }));
        }
        let p = ctx.props();
        if self.drawn == p.version || p.pixels.len() != (p.width * p.height * 4) as usize {
            return;
        }
        let ctx2d = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
        if let Some(ctx2d) = ctx2d {
            if let Ok(img) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&p.pixels), p.width, p.height) {
                let _ = ctx2d.put_image_data(&img, 0.0, 0.0);
                self.drawn = p.version;
            }
        }
    }
}

/// Mouse offsets are in CSS pixels; the canvas may be scaled to fit its
/// pane, so convert them to canvas pixels.
fn to_canvas(canvas: &NodeRef, x: i32, y: i32) -> (u32, u32) {
    let Some(c) = canvas.cast::<HtmlCanvasElement>() else { return (0, 0) };
    let (cw, ch) = (c.client_width().max(1) as f64, c.client_height().max(1) as f64);
    let sx = c.width() as f64 / cw;
    let sy = c.height() as f64 / ch;
    ((x.max(0) as f64 * sx) as u32, (y.max(0) as f64 * sy) as u32)
}
