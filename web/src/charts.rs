//! Charts drawn with plotters-canvas: free pages per order along the
//! played trace, the fragmentation index per order, and what each operation
//! cost. The numbers come from `pfnscope_view::charts`.

use std::rc::Rc;

use pfnscope_view::charts::OpCost;
use pfnscope_view::palette::{Palette, Rgba};
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// Everything the charts show.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartData {
    /// (step, free pages per order) along the trace.
    pub series: Rc<Vec<(usize, Vec<u64>)>>,
    /// The player's position, in steps done.
    pub cursor: usize,
    pub frag_zone: String,
    pub frag: Vec<Option<i64>>,
    pub history: Rc<Vec<OpCost>>,
    pub palette: Palette,
}

#[derive(Clone, PartialEq, Properties)]
pub struct ChartsProps {
    pub data: ChartData,
}

fn rgb(c: Rgba) -> RGBColor {
    RGBColor(c.0[0], c.0[1], c.0[2])
}

fn draw(canvas: HtmlCanvasElement, d: &ChartData) -> Result<(), String> {
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or("no 2d context")?;
    let root = backend.into_drawing_area();
    let (bg, fg) = (rgb(d.palette.background), rgb(d.palette.highlight));
    root.fill(&bg).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, 3));
    let font = ("sans-serif", 12).into_font().color(&fg);
    let orders = d.frag.len().max(1);

    // Free pages per order along the trace.
    let len = d.series.last().map_or(1, |s| s.0.max(1));
    let max = d.series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(1).max(1);
    let mut c = ChartBuilder::on(&areas[0])
        .caption("free pages per order, along the trace", font.clone())
        .margin(6)
        .x_label_area_size(18)
        .y_label_area_size(42)
        .build_cartesian_2d(0..len, 0..max)
        .map_err(|e| e.to_string())?;
    c.configure_mesh().label_style(font.clone()).axis_style(fg).light_line_style(bg).draw().map_err(|e| e.to_string())?;
    for o in 0..orders {
        let color = rgb(d.palette.free_low.mix(d.palette.free_high, 40 + (o as u32 * 216) / (orders.max(2) - 1) as u32));
        c.draw_series(LineSeries::new(d.series.iter().map(|(x, v)| (*x, v.get(o).copied().unwrap_or(0))), color.stroke_width(2))).map_err(|e| e.to_string())?;
    }
    c.draw_series(std::iter::once(PathElement::new(vec![(d.cursor, 0), (d.cursor, max)], fg))).map_err(|e| e.to_string())?;

    // Fragmentation index per order.
    let mut c = ChartBuilder::on(&areas[1])
        .caption(format!("fragmentation index, {}", d.frag_zone), font.clone())
        .margin(6)
        .x_label_area_size(18)
        .y_label_area_size(42)
        .build_cartesian_2d(0..orders, -1000i64..1000i64)
        .map_err(|e| e.to_string())?;
    c.configure_mesh().label_style(font.clone()).axis_style(fg).light_line_style(bg).x_desc("order").draw().map_err(|e| e.to_string())?;
    c.draw_series(d.frag.iter().enumerate().filter_map(|(o, v)| {
        v.map(|v| Rectangle::new([(o, 0), (o + 1, v)], rgb(d.palette.free_high).filled()))
    }))
    .map_err(|e| e.to_string())?;

    // Cost of each operation.
    let n = d.history.len().max(1);
    let top = d.history.iter().map(|h| h.migrated.max(h.migrate_failed).max(h.isolate_failed)).max().unwrap_or(1).max(1);
    let mut c = ChartBuilder::on(&areas[2])
        .caption("migrated / failed / isolation failures per operation", font.clone())
        .margin(6)
        .x_label_area_size(18)
        .y_label_area_size(42)
        .build_cartesian_2d(0..n * 3, 0..top)
        .map_err(|e| e.to_string())?;
    c.configure_mesh().label_style(font).axis_style(fg).light_line_style(bg).x_label_formatter(&|_| String::new()).draw().map_err(|e| e.to_string())?;
    let colors = [rgb(Rgba::rgb(0x00, 0x9e, 0x73)), rgb(Rgba::rgb(0xe0, 0x00, 0x2b)), rgb(Rgba::rgb(0xe6, 0x9f, 0x00))];
    c.draw_series(d.history.iter().enumerate().flat_map(|(i, h)| {
        [h.migrated, h.migrate_failed, h.isolate_failed]
            .into_iter()
            .enumerate()
            .map(move |(k, v)| Rectangle::new([(i * 3 + k, 0), (i * 3 + k + 1, v)], colors[k].filled()))
    }))
    .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// A canvas with the three charts, redrawn when its data changes.
#[function_component(Charts)]
pub fn charts(props: &ChartsProps) -> Html {
    let canvas = use_node_ref();
    let failure = use_state(|| None::<String>);
    {
        let canvas = canvas.clone();
        let failure = failure.clone();
        use_effect_with(props.data.clone(), move |d| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                failure.set(draw(c, d).err());
            }
        });
    }
    let last = props.data.history.last().map(|h| format!("last: {} ({})", h.title, if h.ok { "ok" } else { "failed" })).unwrap_or_default();
    html! {
        <div class="charts">
            <canvas id="charts" ref={canvas} width="1200" height="220" aria-label="Charts: free pages per order along the trace, fragmentation index per order, and the cost of each operation" />
            if let Some(e) = &*failure { <p class="notice error">{ format!("the charts could not be drawn: {e}") }</p> }
            <p class="hint">{ "Bars on the right, per operation: pages migrated (green), pages that failed to migrate (red), pageblocks that failed isolation (orange). " }{ last }</p>
        </div>
    }
}
