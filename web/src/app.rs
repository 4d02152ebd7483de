//! The root component: owns the [`Session`], turns messages into calls on
//! it, and lays out the map, the controls and the panels.

use std::rc::Rc;
use std::time::Duration;

use gloo::events::{EventListener, EventListenerOptions};
use pfnscope_core::Scenario;
use pfnscope_view::inspect::{describe, PageInfo};
use pfnscope_view::palette::Theme;
use pfnscope_view::compare::Against;
use pfnscope_view::link::{Link, Source};
use pfnscope_view::session::{Build, Session};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::charts::{ChartData, Charts};
use crate::compare::{compare_view, CompareState};
use crate::controls::{import_panel, operation_form, player, scenario_form};
use crate::diagnosis::{contiguity_panel, diagnosis_panel};
use crate::panels::{buddyinfo, help_overlay, legend, pagetypeinfo, tooltip, zone_summary};
use crate::labels::TextLayer;
use crate::pfn_map::PfnMap;

mod analysis;
#[cfg(feature = "bench")]
mod bench;
mod form;
mod gallery;
mod import;
mod map;
mod player;
mod scenario;

pub use analysis::AnalysisMsg;
pub use form::{Field, Form};
pub use gallery::{Gallery, GalleryMsg, THUMB_H, THUMB_W};
pub use import::ImportMsg;
pub use map::MapMsg;
pub use player::PlayerMsg;
pub use scenario::ScenarioMsg;

/// What the app starts with.
#[derive(Clone, Debug, PartialEq, Properties)]
pub struct AppProps {
    pub scenario: Scenario,
    /// A problem with the URL, shown once the default scenario is loaded.
    #[prop_or_default]
    pub url_error: Option<String>,
    #[prop_or(960)]
    pub width: u32,
    #[prop_or(560)]
    pub height: u32,
    /// A variant to open side by side with 6.12 once the scenario plays.
    #[prop_or_default]
    pub compare: Option<Against>,
    /// Animate steps (off when the user prefers reduced motion).
    #[prop_or(true)]
    pub animate: bool,
    /// The benchmark page: step the trace this many times, timing each.
    #[prop_or_default]
    pub bench: Option<u32>,
    /// A scenario to fetch or unpack before anything is built (a link's),
    /// with the URL query whose overrides apply to it.
    #[prop_or_default]
    pub open: Option<(Source, String)>,
    /// Where a link puts the player and the map once the scenario is built.
    #[prop_or_default]
    pub link: Option<Link>,
    /// The scenario came by name, unchanged: links name it too.
    #[prop_or_default]
    pub builtin: Option<String>,
    /// Embed mode: the map, the player and the lesson only.
    #[prop_or_default]
    pub embed: bool,
}

impl AppProps {
    /// What the page's URL asks for: a scenario (built in, fetched or
    /// unpacked), its overrides, a step and view, a comparison, embed
    /// mode. A bad URL is reported and the default scenario loads.
    pub fn from_location() -> AppProps {
        let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
        AppProps::from_query(&query)
    }

    /// What a URL query asks for (see [`AppProps::from_location`]).
    pub fn from_query(query: &str) -> AppProps {
        let query = query.to_string();
        let mut url_error = None;
        let link = Link::parse(&query).unwrap_or_else(|e| {
            url_error = Some(e);
            Link::default()
        });
        let plain = !pfnscope_view::link::has_overrides(&query);
        let (scenario, open, builtin) = match &link.source {
            Source::Default => (pfnscope_view::session::apply_query(Scenario::default(), &query), None, plain.then(|| "default".to_string())),
            Source::Builtin(n) => match Scenario::builtin(n) {
                Some(s) => (pfnscope_view::session::apply_query(s, &query), None, plain.then(|| n.clone())),
                None => (Ok(Scenario::default()), Some((link.source.clone(), query.clone())), None),
            },
            Source::Inline(_) => (Ok(Scenario::default()), Some((link.source.clone(), query.clone())), None),
        };
        let scenario = scenario.unwrap_or_else(|e| {
            url_error.get_or_insert(e);
            Scenario::default()
        });
        let bench = pfnscope_view::session::bench_from_query(&query).unwrap_or_else(|e| {
            url_error.get_or_insert(e);
            None
        });
        if cfg!(not(feature = "bench")) && bench.is_some() {
            url_error.get_or_insert("this build has no benchmark page: scripts/bench-browser.sh builds one".into());
        }
        let embed = link.embed;
        let (width, height) = map_size(embed);
        // Benchmarks time the step itself, not its animation.
        let animate = bench.is_none() && !crate::animation::prefers_reduced_motion();
        let open = if url_error.is_some() { None } else { open };
        AppProps { scenario, url_error, width, height, compare: link.compare, animate, bench, open, builtin, link: Some(link), embed }
    }
}

/// The map's size for the window. In an iframe: the frame's width, and
/// its height less the player and the lesson below the map. Otherwise
/// beside the panels on wide windows, above them (the stylesheet stacks
/// them under 1100 px) on narrow ones, as tall as the window allows below
/// the header.
pub fn map_size(embed: bool) -> (u32, u32) {
    let window = web_sys::window();
    let px = |v: Option<wasm_bindgen::JsValue>| v.and_then(|v| v.as_f64()).map(|v| v as u32);
    let w = px(window.as_ref().and_then(|w| w.inner_width().ok())).unwrap_or(1280);
    let h = px(window.as_ref().and_then(|w| w.inner_height().ok())).unwrap_or(800);
    if embed {
        return (w.saturating_sub(crate::labels::RULER_W + 16).clamp(240, 1600), h.saturating_sub(230).clamp(160, 1000));
    }
    let beside = if w > 1100 { 560 } else { 48 };
    let width = w.saturating_sub(beside + crate::labels::RULER_W).clamp(320, 1600);
    let height = h.saturating_sub(240).clamp(360, 1000);
    (width, height)
}

/// A message in the notice area.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Info(String),
    Error(String),
}

pub enum Msg {
    BuildChunk,
    LoadScenario,
    LoadBuiltin(&'static str),
    RunOp,
    Field(Field, String),
    Alloc,
    Free,
    ToggleTheme,
    Help(bool),
    Key(KeyboardEvent),
    Player(PlayerMsg),
    Map(MapMsg),
    Import(ImportMsg),
    Analysis(AnalysisMsg),
    Scenario(ScenarioMsg),
    Gallery(GalleryMsg),
    /// The benchmark page's next timed step.
    BenchStep,
}

/// Mouse position and what is under it.
struct Hover {
    x: u32,
    y: u32,
    info: PageInfo,
    in_strip: bool,
    count: u64,
}

pub struct App {
    session: Option<Session>,
    build: Option<Build>,
    form: Form,
    notice: Option<Notice>,
    hover: Option<Hover>,
    help: bool,
    pixels: Rc<Vec<u8>>,
    /// The words on the map for the current view.
    labels: Rc<pfnscope_view::labels::Labels>,
    /// What the map shows, to redraw the next picture from.
    frame: Option<pfnscope_view::session::Frame>,
    /// The minimap's catch-up after steps pause.
    minimap_timer: Option<gloo::timers::callback::Timeout>,
    version: u64,
    /// The minimap's view and pixels, redrawn only when the state changes.
    minimap: Option<(pfnscope_view::viewport::Viewport, Rc<Vec<u8>>)>,
    /// Free pages per order along the current trace (recomputed when the
    /// trace changes, not on every step).
    series: Rc<Vec<(usize, Vec<u64>)>>,
    /// Steps per second while playing.
    speed: u32,
    playing: Option<gloo::timers::callback::Interval>,
    /// A file being read, kept alive until it is.
    reader: Option<gloo::file::callbacks::FileReader>,
    /// Bytes waiting to be imported on the next tick.
    pending_import: Option<(String, Vec<u8>)>,
    /// The import running in chunks, with its source's name.
    import_job: Option<(String, pfnscope_import::ImportJob)>,
    /// The side-by-side comparison, when open.
    compare: Option<CompareState>,
    /// The contiguity map being computed, with its size's label.
    contiguity_job: Option<(String, pfnscope_core::ContiguityJob)>,
    /// The step animation running, and its frame timer.
    anim: Option<crate::animation::Anim>,
    anim_timer: Option<gloo::timers::callback::Timeout>,
    /// Picking a range on the map: 0 waits for the first page, 1 the last.
    picking: Option<u8>,
    /// A comparison the URL asked for, opened once the scenario has played.
    compare_on_load: Option<Against>,
    /// The benchmark page's run, if this is it.
    #[cfg(feature = "bench")]
    bench: Option<bench::Bench>,
    /// The seeds' comparison last run, drawn under the charts.
    seed_charts: Option<Rc<pfnscope_view::seeds::SeedComparison>>,
    /// The built-in scenario shown, when it came by name unchanged (a
    /// link names it; any other scenario is packed into the link).
    builtin: Option<String>,
    /// Where a link puts the player and the map once the build is done.
    pending_link: Option<Link>,
    /// The last link made, shown to copy by hand.
    share_url: Option<String>,
    /// A video of the map being recorded while the trace plays.
    recording: bool,
    /// The scenario gallery, while open.
    gallery: Option<Gallery>,
    _keys: Option<EventListener>,
    _resize: Option<EventListener>,
}

impl App {
    pub(super) fn begin_build(&mut self, ctx: &Context<Self>, scenario: &Scenario) {
        match Session::start_build(scenario) {
            Ok(b) => {
                self.build = Some(b);
                ctx.link().send_future(async {
                    yew::platform::time::sleep(Duration::from_millis(0)).await;
                    Msg::BuildChunk
                });
            }
            Err(e) => self.notice = Some(Notice::Error(e)),
        }
    }

    /// Recomputes the trace's chart series after a new trace.
    fn new_trace(&mut self) {
        if let Some(s) = &mut self.session {
            self.series = Rc::new(pfnscope_view::charts::free_pages_along_trace(s, 60));
        }
    }

    fn chart_data(&self, s: &Session) -> ChartData {
        let (frag_zone, frag) = pfnscope_view::charts::fragmentation_index(&s.machine);
        ChartData {
            series: self.series.clone(),
            cursor: s.player.as_ref().and_then(|p| p.cursor).map_or(0, |c| c + 1),
            frag_zone,
            frag,
            history: Rc::new(s.history.clone()),
            palette: s.palette(),
        }
    }

    /// Runs an operation from a form on the session: reports its result,
    /// shows its trace. False (no redraw) before a session exists.
    fn operate(&mut self, op: &mut dyn FnMut(&mut Session, &Form) -> Result<String, String>) -> bool {
        let Some(s) = &mut self.session else { return false };
        self.playing = None;
        self.contiguity_job = None;
        let r = op(s, &self.form);
        self.report(r);
        self.new_trace();
        self.redraw_all();
        true
    }

    /// Moves the trace player: the state changes, so map and minimap redraw.
    /// Moves the view only: the minimap keeps its pixels.
    fn move_view(&mut self, f: &mut dyn FnMut(&mut Session)) -> bool {
        let Some(s) = &mut self.session else { return false };
        f(s);
        self.redraw();
        true
    }

    /// Recomputes the map's pixels after the state or view changed.
    /// Only the cells a step changed are redrawn when the view is the same
    /// (`Session::next_frame`).
    fn redraw(&mut self) {
        if let Some(s) = &self.session {
            let frame = match self.frame.take() {
                Some(prev) if prev.pixels.len() == (s.viewport.width * s.viewport.height * 4) as usize => s.next_frame(prev),
                _ => s.frame(),
            };
            self.pixels = Rc::new(frame.pixels.clone());
            self.frame = Some(frame);
            self.labels = Rc::new(s.labels());
            self.version += 1;
        }
    }

    /// Recomputes the map and the minimap after the state changed.
    fn redraw_all(&mut self) {
        if let Some(s) = &self.session {
            let (v, px) = s.minimap(MINIMAP_W, MINIMAP_H);
            self.minimap = Some((v, Rc::new(px)));
        }
        self.redraw();
    }

    pub(super) fn report(&mut self, r: Result<String, String>) {
        self.notice = Some(match r {
            Ok(m) => Notice::Info(m),
            Err(e) => Notice::Error(e),
        });
    }

    fn key(&mut self, ctx: &Context<Self>, e: KeyboardEvent) -> bool {
        // Keys typed into a form field belong to the field.
        let in_field = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        if self.gallery.is_some() && e.key() == "Escape" {
            self.gallery = None;
            return true;
        }
        if in_field || e.ctrl_key() || e.meta_key() || e.alt_key() || self.gallery.is_some() {
            return false;
        }
        if self.compare.is_some() {
            let msg = match e.key().as_str() {
                "ArrowRight" | "l" => Msg::Analysis(AnalysisMsg::CompareStep(1)),
                "ArrowLeft" | "h" => Msg::Analysis(AnalysisMsg::CompareStep(-1)),
                "Home" => Msg::Analysis(AnalysisMsg::CompareSeek(0)),
                "End" => Msg::Analysis(AnalysisMsg::CompareSeek(usize::MAX)),
                "Escape" => Msg::Analysis(AnalysisMsg::CompareClose),
                "t" => Msg::ToggleTheme,
                "?" => Msg::Help(!self.help),
                _ => return false,
            };
            e.prevent_default();
            ctx.link().send_message(msg);
            return false;
        }
        let msg = match e.key().as_str() {
            " " => Msg::Player(PlayerMsg::TogglePlay),
            "ArrowRight" if e.shift_key() => Msg::Player(PlayerMsg::Jump(true)),
            "ArrowLeft" if e.shift_key() => Msg::Player(PlayerMsg::Jump(false)),
            "ArrowRight" | "l" => Msg::Player(PlayerMsg::StepBy(1)),
            "ArrowLeft" | "h" => Msg::Player(PlayerMsg::StepBy(-1)),
            "Home" => Msg::Player(PlayerMsg::Seek(None)),
            "End" => Msg::Player(PlayerMsg::StepBy(i64::MAX / 2)),
            "+" | "=" => Msg::Map(MapMsg::Zoom(1, None)),
            "-" | "_" => Msg::Map(MapMsg::Zoom(-1, None)),
            "0" => Msg::Map(MapMsg::Fit),
            "PageDown" | "j" | "ArrowDown" => Msg::Map(MapMsg::Scroll(8)),
            "PageUp" | "k" | "ArrowUp" => Msg::Map(MapMsg::Scroll(-8)),
            "t" => Msg::ToggleTheme,
            "g" => Msg::Gallery(GalleryMsg::Open),
            "f" => Msg::Map(MapMsg::ToggleFollow),
            "]" => Msg::Scenario(ScenarioMsg::Checkpoint(true)),
            "[" => Msg::Scenario(ScenarioMsg::Checkpoint(false)),
            "?" => Msg::Help(!self.help),
            "Escape" => Msg::Help(false),
            _ => return false,
        };
        e.prevent_default();
        ctx.link().send_message(msg);
        false
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = AppProps;

    fn create(ctx: &Context<Self>) -> Self {
        let props = ctx.props();
        let mut app = App {
            session: None,
            build: None,
            form: Form::from_scenario(&props.scenario),
            notice: props.url_error.clone().map(|e| Notice::Error(format!("{e}; showing the default scenario"))),
            hover: None,
            help: false,
            pixels: Rc::new(Vec::new()),
            labels: Rc::default(),
            frame: None,
            minimap_timer: None,
            version: 0,
            minimap: None,
            series: Rc::new(Vec::new()),
            speed: 8,
            playing: None,
            reader: None,
            pending_import: None,
            import_job: None,
            compare: None,
            compare_on_load: props.compare,
            seed_charts: None,
            #[cfg(feature = "bench")]
            bench: props.bench.map(bench::Bench::new),
            contiguity_job: None,
            anim: None,
            anim_timer: None,
            picking: None,
            builtin: props.builtin.clone(),
            pending_link: props.link.clone(),
            share_url: None,
            recording: false,
            gallery: None,
            _keys: None,
            _resize: None,
        };
        match &props.open {
            Some((source, query)) => ctx.link().send_message(Msg::Scenario(ScenarioMsg::Open(source.clone(), query.clone()))),
            None => app.begin_build(ctx, &props.scenario),
        }
        app
    }

    fn rendered(&mut self, ctx: &Context<Self>, first_render: bool) {
        #[cfg(feature = "bench")]
        self.bench_rendered(ctx);
        // Embedded, the app takes keys only once clicked (its root's own
        // keydown), never from the host page.
        if first_render && !ctx.props().embed {
            if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
                let link = ctx.link().clone();
                let opts = EventListenerOptions::enable_prevent_default();
                self._keys = Some(EventListener::new_with_options(&doc, "keydown", opts, move |e| {
                    if let Some(e) = e.dyn_ref::<KeyboardEvent>() {
                        link.send_message(Msg::Key(e.clone()));
                    }
                }));
            }
        }
        if first_render {
            if let Some(window) = web_sys::window() {
                let link = ctx.link().clone();
                self._resize = Some(EventListener::new(&window, "resize", move |_| link.send_message(Msg::Map(MapMsg::Resize))));
            }
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::BuildChunk => {
                let Some(b) = &mut self.build else { return false };
                let finished = match b.advance() {
                    Ok(f) => f,
                    Err(e) => {
                        self.build = None;
                        self.notice = Some(Notice::Error(e));
                        return true;
                    }
                };
                if finished {
                    let b = self.build.take().expect("checked");
                    let title = b.scenario.title.clone();
                    match &mut self.session {
                        Some(s) => s.replace(b),
                        None => self.session = Some(Session::from_build(b, ctx.props().width, ctx.props().height)),
                    }
                    // A new machine: nothing on screen can be redrawn from.
                    self.frame = None;
                    if let (Some(l), Some(s)) = (self.pending_link.take(), &mut self.session) {
                        s.apply_link(&l);
                        if l.gallery {
                            ctx.link().send_message(Msg::Gallery(GalleryMsg::Open));
                        }
                    }
                    if !matches!(self.notice, Some(Notice::Error(_))) {
                        self.notice = Some(Notice::Info(format!("loaded: {title}")));
                    }
                    self.new_trace();
                    self.redraw_all();
                    self.compare = None;
                    if let Some(against) = self.compare_on_load.take() {
                        ctx.link().send_message(Msg::Analysis(AnalysisMsg::CompareOpen(against)));
                    }
                    #[cfg(feature = "bench")]
                    if self.bench.as_ref().is_some_and(|b| b.times.is_empty() && b.result.is_none()) {
                        self.bench_begin(ctx);
                    }
                } else {
                    ctx.link().send_future(async {
                        yew::platform::time::sleep(Duration::from_millis(0)).await;
                        Msg::BuildChunk
                    });
                }
                true
            }
            Msg::LoadBuiltin(name) => {
                ctx.link().send_message(Msg::Scenario(ScenarioMsg::Open(Source::Builtin(name.into()), String::new())));
                false
            }
            Msg::RunOp => self.operate(&mut |s, f| {
                let page = s.machine.geometry().page_size();
                pfnscope_view::session::op_from_form(&f.op_name, &f.op_args, page).and_then(|op| s.run_op(&op))
            }),
            Msg::LoadScenario => match self.form.scenario() {
                Ok(s) => {
                    self.builtin = None;
                    self.open_scenario(ctx, s);
                    true
                }
                Err(e) => {
                    self.notice = Some(Notice::Error(e));
                    true
                }
            },
            Msg::Field(f, v) => {
                let redraw = f == Field::OpName;
                self.form.set(f, v);
                redraw
            }
            Msg::Alloc => self.operate(&mut |s, f| s.alloc_pages(&f.gfp, &f.order, &f.kind)),
            Msg::Free => self.operate(&mut |s, f| s.free_pages(&f.free_pfn, &f.free_order)),
            Msg::ToggleTheme => {
                let Some(s) = &mut self.session else { return false };
                s.theme = match s.theme {
                    Theme::Light => Theme::Dark,
                    Theme::Dark => Theme::Light,
                };
                let palette = s.palette();
                if let Some(c) = &mut self.compare {
                    c.redraw(&palette);
                }
                self.redraw_all();
                true
            }
            Msg::Help(on) => {
                self.help = on;
                true
            }
            Msg::Key(e) => self.key(ctx, e),
            Msg::Player(m) => self.update_player(ctx, m),
            Msg::Map(m) => self.update_map(ctx, m),
            Msg::Import(m) => self.update_import(ctx, m),
            Msg::Analysis(m) => self.update_analysis(ctx, m),
            Msg::Scenario(m) => self.update_scenario(ctx, m),
            Msg::Gallery(m) => self.update_gallery(ctx, m),
            #[cfg(feature = "bench")]
            Msg::BenchStep => self.bench_step(ctx),
            #[cfg(not(feature = "bench"))]
            Msg::BenchStep => false,
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let theme = self.session.as_ref().map_or(Theme::Light, |s| s.theme);
        let theme_class = match theme {
            Theme::Light => "app theme-light",
            Theme::Dark => "app theme-dark",
        };
        let building = self.build.as_ref().map(|b| {
            let pct = (b.progress() * 100.0).round();
            html! {
                <div class="progress" role="progressbar" aria-valuenow={pct.to_string()} aria-valuemin="0" aria-valuemax="100">
                    <span>{ format!("building {}: {pct}%", b.scenario.title) }</span>
                    <progress max="100" value={pct.to_string()}></progress>
                </div>
            }
        });
        let importing = self.import_job.as_ref().map(|(name, job)| {
            let pct = (job.progress() * 100.0).round();
            html! {
                <div class="progress" role="progressbar" aria-valuenow={pct.to_string()} aria-valuemin="0" aria-valuemax="100">
                    <span>{ format!("importing {name}: {pct}%") }</span>
                    <progress id="import-progress" max="100" value={pct.to_string()}></progress>
                </div>
            }
        });
        let notice = self.notice.as_ref().map(|n| match n {
            Notice::Info(m) => html! { <div class="notice info" role="status">{ m }</div> },
            Notice::Error(m) => html! { <div class="notice error" role="alert">{ m }</div> },
        });
        // The seeds' panel comes first when the machine runs one of them.
        let seeds_first = self.session.as_ref().is_some_and(|s| s.machine.reporting_status().is_some() || s.machine.region_spec().is_some());
        let imported = self.session.as_ref().is_some_and(|s| s.scenario.machine == "imported");
        let ready = self.session.is_some() && self.build.is_none() && self.import_job.is_none() && self.pending_import.is_none();
        if ctx.props().embed {
            return self.embed_view(ctx, ready, theme_class, building);
        }
        html! {
            <div class={theme_class} data-ready={ready.to_string()}>
                <header>
                    <h1>{ "pfnscope" }</h1>
                    <span class="tagline">{ "watch the Linux 6.12 page allocator work" }</span>
                    <span class="spacer"></span>
                    { crate::widgets::button(link, "open-gallery", "primary", "Every built-in scenario and lesson, by topic (g)", "scenarios & lessons", || Msg::Gallery(GalleryMsg::Open)) }
                    { crate::widgets::button(link, "", "", "Light or dark theme (t)", "theme", || Msg::ToggleTheme) }
                    { crate::widgets::button(link, "", "", "Keyboard shortcuts (?)", "?", || Msg::Help(true)) }
                </header>
                { scenario_form(&self.form, link) }
                { for building }
                { for importing }
                { for notice }
                if let Some(url) = &self.share_url {
                    <div class="share-url"><label>{ "link " }<input id="share-url" readonly=true value={url.clone()} /></label>
                        <span class="hint">{ " embed: " }<code>{ format!("<iframe src=\"{url}&embed=1\" width=\"800\" height=\"600\"></iframe>") }</code></span></div>
                }
                if let Some(c) = &self.compare {
                    { compare_view(c, link) }
                } else {
                <main>
                    <section class="map-pane">
                        if let Some(s) = &self.session {
                            { crate::lesson::lesson_panel(s, link, true) }
                            <div class="map-toolbar">
                                <span class="title">{ &s.scenario.title }</span>
                                <span class="spacer"></span>
                                { crate::widgets::button(link, "", "", "Zoom out (-)", "−", || Msg::Map(MapMsg::Zoom(-1, None))) }
                                <span class="zoom">{ zoom_label(s.viewport.zoom) }</span>
                                { crate::widgets::button(link, "", "", "Zoom in (+)", "+", || Msg::Map(MapMsg::Zoom(1, None))) }
                                { crate::widgets::button(link, "", "", "Whole machine (0)", "fit", || Msg::Map(MapMsg::Fit)) }
                                <button id="follow" class={if s.follow { "toggle on" } else { "toggle" }} aria-pressed={s.follow.to_string()}
                                    title="The camera follows the operation step by step; your own zoom or scroll turns it off (f)"
                                    onclick={link.callback(|_| Msg::Map(MapMsg::ToggleFollow))}>{ if s.follow { "following" } else { "follow" } }</button>
                                <span class="sep"></span>
                                { crate::widgets::button(link, "share", "", "Copy a link that reopens this scenario at this step and view", "copy link", || Msg::Scenario(ScenarioMsg::Share)) }
                                { crate::widgets::button(link, "png-map", "", "Save the map, with its words, as PNG", "PNG", || Msg::Scenario(ScenarioMsg::Png("map"))) }
                                <button id="record" class={if self.recording { "toggle on" } else { "toggle" }} title="Record the trace as a WebM video for slides: from this step (from the start when at the end) to the end, or until pressed again"
                                    onclick={link.callback(|_| Msg::Scenario(ScenarioMsg::Record))}>{ if self.recording { "■ stop" } else { "video" } }</button>
                            </div>
                            { self.map_view(s, link) }
                            <div class="under-map">
                                { legend(&s.palette(), &s.machine) }
                                if let Some((mv, mpx)) = &self.minimap {
                                    { self.minimap_view(s, mv, mpx.clone(), link) }
                                }
                            </div>
                            <Charts data={self.chart_data(s)} />
                            <div class="chart-actions">{ crate::widgets::button(link, "png-charts", "", "Save each chart as PNG", "charts as PNG", || Msg::Scenario(ScenarioMsg::Png("charts"))) }</div>
                            if let Some(d) = &self.seed_charts {
                                <crate::seeds::SeedCharts data={d.clone()} palette={s.palette()} on_close={link.callback(|_| Msg::Analysis(AnalysisMsg::SeedClose))} />
                            }
                        } else {
                            <div class="placeholder">{ "booting the machine…" }</div>
                        }
                    </section>
                    <aside>
                        if let Some(s) = &self.session {
                            { crate::lesson::lesson_panel(s, link, false) }
                            { player(s, link, self.playing.is_some(), self.speed) }
                            { diagnosis_panel(s, link) }
                            if seeds_first {
                                { crate::seeds::seeds_panel(s, imported, link) }
                            }
                            { operation_form(&self.form, s, self.picking, link) }
                            { contiguity_panel(s, &self.form, self.contiguity_job.as_ref().map(|(_, j)| j), link) }
                            { buddyinfo(s) }
                            { pagetypeinfo(s) }
                            { zone_summary(s) }
                            if !seeds_first {
                                { crate::seeds::seeds_panel(s, imported, link) }
                            }
                            { crate::controls::scenario_file_panel(link) }
                            { import_panel(&self.form, link) }
                        }
                    </aside>
                </main>
                }
                if self.help {
                    { help_overlay(link) }
                }
                if let Some(g) = &self.gallery {
                    { crate::gallery::gallery_view(g, self.version, link) }
                }
                { self.bench_result() }
            </div>
        }
    }
}

impl App {
    /// The map with its words and tooltip; files dropped on it import.
    fn map_view(&self, s: &Session, link: &yew::html::Scope<App>) -> Html {
        html! {
                            <div class="map-row">
            <div class="map-wrap"
                ondragover={Callback::from(|e: DragEvent| e.prevent_default())}
                ondrop={link.batch_callback(|e: DragEvent| {
                    e.prevent_default();
                    e.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)).map(|f| Msg::Import(ImportMsg::File(f)))
                })}>
                <PfnMap
                    id="pfn-map"
                    on_click={link.callback(|(x, y)| Msg::Map(MapMsg::Click(x, y)))}
                    width={s.viewport.width}
                    height={s.viewport.height}
                    pixels={self.pixels.clone()}
                    version={self.version}
                    on_hover={link.callback(|(x, y)| Msg::Map(MapMsg::Hover(x, y)))}
                    on_leave={link.callback(|_| Msg::Map(MapMsg::Leave))}
                    on_wheel={link.callback(|(x, y, dy, zoom): (u32, u32, f64, bool)| {
                        if zoom {
                            Msg::Map(MapMsg::Zoom(if dy < 0.0 { 1 } else { -1 }, Some((x, y))))
                        } else {
                            Msg::Map(MapMsg::Scroll(if dy < 0.0 { -3 } else { 3 }))
                        }
                    })}
                />
                <TextLayer width={s.viewport.width} height={s.viewport.height} labels={self.labels.clone()} version={self.version} dark={s.theme == Theme::Dark} />
                if let Some(h) = &self.hover {
                    { tooltip(&h.info, h.x + crate::labels::RULER_W, h.y, h.in_strip, h.count) }
                }
            </div>
            </div>
        }
    }

    /// Embed mode: the map, the player and the lesson, sized to the frame.
    /// Keys reach it only once the reader clicks into it.
    fn embed_view(&self, ctx: &Context<Self>, ready: bool, theme_class: &str, building: Option<Html>) -> Html {
        let link = ctx.link();
        // Embedded, only errors take room from the picture.
        let notice = match &self.notice {
            Some(Notice::Error(m)) => Some(html! { <div class="notice error" role="alert">{ m }</div> }),
            _ => None,
        };
        html! {
            <div class={format!("{theme_class} embed")} data-ready={ready.to_string()} tabindex="0"
                onkeydown={link.callback(Msg::Key)}>
                { for building }
                { for notice }
                if let Some(s) = &self.session {
                    <div class="embed-title"><span class="title">{ &s.scenario.title }</span>
                        <span class="spacer"></span>
                        { crate::widgets::button(link, "embed-open", "", "Open this picture in pfnscope, with everything", "open in pfnscope ↗", || Msg::Scenario(ScenarioMsg::Share)) }
                    </div>
                    { self.map_view(s, link) }
                    <div class="embed-below">
                        { crate::lesson::lesson_panel(s, link, false) }
                        { player(s, link, self.playing.is_some(), self.speed) }
                    </div>
                } else {
                    <div class="placeholder">{ "booting the machine…" }</div>
                }
            </div>
        }
    }
}

/// Minimap size in pixels.
const MINIMAP_W: u32 = 160;
const MINIMAP_H: u32 = 120;

impl App {
    fn minimap_view(&self, s: &Session, mv: &pfnscope_view::viewport::Viewport, px: Rc<Vec<u8>>, link: &yew::html::Scope<App>) -> Html {
        let (top, bottom) = s.minimap_window(mv);
        let mv = *mv;
        html! {
            <div class="minimap" title="The whole machine; the box is what the map shows. Click to go there.">
                <PfnMap width={MINIMAP_W} height={MINIMAP_H} pixels={px} version={self.version}
                    on_hover={Callback::noop()} on_leave={Callback::noop()} on_wheel={Callback::noop()}
                    on_click={link.batch_callback(move |(x, y): (u32, u32)| mv.hit(x, y).map(|h| Msg::Map(MapMsg::JumpTo(h.pfn))))}
                    id="minimap" />
                <div class="window" style={format!("top:{top}px;height:{}px", bottom.saturating_sub(top).max(2))}></div>
            </div>
        }
    }
}

fn zoom_label(zoom: i32) -> String {
    if zoom >= 0 {
        format!("{} px/page", 1 << zoom)
    } else {
        format!("{} pages/px", 1 << -zoom)
    }
}

/// Without the benchmark page, nothing to show.
#[cfg(not(feature = "bench"))]
impl App {
    fn bench_result(&self) -> Html {
        Html::default()
    }
}
