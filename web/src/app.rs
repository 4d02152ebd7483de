//! The root component: owns the [`Session`], turns messages into calls on
//! it, and lays out the map, the controls and the panels.

use std::rc::Rc;
use std::time::Duration;

use gloo::events::{EventListener, EventListenerOptions};
use pfnscope_core::{Gfp, PageKind, Scenario};
use pfnscope_view::inspect::{describe, PageInfo};
use pfnscope_view::palette::Theme;
use pfnscope_view::compare::Against;
use pfnscope_view::session::{compare_from_query, scenario_from_query, Build, Session};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::charts::{ChartData, Charts};
use crate::compare::{compare_view, CompareState};
use crate::controls::{import_panel, operation_form, player, scenario_form};
use crate::diagnosis::{contiguity_panel, diagnosis_panel};
use crate::panels::{buddyinfo, help_overlay, legend, pagetypeinfo, tooltip, zone_summary};
use crate::labels::TextLayer;
use crate::pfn_map::PfnMap;

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
}

impl AppProps {
    /// The scenario from the page's URL query, or the default with an error.
    pub fn from_location() -> AppProps {
        let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
        let (scenario, mut url_error) = match scenario_from_query(&query) {
            Ok(s) => (s, None),
            Err(e) => (Scenario::default(), Some(e)),
        };
        let compare = compare_from_query(&query).unwrap_or_else(|e| {
            url_error.get_or_insert(e);
            None
        });
        let (width, height) = map_size_for_window();
        AppProps { scenario, url_error, width, height, compare, animate: !crate::animation::prefers_reduced_motion() }
    }
}

/// The map's size for the window: beside the panels on wide windows,
/// above them (the stylesheet stacks them under 1100 px) on narrow ones,
/// as tall as the window allows below the header.
pub fn map_size_for_window() -> (u32, u32) {
    let window = web_sys::window();
    let px = |v: Option<wasm_bindgen::JsValue>| v.and_then(|v| v.as_f64()).map(|v| v as u32);
    let w = px(window.as_ref().and_then(|w| w.inner_width().ok())).unwrap_or(1280);
    let h = px(window.as_ref().and_then(|w| w.inner_height().ok())).unwrap_or(800);
    let beside = if w > 1100 { 560 } else { 48 };
    let width = w.saturating_sub(beside + crate::labels::RULER_W).clamp(320, 1600);
    let height = h.saturating_sub(240).clamp(360, 1000);
    (width, height)
}

/// Form fields the user edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Machine,
    Workload,
    Seed,
    Steps,
    Gfp,
    Order,
    Kind,
    FreePfn,
    FreeOrder,
    /// Pasted /proc/buddyinfo text.
    Paste,
    /// The chosen operation of the generic form.
    OpName,
    /// One of the generic form's fields.
    OpArg(usize),
    /// The contiguity layer's window size.
    ContigSize,
}

/// The values of the form fields, as typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    pub machine: String,
    pub workload: String,
    pub seed: String,
    pub steps: String,
    pub gfp: String,
    pub order: String,
    pub kind: String,
    pub free_pfn: String,
    pub free_order: String,
    pub op_name: String,
    pub op_args: [String; 3],
    pub paste: String,
    pub contig_size: String,
}

impl Form {
    fn from_scenario(s: &Scenario) -> Form {
        Form {
            machine: s.machine.clone(),
            workload: s.workload.clone().unwrap_or_else(|| "none".into()),
            seed: s.seed.to_string(),
            steps: s.steps.to_string(),
            gfp: Gfp::KERNEL.name.into(),
            order: "0".into(),
            kind: PageKind::SlabUnmovable.label().into(),
            free_pfn: String::new(),
            free_order: "0".into(),
            op_name: "alloc_contig_range".into(),
            op_args: ["0x3400".into(), "0x3600".into(), "0".into()],
            paste: String::new(),
            contig_size: "2M".into(),
        }
    }

    fn set(&mut self, f: Field, v: String) {
        match f {
            Field::Machine => self.machine = v,
            Field::Workload => self.workload = v,
            Field::Seed => self.seed = v,
            Field::Steps => self.steps = v,
            Field::Gfp => self.gfp = v,
            Field::Order => self.order = v,
            Field::Kind => self.kind = v,
            Field::FreePfn => self.free_pfn = v,
            Field::FreeOrder => self.free_order = v,
            Field::OpName => {
                // Sensible defaults for the new operation's fields, keeping a
                // start PFN already typed.
                for (i, spec) in pfnscope_view::session::operation_fields(&v).iter().enumerate() {
                    use pfnscope_view::session::FieldKind as K;
                    let keep = spec.kind == K::Pfn && !self.op_args[i].trim().is_empty() && self.op_args[i].starts_with("0x");
                    if !keep {
                        self.op_args[i] = match spec.kind {
                            K::Pfn => "0x3400".into(),
                            K::End => "+2M".into(),
                            K::Size => "2M".into(),
                            K::Flag | K::CmaArea | K::Device => "0".into(),
                            K::Order => "9".into(),
                            K::Workload => "desktop".into(),
                            K::Count => match spec.label {
                                "round budget" => "10".into(),
                                "steps" => "2000".into(),
                                _ => "1".into(),
                            },
                        };
                    }
                }
                self.op_name = v;
            }
            Field::Paste => self.paste = v,
            Field::ContigSize => self.contig_size = v,
            Field::OpArg(i) => {
                if let Some(slot) = self.op_args.get_mut(i) {
                    *slot = v;
                }
            }
        }
    }

    /// The scenario the form describes, checked.
    fn scenario(&self) -> Result<Scenario, String> {
        let query = format!("machine={}&workload={}&seed={}&steps={}", self.machine, self.workload, self.seed.trim(), self.steps.trim());
        scenario_from_query(&query)
    }
}

/// A message in the notice area.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Info(String),
    Error(String),
}

pub enum Msg {
    /// A file was chosen or dropped: read it.
    ImportFile(web_sys::File),
    /// Bytes to import, with their source's name (after a tick, so the
    /// progress notice shows first).
    ImportBytes(String, Vec<u8>),
    ImportNow,
    /// One chunk of the running import.
    ImportChunk,
    ImportFailed(String),
    /// Import the pasted text.
    ImportPaste,
    BuildChunk,
    LoadScenario,
    LoadBuiltin(&'static str),
    RunOp,
    TogglePlay,
    Speed(u32),
    Tick,
    Field(Field, String),
    Alloc,
    Free,
    StepBy(i64),
    Seek(Option<usize>),
    Jump(bool),
    Zoom(i32, Option<(u32, u32)>),
    Fit,
    Scroll(i64),
    /// Centre the map on a PFN (a minimap click).
    JumpTo(u64),
    Hover(u32, u32),
    Leave,
    ToggleTheme,
    Help(bool),
    Key(KeyboardEvent),
    /// Run the played operation's starting state through 6.12 and a variant.
    CompareOpen(Against),
    CompareStep(i64),
    CompareSeek(usize),
    CompareClose,
    /// Frame a page on the map and outline it (a blocker clicked).
    Focus(u64, u64),
    /// The camera follows the played operation, or stays where the user
    /// put it.
    ToggleFollow,
    /// Compute the contiguity layer for the form's size, in chunks.
    ContiguityStart,
    ContiguityChunk,
    ContiguityClear,
    /// The next frame of a step's animation.
    AnimFrame,
    /// The window changed size: the map follows.
    Resize,
    /// Pick the operation's range on the map: the next two clicks.
    PickRange,
    MapClick(u32, u32),
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
    _keys: Option<EventListener>,
    _resize: Option<EventListener>,
}

impl App {
    fn begin_build(&mut self, ctx: &Context<Self>, scenario: &Scenario) {
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
    fn operate(&mut self, op: impl FnOnce(&mut Session, &Form) -> Result<String, String>) -> bool {
        let Some(s) = &mut self.session else { return false };
        self.playing = None;
        let r = op(s, &self.form);
        self.report(r);
        self.new_trace();
        self.redraw_all();
        true
    }

    /// Moves the trace player: the state changes, so map and minimap redraw.
    fn move_player(&mut self, ctx: &Context<Self>, f: impl FnOnce(&mut Session)) -> bool {
        self.step_player(ctx, f, crate::animation::STEP_MS);
        if let Some(s) = &self.session {
            let (v, px) = s.minimap(MINIMAP_W, MINIMAP_H);
            self.minimap = Some((v, Rc::new(px)));
        }
        true
    }

    /// Moves the player and animates the change when it is one step: a
    /// fade (with migrations travelling) in the same view, or a pan when
    /// the camera moved. Any running animation gives way at once.
    fn step_player(&mut self, ctx: &Context<Self>, f: impl FnOnce(&mut Session), max_ms: f64) {
        use crate::animation::{now, Anim, AnimKind};
        self.anim = None;
        self.anim_timer = None;
        let Some(s) = &mut self.session else { return };
        let before = s.player.as_ref().map(|p| p.cursor);
        let (before_v, before_px) = (s.viewport, s.render());
        f(s);
        let after = s.player.as_ref().map(|p| p.cursor);
        let one_step = match (before, after) {
            (Some(a), Some(b)) => {
                let (a, b) = (a.map_or(-1, |i| i as i64), b.map_or(-1, |i| i as i64));
                (b - a).abs() == 1
            }
            _ => false,
        };
        let dur = max_ms.min(crate::animation::STEP_MS);
        let kind = if !ctx.props().animate || !one_step || dur < 40.0 || s.viewport.zoom != before_v.zoom {
            None
        } else {
            let (a, b) = (before.flatten(), after.flatten());
            let forward = b.map_or(-1, |i| i as i64) > a.map_or(-1, |i| i as i64);
            let crossed = if forward { b } else { a };
            crossed.map(|i| {
                let step = s.player.as_ref().expect("stepped").trace.steps[i].clone();
                let to = s.viewport;
                if to == before_v {
                    AnimKind::Fade(Box::new(pfnscope_view::animate::Transition::new(before_px, s.render(), &to, &step, forward)))
                } else {
                    // The camera moves first over the old state; the step
                    // then plays in the new view.
                    let old_here = s.render_at(a, &to);
                    let fade = pfnscope_view::animate::Transition::new(old_here, s.render(), &to, &step, forward);
                    AnimKind::PanThenFade { from: before_v, to, old: a, fade: Box::new(fade) }
                }
            })
        };
        self.redraw();
        if let Some(kind) = kind {
            self.anim = Some(Anim { kind, start: now(), dur });
            ctx.link().send_message(Msg::AnimFrame);
        }
    }

    /// Draws the animation's frame for now, and asks for the next one.
    fn anim_frame(&mut self, ctx: &Context<Self>) -> bool {
        use crate::animation::{now, pan_view, AnimKind};
        let (Some(a), Some(s)) = (&self.anim, &mut self.session) else { return false };
        let t = a.progress(now());
        if t >= 1.0 {
            self.anim = None;
            self.anim_timer = None;
            self.redraw();
            return true;
        }
        self.pixels = Rc::new(match &a.kind {
            AnimKind::Fade(tr) => tr.frame(t),
            AnimKind::PanThenFade { from, to, old, fade } => {
                let share = crate::animation::PAN_SHARE;
                if t < share {
                    s.render_at(*old, &pan_view(from, to, t / share))
                } else {
                    fade.frame((t - share) / (1.0 - share))
                }
            }
        });
        self.version += 1;
        let link = ctx.link().clone();
        self.anim_timer = Some(gloo::timers::callback::Timeout::new(16, move || link.send_message(Msg::AnimFrame)));
        true
    }

    /// Moves the comparison and redraws both of its maps.
    fn move_compare(&mut self, f: impl FnOnce(&mut pfnscope_view::compare::Comparison)) -> bool {
        let (Some(c), Some(s)) = (&mut self.compare, &self.session) else { return false };
        f(&mut c.cmp);
        c.redraw(&s.palette());
        true
    }

    /// Moves the view only: the minimap keeps its pixels.
    fn move_view(&mut self, f: impl FnOnce(&mut Session)) -> bool {
        let Some(s) = &mut self.session else { return false };
        f(s);
        self.redraw();
        true
    }

    /// Recomputes the map's pixels after the state or view changed.
    fn redraw(&mut self) {
        if let Some(s) = &self.session {
            self.pixels = Rc::new(s.render());
            self.labels = Rc::new(pfnscope_view::labels::labels(&s.machine, &s.viewport));
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

    fn report(&mut self, r: Result<String, String>) {
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
        if in_field || e.ctrl_key() || e.meta_key() || e.alt_key() {
            return false;
        }
        if self.compare.is_some() {
            let msg = match e.key().as_str() {
                "ArrowRight" | "l" => Msg::CompareStep(1),
                "ArrowLeft" | "h" => Msg::CompareStep(-1),
                "Home" => Msg::CompareSeek(0),
                "End" => Msg::CompareSeek(usize::MAX),
                "Escape" => Msg::CompareClose,
                "t" => Msg::ToggleTheme,
                "?" => Msg::Help(!self.help),
                _ => return false,
            };
            e.prevent_default();
            ctx.link().send_message(msg);
            return false;
        }
        let msg = match e.key().as_str() {
            " " => Msg::TogglePlay,
            "ArrowRight" if e.shift_key() => Msg::Jump(true),
            "ArrowLeft" if e.shift_key() => Msg::Jump(false),
            "ArrowRight" | "l" => Msg::StepBy(1),
            "ArrowLeft" | "h" => Msg::StepBy(-1),
            "Home" => Msg::Seek(None),
            "End" => Msg::StepBy(i64::MAX / 2),
            "+" | "=" => Msg::Zoom(1, None),
            "-" | "_" => Msg::Zoom(-1, None),
            "0" => Msg::Fit,
            "PageDown" | "j" | "ArrowDown" => Msg::Scroll(8),
            "PageUp" | "k" | "ArrowUp" => Msg::Scroll(-8),
            "t" => Msg::ToggleTheme,
            "f" => Msg::ToggleFollow,
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
            contiguity_job: None,
            anim: None,
            anim_timer: None,
            picking: None,
            _keys: None,
            _resize: None,
        };
        app.begin_build(ctx, &props.scenario);
        app
    }

    fn rendered(&mut self, ctx: &Context<Self>, first_render: bool) {
        if first_render {
            if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
                let link = ctx.link().clone();
                let opts = EventListenerOptions::enable_prevent_default();
                self._keys = Some(EventListener::new_with_options(&doc, "keydown", opts, move |e| {
                    if let Some(e) = e.dyn_ref::<KeyboardEvent>() {
                        link.send_message(Msg::Key(e.clone()));
                    }
                }));
            }
            if let Some(window) = web_sys::window() {
                let link = ctx.link().clone();
                self._resize = Some(EventListener::new(&window, "resize", move |_| link.send_message(Msg::Resize)));
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
                    if !matches!(self.notice, Some(Notice::Error(_))) {
                        self.notice = Some(Notice::Info(format!("loaded: {title}")));
                    }
                    self.new_trace();
                    self.redraw_all();
                    self.compare = None;
                    if let Some(against) = self.compare_on_load.take() {
                        ctx.link().send_message(Msg::CompareOpen(against));
                    }
                } else {
                    ctx.link().send_future(async {
                        yew::platform::time::sleep(Duration::from_millis(0)).await;
                        Msg::BuildChunk
                    });
                }
                true
            }
            Msg::ImportFile(file) => {
                let name = file.name();
                let link = ctx.link().clone();
                let n = name.clone();
                self.notice = Some(Notice::Info(format!("reading {name}…")));
                self.reader = Some(gloo::file::callbacks::read_as_bytes(&gloo::file::File::from(file), move |r| match r {
                    Ok(bytes) => link.send_message(Msg::ImportBytes(n, bytes)),
                    Err(e) => link.send_message(Msg::ImportFailed(format!("{n}: {e}"))),
                }));
                true
            }
            Msg::ImportBytes(name, bytes) => {
                self.reader = None;
                self.playing = None;
                self.notice = Some(Notice::Info(format!("importing {name} ({} KB)…", bytes.len() / 1024)));
                self.pending_import = Some((name, bytes));
                ctx.link().send_future(async {
                    yew::platform::time::sleep(Duration::from_millis(30)).await;
                    Msg::ImportNow
                });
                true
            }
            Msg::ImportNow => {
                let Some((name, bytes)) = self.pending_import.take() else { return false };
                match pfnscope_view::session::import_job(&name, &bytes) {
                    Ok(job) => {
                        self.import_job = Some((name, job));
                        ctx.link().send_message(Msg::ImportChunk);
                    }
                    Err(e) => self.notice = Some(Notice::Error(e)),
                }
                true
            }
            Msg::ImportChunk => {
                let Some((name, job)) = &mut self.import_job else { return false };
                // About a million PFNs per tick keeps the page responsive.
                match job.advance(1 << 20) {
                    Ok(None) => {
                        ctx.link().send_future(async {
                            yew::platform::time::sleep(Duration::from_millis(0)).await;
                            Msg::ImportChunk
                        });
                    }
                    Ok(Some(done)) => {
                        let name = name.clone();
                        self.import_job = None;
                        match pfnscope_view::session::check_import(&name, done) {
                            Ok(imported) => {
                                let notes = imported.notes.join("; ");
                                match &mut self.session {
                                    Some(s) => s.replace_with_import(imported, &name),
                                    None => self.session = Some(Session::from_import(imported, &name, ctx.props().width, ctx.props().height)),
                                }
                                self.notice = Some(Notice::Info(format!("imported {name}. {notes}")));
                                self.series = Rc::new(Vec::new());
                                self.redraw_all();
                            }
                            Err(e) => self.notice = Some(Notice::Error(e)),
                        }
                    }
                    Err(e) => {
                        self.import_job = None;
                        self.notice = Some(Notice::Error(e.to_string()));
                    }
                }
                true
            }
            Msg::ImportPaste => {
                let bytes = self.form.paste.clone().into_bytes();
                ctx.link().send_message(Msg::ImportBytes("pasted buddyinfo".into(), bytes));
                false
            }
            Msg::ImportFailed(e) => {
                self.reader = None;
                self.notice = Some(Notice::Error(e));
                true
            }
            Msg::LoadBuiltin(name) => {
                let Some(s) = Scenario::builtin(name) else { return false };
                self.playing = None;
                self.form = Form { ..Form::from_scenario(&s) };
                self.notice = None;
                self.begin_build(ctx, &s);
                true
            }
            Msg::RunOp => self.operate(|s, f| {
                let page = s.machine.geometry().page_size();
                pfnscope_view::session::op_from_form(&f.op_name, &f.op_args, page).and_then(|op| s.run_op(&op))
            }),
            Msg::Resize => {
                let (w, h) = map_size_for_window();
                self.move_view(|s| {
                    s.viewport = s.viewport.resize(w, h);
                    s.follow_step();
                })
            }
            Msg::PickRange => {
                self.picking = if self.picking.is_some() { None } else { Some(0) };
                true
            }
            Msg::MapClick(x, y) => {
                let (Some(p), Some(s)) = (self.picking, &self.session) else { return false };
                let Some(hit) = s.viewport.hit(x, y) else { return false };
                if p == 0 {
                    self.form.op_args[0] = format!("{:#x}", hit.pfn);
                    self.picking = Some(1);
                } else {
                    let start = pfnscope_view::session::parse_pfn(&self.form.op_args[0]).unwrap_or(hit.pfn);
                    let (a, b) = (start.min(hit.pfn), start.max(hit.pfn) + hit.count);
                    self.form.op_args[0] = format!("{a:#x}");
                    self.form.op_args[1] = format!("{b:#x}");
                    self.picking = None;
                    self.notice = Some(Notice::Info(format!("picked {a:#x}-{b:#x} ({} pages)", b - a)));
                }
                true
            }
            Msg::TogglePlay => {
                if self.playing.take().is_some() {
                    self.redraw_all();
                    return true;
                }
                let Some(s) = &mut self.session else { return false };
                let Some(p) = &s.player else { return false };
                if p.cursor == p.len().checked_sub(1) {
                    s.seek(None);
                    self.redraw();
                }
                let link = ctx.link().clone();
                let ms = 1000 / self.speed.max(1);
                self.playing = Some(gloo::timers::callback::Interval::new(ms, move || link.send_message(Msg::Tick)));
                true
            }
            Msg::Speed(v) => {
                self.speed = v.clamp(1, 1000);
                if self.playing.is_some() {
                    self.playing = None;
                    ctx.link().send_message(Msg::TogglePlay);
                }
                true
            }
            Msg::Tick => {
                let Some(s) = &mut self.session else { return false };
                let at_end = s.player.as_ref().is_none_or(|p| p.cursor == p.len().checked_sub(1));
                if at_end {
                    self.playing = None;
                    // The minimap catches up once playback stops.
                    self.redraw_all();
                } else {
                    // Playback ticks redraw only the map: rendering the whole
                    // machine for the minimap on every step is too much work
                    // for large machines. Animations fit inside a tick.
                    let tick_ms = 1000.0 / self.speed.max(1) as f64;
                    self.step_player(ctx, |s| s.step_by(1), tick_ms * 0.8);
                }
                true
            }
            Msg::LoadScenario => match self.form.scenario() {
                Ok(s) => {
                    self.notice = None;
                    self.begin_build(ctx, &s);
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
            Msg::Alloc => self.operate(|s, f| s.alloc_pages(&f.gfp, &f.order, &f.kind)),
            Msg::Free => self.operate(|s, f| s.free_pages(&f.free_pfn, &f.free_order)),
            Msg::StepBy(d) => self.move_player(ctx, |s| s.step_by(d)),
            Msg::Seek(c) => self.move_player(ctx, |s| s.seek(c)),
            Msg::Jump(fwd) => self.move_player(ctx, |s| s.jump_to_event(fwd)),
            Msg::AnimFrame => self.anim_frame(ctx),
            Msg::Zoom(dz, at) => {
                self.hover = None;
                self.move_view(|s| {
                    let (x, y) = at.unwrap_or((s.viewport.width / 2, s.viewport.height / 2));
                    s.follow = false;
                    s.viewport = s.viewport.zoom_at(x, y, dz);
                })
            }
            Msg::Fit => self.move_view(|s| {
                s.follow = false;
                s.viewport = pfnscope_view::viewport::Viewport::fit(s.machine.pfn_span(), s.viewport.width, s.viewport.height);
            }),
            Msg::JumpTo(pfn) => self.move_view(|s| {
                s.follow = false;
                s.jump_to(pfn);
            }),
            Msg::Scroll(rows) => self.move_view(|s| {
                s.follow = false;
                s.viewport = s.viewport.scroll(rows);
            }),
            Msg::Hover(x, y) => {
                let Some(s) = &self.session else { return false };
                self.hover = s.viewport.hit(x, y).and_then(|h| {
                    describe(&s.machine, h.pfn).map(|info| Hover { x, y, info, in_strip: h.in_strip, count: h.count })
                });
                true
            }
            Msg::Leave => {
                self.hover = None;
                true
            }
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
            Msg::CompareOpen(against) => {
                let Some(s) = &mut self.session else { return false };
                self.playing = None;
                // Two maps across the page, below the header.
                let window_w = web_sys::window().and_then(|w| w.inner_width().ok()).and_then(|v| v.as_f64()).map_or(960, |w| w as u32);
                let w = (window_w.saturating_sub(80) / 2).clamp(200, 900);
                match CompareState::open(s, against, w, 280) {
                    Ok(st) => {
                        self.compare = Some(st);
                        self.notice = None;
                    }
                    Err(e) => self.notice = Some(Notice::Error(e)),
                }
                true
            }
            Msg::Focus(pfn, pages) => self.move_view(|s| {
                s.follow = false;
                s.focus_on(pfn, pages);
            }),
            Msg::ToggleFollow => self.move_view(|s| {
                s.follow = !s.follow;
                s.follow_step();
            }),
            Msg::ContiguityStart => {
                let Some(s) = &self.session else { return false };
                let page = s.machine.geometry().page_size();
                match pfnscope_view::session::parse_size(&self.form.contig_size, page) {
                    Ok(pages) => {
                        let label = pfnscope_view::contiguity::size_label(pages, page);
                        self.contiguity_job = Some((label, pfnscope_core::ContiguityJob::new(&s.machine, pages)));
                        self.notice = None;
                        ctx.link().send_message(Msg::ContiguityChunk);
                    }
                    Err(e) => self.notice = Some(Notice::Error(format!("window size: {e}"))),
                }
                true
            }
            Msg::ContiguityChunk => {
                let (Some(s), Some((_, job))) = (&mut self.session, &mut self.contiguity_job) else { return false };
                // About 20 ms of work a chunk on a large machine.
                if job.advance(&s.machine, 2048) {
                    let (label, job) = self.contiguity_job.take().expect("checked");
                    let layer = pfnscope_view::contiguity::Layer::new(label, job.finish());
                    s.layer = Some(layer);
                    self.redraw_all();
                } else {
                    ctx.link().send_future(async {
                        yew::platform::time::sleep(Duration::from_millis(0)).await;
                        Msg::ContiguityChunk
                    });
                }
                true
            }
            Msg::ContiguityClear => {
                self.contiguity_job = None;
                let Some(s) = &mut self.session else { return false };
                s.layer = None;
                self.redraw_all();
                true
            }
            Msg::CompareStep(d) => self.move_compare(|c| c.step_by(d)),
            Msg::CompareSeek(t) => self.move_compare(|c| c.seek(t)),
            Msg::CompareClose => {
                self.compare = None;
                true
            }
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
        let ready = self.session.is_some() && self.build.is_none() && self.import_job.is_none() && self.pending_import.is_none();
        html! {
            <div class={theme_class} data-ready={ready.to_string()}>
                <header>
                    <h1>{ "pfnscope" }</h1>
                    <span class="tagline">{ "watch the Linux 6.12 page allocator work" }</span>
                    <span class="spacer"></span>
                    <button onclick={link.callback(|_| Msg::ToggleTheme)} title="Light or dark theme (t)">{ "theme" }</button>
                    <button onclick={link.callback(|_| Msg::Help(true))} title="Keyboard shortcuts (?)">{ "?" }</button>
                </header>
                { scenario_form(&self.form, link) }
                { for building }
                { for importing }
                { for notice }
                if let Some(c) = &self.compare {
                    { compare_view(c, link) }
                } else {
                <main>
                    <section class="map-pane">
                        if let Some(s) = &self.session {
                            <div class="map-toolbar">
                                <span class="title">{ &s.scenario.title }</span>
                                <span class="spacer"></span>
                                <button onclick={link.callback(|_| Msg::Zoom(-1, None))} title="Zoom out (-)">{ "−" }</button>
                                <span class="zoom">{ zoom_label(s.viewport.zoom) }</span>
                                <button onclick={link.callback(|_| Msg::Zoom(1, None))} title="Zoom in (+)">{ "+" }</button>
                                <button onclick={link.callback(|_| Msg::Fit)} title="Whole machine (0)">{ "fit" }</button>
                                <button id="follow" class={if s.follow { "toggle on" } else { "toggle" }} aria-pressed={s.follow.to_string()}
                                    title="The camera follows the operation step by step; your own zoom or scroll turns it off (f)"
                                    onclick={link.callback(|_| Msg::ToggleFollow)}>{ if s.follow { "following" } else { "follow" } }</button>
                            </div>
                            <div class="map-row">
                            <div class="map-wrap"
                                ondragover={Callback::from(|e: DragEvent| e.prevent_default())}
                                ondrop={link.batch_callback(|e: DragEvent| {
                                    e.prevent_default();
                                    e.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)).map(Msg::ImportFile)
                                })}>
                                <PfnMap
                                    id="pfn-map"
                                    on_click={link.callback(|(x, y)| Msg::MapClick(x, y))}
                                    width={s.viewport.width}
                                    height={s.viewport.height}
                                    pixels={self.pixels.clone()}
                                    version={self.version}
                                    on_hover={link.callback(|(x, y)| Msg::Hover(x, y))}
                                    on_leave={link.callback(|_| Msg::Leave)}
                                    on_wheel={link.callback(|(x, y, dy, zoom): (u32, u32, f64, bool)| {
                                        if zoom {
                                            Msg::Zoom(if dy < 0.0 { 1 } else { -1 }, Some((x, y)))
                                        } else {
                                            Msg::Scroll(if dy < 0.0 { -3 } else { 3 })
                                        }
                                    })}
                                />
                                <TextLayer width={s.viewport.width} height={s.viewport.height} labels={self.labels.clone()} version={self.version} dark={s.theme == Theme::Dark} />
                                if let Some(h) = &self.hover {
                                    { tooltip(&h.info, h.x + crate::labels::RULER_W, h.y, h.in_strip, h.count) }
                                }
                            </div>
                            </div>
                            <div class="under-map">
                                { legend(&s.palette(), s.machine.geometry().max_order) }
                                if let Some((mv, mpx)) = &self.minimap {
                                    { self.minimap_view(s, mv, mpx.clone(), link) }
                                }
                            </div>
                            <Charts data={self.chart_data(s)} />
                        } else {
                            <div class="placeholder">{ "booting the machine…" }</div>
                        }
                    </section>
                    <aside>
                        if let Some(s) = &self.session {
                            { player(s, link, self.playing.is_some(), self.speed) }
                            { diagnosis_panel(s, link) }
                            { operation_form(&self.form, s, self.picking, link) }
                            { contiguity_panel(s, &self.form, self.contiguity_job.as_ref().map(|(_, j)| j), link) }
                            { buddyinfo(s) }
                            { pagetypeinfo(s) }
                            { zone_summary(s) }
                            { import_panel(&self.form, link) }
                        }
                    </aside>
                </main>
                }
                if self.help {
                    { help_overlay(link) }
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
                    on_click={link.batch_callback(move |(x, y): (u32, u32)| mv.hit(x, y).map(|h| Msg::JumpTo(h.pfn)))}
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
