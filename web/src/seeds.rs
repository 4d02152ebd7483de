//! Seeds 003 and 004 in the app: what the machine runs (allocator, memory
//! regions, free page reporting), their lessons one click away, and the
//! comparisons with mainline drawn with plotters-canvas. The numbers come
//! from `pfnscope_view::seeds`.

use std::rc::Rc;

use pfnscope_core::ReportingPolicy;
use pfnscope_view::palette::{Palette, Rgba};
use pfnscope_view::seeds::SeedComparison;
use pfnscope_view::session::Session;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;
use yew::html::Scope;
use yew::prelude::*;

use crate::app::{AnalysisMsg, App, Msg};

/// Which comparison to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedRun {
    Reporting,
    Regions,
    Migration,
}

/// The panel: the machine's policies and their state, the lessons, the
/// comparisons.
pub fn seeds_panel(s: &Session, imported: bool, link: &Scope<App>) -> Html {
    let m = &s.machine;
    let allocator = match m.region_spec() {
        Some(r) => {
            let (free, all) = m.powerable_regions();
            let held: usize = (0..m.zones().len()).map(|zi| (0..m.zone_regions(zi)).filter(|&r| m.region_in_allocator(zi, r)).count()).sum();
            format!(
                "{}; regions of {}: {free} of {all} all free (could be powered down), {held} held by the region allocator",
                r.policy.label(),
                pfnscope_view::labels::bytes_label(r.region_pages * m.geometry().page_size())
            )
        }
        None => "mainline 6.12; no memory regions".into(),
    };
    let reporting = match m.reporting_status() {
        Some(r) => format!(
            "{} from order {}; t = {} ms, {}{}; {} pages reported in {} call(s), {} again; the host holds {} pages",
            r.policy.label(),
            r.order,
            r.clock_ms,
            r.state.name(),
            r.due_ms.map(|d| format!(", next pass at t = {d} ms")).unwrap_or_default(),
            r.reported_pages,
            r.report_calls,
            r.rereported_pages,
            r.host_pages
        ),
        None => ReportingPolicy::Off.label().into(),
    };
    let lesson = |name: &'static str, label: &'static str, title: &'static str| {
        html! { <button id={format!("lesson-{name}")} title={title} onclick={link.callback(move |_| Msg::LoadBuiltin(name))}>{ label }</button> }
    };
    let run = |what: SeedRun, id: &'static str, label: &'static str, title: &'static str| {
        html! { <button id={id} title={title} onclick={link.callback(move |_| Msg::Analysis(AnalysisMsg::SeedRun(what)))}>{ label }</button> }
    };
    html! {
        <section class="panel seeds">
            <h2 title="Seed 003 (the 2013 region allocator) and seed 004 (walk_free_mem_block, 2017): neither was merged">{ "seeds 003 and 004" }</h2>
            <p id="policy-allocator"><b>{ "allocator: " }</b>{ allocator }</p>
            <p id="policy-reporting"><b>{ "reporting: " }</b>{ reporting }</p>
            <div class="buttons">
                { lesson("free-page-reporting", "reporting pass", "Mainline free page reporting's first pass: batches of 32 reported and put back marked PageReported") }
                { lesson("walk-free-mem-block", "seed 004 walk", "walk_free_mem_block() over the free lists: every block to the host, nothing kept") }
                { lesson("region-allocator", "region allocator", "Seed 003's region allocator and one kmempowerd pass") }
            </div>
            <div class="buttons">
                { run(SeedRun::Reporting, "seed-run-reporting", "compare reporting", "30 simulated seconds of a desktop from this state, mainline reporting against seed 004's walk") }
                { run(SeedRun::Regions, "seed-run-regions", "compare regions", "This scenario's machine and workload booted twice, mainline against the region allocator: regions all free over time") }
                { run(SeedRun::Migration, "seed-run-migration", "live migration", "The same pre-copy live migration of this state with and without seed 004's hints") }
            </div>
            if imported {
                <button id="apply-policies" title="Give this imported machine the allocator and reporting chosen in the scenario form above"
                    onclick={link.callback(|_| Msg::Analysis(AnalysisMsg::ApplyPolicies))}>{ "apply the chosen policies to this machine" }</button>
            }
        </section>
    }
}

#[derive(Clone, PartialEq, Properties)]
pub struct SeedChartsProps {
    pub data: Rc<SeedComparison>,
    pub palette: Palette,
    pub on_close: Callback<()>,
}

fn rgb(c: Rgba) -> RGBColor {
    RGBColor(c.0[0], c.0[1], c.0[2])
}

fn draw(canvas: HtmlCanvasElement, d: &SeedComparison, p: &Palette) -> Result<(), String> {
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or("no 2d context")?;
    let root = backend.into_drawing_area();
    let (bg, fg) = (rgb(p.background), rgb(p.highlight));
    root.fill(&bg).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, d.panels.len().max(1)));
    let font = ("sans-serif", 12).into_font().color(&fg);
    let small = ("sans-serif", 10).into_font().color(&fg);
    let title = ("sans-serif", 13).into_font().style(FontStyle::Bold).color(&fg);
    // Mainline in the palette's blue, the seed in vermilion.
    let colors = [rgb(Rgba::rgb(0x00, 0x72, 0xb2)), rgb(Rgba::rgb(0xd5, 0x5e, 0x00))];
    for (panel, area) in d.panels.iter().zip(areas.iter()) {
        // The same coordinate types as the trace charts' first panel
        // (usize across, u64 up), so plotters' code is shared.
        let (xmax, ymax) = panel.extent();
        let mut c = ChartBuilder::on(area)
            .caption(&panel.title, title.clone())
            .margin(6)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0..xmax as usize, 0..ymax + ymax / 10 + 1)
            .map_err(|x| x.to_string())?;
        c.configure_mesh()
            .label_style(font.clone())
            .axis_style(fg)
            .light_line_style(bg)
            .x_desc(panel.x_desc.as_str())
            .y_desc(panel.y_desc.as_str())
            .axis_desc_style(small.clone())
            .draw()
            .map_err(|x| x.to_string())?;
        for l in &panel.lines {
            let color = colors[l.design.min(1)];
            let style = if l.dashed { color.stroke_width(1) } else { color.stroke_width(3) };
            c.draw_series(std::iter::once(PathElement::new(l.points.iter().map(|&(x, y)| (x as usize, y)).collect::<Vec<_>>(), style)))
                .map_err(|x| x.to_string())?
                .label(l.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], style));
        }
        c.configure_series_labels().position(SeriesLabelPosition::UpperLeft).label_font(small.clone()).background_style(bg.mix(0.85)).border_style(fg).draw().map_err(|x| x.to_string())?;
    }
    root.present().map_err(|x| x.to_string())
}

/// A comparison's charts and sentences, with a close button.
#[function_component(SeedCharts)]
pub fn seed_charts(props: &SeedChartsProps) -> Html {
    let canvas = use_node_ref();
    let failure = use_state(|| None::<String>);
    {
        let canvas = canvas.clone();
        let failure = failure.clone();
        use_effect_with((props.data.clone(), props.palette), move |(d, p)| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                failure.set(draw(c, d, p).err());
            }
        });
    }
    let close = props.on_close.reform(|_| ());
    html! {
        <div class="seed-charts" id="seed-charts">
            <div class="map-toolbar">
                <span class="title">{ &props.data.title }</span>
                <span class="spacer"></span>
                <button onclick={close} title="Close the comparison">{ "close" }</button>
            </div>
            <canvas ref={canvas} width="1200" height="280" aria-label={props.data.title.clone()} />
            if let Some(e) = &*failure { <p class="notice error">{ format!("the charts could not be drawn: {e}") }</p> }
            { for props.data.summary.iter().map(|s| html! { <p class="hint">{ s }</p> }) }
        </div>
    }
}
