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
    let small = ("sans-serif", 10).into_font().color(&fg);
    let title = ("sans-serif", 13).into_font().style(FontStyle::Bold).color(&fg);
    let orders = d.frag.len().max(1);
    let e = |x: DrawingAreaErrorKind<_>| x.to_string();

    // Free pages by block order along the trace, stacked: the band of
    // order o is as tall as the pages held in free blocks of that order.
    let len = d.series.last().map_or(1, |s| s.0.max(1));
    let max = d.series.iter().map(|(_, v)| v.iter().sum::<u64>()).max().unwrap_or(1).max(1);
    let mut c = ChartBuilder::on(&areas[0])
        .caption("Free memory by block order, along the trace", title.clone())
        .margin(6)
        .x_label_area_size(30)
        .y_label_area_size(52)
        .build_cartesian_2d(0..len, 0..max)
        .map_err(|x| x.to_string())?;
    c.configure_mesh().label_style(font.clone()).axis_style(fg).light_line_style(bg).x_desc("step").y_desc("free pages").axis_desc_style(small.clone()).draw().map_err(e)?;
    let color = |o: usize| rgb(d.palette.free_low.mix(d.palette.free_high, 40 + (o as u32 * 216) / (orders.max(2) - 1) as u32));
    for o in (0..orders).rev() {
        let top = |v: &Vec<u64>| v.iter().take(o + 1).sum::<u64>();
        let series = AreaSeries::new(d.series.iter().map(|(x, v)| (*x, top(v))), 0, color(o).filled());
        let drawn = c.draw_series(series).map_err(|x| x.to_string())?;
        if o % 2 == 0 || o + 1 == orders {
            drawn.label(format!("order {o}")).legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], color(o).filled()));
        }
    }
    c.draw_series(std::iter::once(PathElement::new(vec![(d.cursor, 0), (d.cursor, max)], fg.stroke_width(2)))).map_err(|x| x.to_string())?;
    c.configure_series_labels().position(SeriesLabelPosition::UpperRight).label_font(small.clone()).background_style(bg.mix(0.8)).border_style(fg).draw().map_err(e)?;

    // Fragmentation index per order: 0..1000 as bars; a free block of the
    // order (-1000) as a marker on the axis instead of a bar to -1000.
    let mut c = ChartBuilder::on(&areas[1])
        .caption(format!("Fragmentation index by order, zone {}", d.frag_zone), title.clone())
        .margin(6)
        .x_label_area_size(30)
        .y_label_area_size(52)
        // u64 up, as the other charts: one instantiation of plotters' code.
        .build_cartesian_2d(0..orders, 0u64..1000u64)
        .map_err(|x| x.to_string())?;
    c.configure_mesh().label_style(font.clone()).axis_style(fg).light_line_style(bg).x_desc("order").y_desc("index (0 = short of memory, 1000 = fragmented)").axis_desc_style(small.clone()).draw().map_err(e)?;
    let bar = rgb(Rgba::rgb(0xd5, 0x5e, 0x00));
    let free = rgb(Rgba::rgb(0x00, 0x9e, 0x73));
    c.draw_series(d.frag.iter().enumerate().filter_map(|(o, v)| v.filter(|&v| v >= 0).map(|v| Rectangle::new([(o, 0), (o + 1, v as u64)], bar.filled()))))
        .map_err(|x| x.to_string())?
        .label("index: why an allocation of this order would fail")
        .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], bar.filled()));
    c.draw_series(d.frag.iter().enumerate().filter_map(|(o, v)| v.filter(|&v| v < 0).map(|_| Rectangle::new([(o, 0), (o + 1, 40)], free.filled()))))
        .map_err(|x| x.to_string())?
        .label("-1000: a block of this order is free")
        .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], free.filled()));
    c.configure_series_labels().position(SeriesLabelPosition::UpperLeft).label_font(small.clone()).background_style(bg.mix(0.8)).border_style(fg).draw().map_err(e)?;

    // What each operation cost.
    let n = d.history.len().max(1);
    let top = d.history.iter().map(|h| h.migrated.max(h.migrate_failed).max(h.isolate_failed)).max().unwrap_or(1).max(1) as u64;
    let history = d.history.clone();
    let names = move |x: &usize| history.get(x / 3).filter(|_| x % 3 == 1).map(|h| h.title.chars().take(16).collect::<String>()).unwrap_or_default();
    let mut c = ChartBuilder::on(&areas[2])
        .caption("What each operation cost", title)
        .margin(6)
        .x_label_area_size(30)
        .y_label_area_size(52)
        .build_cartesian_2d(0..n * 3, 0..top)
        .map_err(|x| x.to_string())?;
    c.configure_mesh()
        .label_style(small.clone())
        .axis_style(fg)
        .light_line_style(bg)
        .x_labels(n * 3)
        .x_label_formatter(&names)
        .y_desc("pages / pageblocks")
        .axis_desc_style(small.clone())
        .draw()
        .map_err(e)?;
    let colors = [rgb(Rgba::rgb(0x00, 0x9e, 0x73)), rgb(Rgba::rgb(0xe0, 0x00, 0x2b)), rgb(Rgba::rgb(0xe6, 0x9f, 0x00))];
    let labels = ["pages migrated", "pages that failed to migrate", "pageblocks that failed isolation"];
    for k in 0..3 {
        let color = colors[k];
        c.draw_series(d.history.iter().enumerate().map(|(i, h)| {
            let v = [h.migrated, h.migrate_failed, h.isolate_failed][k].max(0) as u64;
            Rectangle::new([(i * 3 + k, 0), (i * 3 + k + 1, v)], color.filled())
        }))
        .map_err(|x| x.to_string())?
        .label(labels[k])
        .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], color.filled()));
    }
    c.configure_series_labels().position(SeriesLabelPosition::UpperLeft).label_font(small).background_style(bg.mix(0.8)).border_style(fg).draw().map_err(e)?;
    root.present().map_err(|x| x.to_string())
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
            <canvas id="charts" ref={canvas} width="1200" height="260" aria-label="Charts: free pages per order along the trace, fragmentation index per order, and the cost of each operation" />
            if let Some(e) = &*failure { <p class="notice error">{ format!("the charts could not be drawn: {e}") }</p> }
            <p class="hint">{ last }</p>
        </div>
    }
}
