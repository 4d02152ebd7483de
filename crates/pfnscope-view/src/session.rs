//! One user's session: the machine, the view onto it, and the trace being
//! played. Front ends turn events into calls here and draw what it says.
//!
//! Every method that takes user input validates it and returns a message
//! on error without changing state.

use pfnscope_core::{Attempt, Gfp, Machine, Op, PageKind, PfnRange, Scenario, Trace, Verdict, Workload};

use crate::compare::Against;
use crate::contiguity::Layer;
use crate::palette::{Palette, Theme};
use crate::raster::{self, Overlay};
use crate::viewport::Viewport;

/// Workload steps run per chunk while building, so a UI can show progress
/// and stay responsive between chunks.
pub const BUILD_CHUNK: u64 = 2_000;

/// Steps of lived-in aging per chunk (each costs less than a stepped one).
pub const AGE_CHUNK: u64 = 16_384;

/// A scenario still being built.
#[derive(Clone, Debug)]
pub struct Build {
    pub scenario: Scenario,
    machine: Machine,
    workload: Option<Workload>,
    pub done: u64,
    /// Lived-in aging's own estimate, when the scenario ages that way.
    aging: Option<f64>,
}

impl Build {
    /// Runs one chunk; returns true when finished (the workload done and
    /// the scenario's setup run), or the setup's error.
    pub fn advance(&mut self) -> Result<bool, String> {
        let finished = match &mut self.workload {
            None => true,
            Some(w) if self.scenario.steps == 0 => {
                let p = w.age(&mut self.machine, AGE_CHUNK);
                self.aging = Some(p.fraction);
                p.finished
            }
            Some(w) => {
                let todo = self.scenario.steps.saturating_sub(self.done).min(BUILD_CHUNK);
                w.run(&mut self.machine, todo, |_| {});
                self.done += todo;
                self.done >= self.scenario.steps
            }
        };
        if finished {
            self.scenario.run_setup(&mut self.machine).map_err(|e| e.to_string())?;
        }
        Ok(finished)
    }
    /// The machine built (once [`Build::advance`] said it is finished).
    pub fn into_machine(self) -> Machine {
        self.machine
    }

    /// Progress from 0.0 to 1.0.
    pub fn progress(&self) -> f64 {
        match self.aging {
            Some(f) => f,
            None if self.scenario.steps == 0 => 1.0,
            None => self.done as f64 / self.scenario.steps as f64,
        }
    }
}

/// The played trace and where the player stands in it.
#[derive(Clone, Debug)]
pub struct Player {
    pub trace: Trace,
    /// The operation traced, when it was run as one.
    pub op: Option<Op>,
    /// The step whose effect is shown (`None` = before the first step).
    pub cursor: Option<usize>,
}

impl Player {
    pub fn len(&self) -> usize {
        self.trace.steps.len()
    }
    pub fn is_empty(&self) -> bool {
        self.trace.steps.is_empty()
    }
}

/// What the map showed, kept so the next picture redraws only what
/// changed since.
#[derive(Clone, Debug)]
pub struct Frame {
    pub pixels: Vec<u8>,
    viewport: Viewport,
    overlay: Overlay,
    theme: Theme,
    position: usize,
}

/// A session.
#[derive(Clone, Debug)]
pub struct Session {
    pub scenario: Scenario,
    pub machine: Machine,
    pub viewport: Viewport,
    pub theme: Theme,
    pub player: Option<Player>,
    /// The last error, shown until the next successful action.
    pub error: Option<String>,
    /// What each operation run in this session cost, oldest first.
    pub history: Vec<crate::charts::OpCost>,
    /// The played operation's attempts that needed migration or failed,
    /// each diagnosed on the state it met.
    pub attempts: Vec<Attempt>,
    /// The contiguity layer over the map, when computed for this state.
    pub layer: Option<Layer>,
    /// A range the user asked to see (a blocker clicked), outlined.
    pub focus: Option<PfnRange>,
    /// The camera follows the played operation; the user's own zoom and
    /// pan turn it off until they turn it on again.
    pub follow: bool,
    /// Where the machine has no memory (found once; it never changes).
    holes: Vec<PfnRange>,
    /// The height the map may take; the view is shorter only when the
    /// whole machine fits in less.
    room_h: u32,
    /// The scenario's lesson on the played trace, until another operation
    /// is run.
    pub lesson: Option<crate::lesson::Lesson>,
}

impl Session {
    /// Starts building a scenario (boots the machine; the workload runs in
    /// chunks through [`Build::advance`]).
    pub fn start_build(scenario: &Scenario) -> Result<Build, String> {
        let (machine, workload) = scenario.prepare().map_err(|e| e.to_string())?;
        Ok(Build { scenario: scenario.clone(), machine, workload, done: 0, aging: None })
    }

    /// A session over a finished build. A scenario's play operation is
    /// recorded and the player put before its first step, ready to play.
    pub fn from_build(build: Build, width: u32, height: u32) -> Session {
        let viewport = Viewport::fit(build.machine.pfn_span(), width, height);
        let mut machine = build.machine;
        machine.set_journaling(false);
        let mut s = Session { scenario: build.scenario, machine, viewport, theme: Theme::Light, player: None, error: None, history: Vec::new(), attempts: Vec::new(), layer: None, focus: None, follow: true, holes: Vec::new(), room_h: height, lesson: None };
        s.holes = crate::labels::hole_runs(&s.machine);
        s.set_view(viewport);
        if let Some(op) = s.scenario.play.clone() {
            let _ = s.run_op(&op);
            s.seek(None);
            s.frame_story();
            let trace = &s.player.as_ref().expect("just played").trace;
            // A checkpoint missing from this trace (a URL changed the
            // scenario's machine or policy) drops the lesson, not the scenario.
            s.lesson = crate::lesson::Lesson::new(&s.scenario.lesson, trace).unwrap_or(None);
            if let Some(f) = s.lesson.as_ref().and_then(|l| l.checkpoints[0].frame) {
                s.frame_range(f);
            }
        }
        s
    }

    /// Builds a scenario in one go.
    pub fn new(scenario: &Scenario, width: u32, height: u32) -> Result<Session, String> {
        let mut b = Session::start_build(scenario)?;
        while !b.advance()? {}
        Ok(Session::from_build(b, width, height))
    }

    /// Runs any operation, traced; the player moves to its last step.
    pub fn run_op(&mut self, op: &Op) -> Result<String, String> {
        self.lesson = None;
        let played = op.clone();
        let r = self.record(played.title(), move |m| {
            let r = played.run(m);
            m.take_migrations();
            r
        });
        if let Some(p) = &mut self.player {
            p.op = Some(op.clone());
        }
        self.follow_step();
        r
    }

    /// The machine as it was before the played operation, and that
    /// operation: the starting state of a comparison. The player stays
    /// where it was.
    pub fn before_play(&mut self) -> Option<(Machine, Op)> {
        let (op, cursor) = self.player.as_ref().and_then(|p| p.op.clone().map(|op| (op, p.cursor)))?;
        self.seek_quietly(None);
        let mut base = self.machine.clone();
        self.seek_quietly(cursor);
        base.forget_journal();
        Some((base, op))
    }

    /// A session over an imported machine, titled after its source.
    pub fn from_import(imported: pfnscope_import::Imported, source: &str, width: u32, height: u32) -> Session {
        let mut machine = imported.machine;
        machine.set_journaling(false);
        let viewport = Viewport::fit(machine.pfn_span(), width, height);
        let title = format!("imported: {source}{}", if imported.synthesized { " (layout synthesized from the counts)" } else { "" });
        // The scenario only names the session; an import has no recipe.
        let scenario = Scenario::blank(&title, "imported");
        let holes = crate::labels::hole_runs(&machine);
        let mut s = Session { scenario, machine, viewport, theme: Theme::Light, player: None, error: None, history: Vec::new(), attempts: Vec::new(), layer: None, focus: None, follow: true, holes, room_h: height, lesson: None };
        s.set_view(viewport);
        s
    }

    /// Replaces this session's machine with an import, keeping the theme
    /// and canvas size.
    /// Gives the machine shown the seeds' policies: memory regions (with
    /// the 2013 region allocator or counted only) and a free page
    /// reporting device. A scenario is rebuilt with them instead; this is
    /// for an imported machine, which has no scenario to rebuild. Each can
    /// be given once.
    pub fn apply_policies(&mut self, allocator: pfnscope_core::AllocatorPolicy, region_pages: Option<u64>, reporting: pfnscope_core::ReportingPolicy, order: Option<u8>) -> Result<String, String> {
        let mut done = Vec::new();
        if self.machine.region_spec().is_none() {
            self.machine.regions_register(allocator, region_pages).map_err(|e| e.to_string())?;
            done.push(allocator.label());
        }
        if reporting != pfnscope_core::ReportingPolicy::Off && self.machine.reporting_status().is_none() {
            self.machine.page_reporting_register(reporting, order).map_err(|e| e.to_string())?;
            done.push(reporting.label());
        }
        if done.is_empty() {
            return Err("this machine has its policies already; import it again to choose others".into());
        }
        self.scenario.allocator = allocator;
        self.scenario.reporting = reporting;
        Ok(format!("this machine now runs {}", done.join(" and ")))
    }

    pub fn replace_with_import(&mut self, imported: pfnscope_import::Imported, source: &str) {
        let theme = self.theme;
        *self = Session::from_import(imported, source, self.viewport.width, self.room_h);
        self.theme = theme;
    }

    /// Replaces the machine with a finished build, keeping view settings.
    pub fn replace(&mut self, build: Build) {
        let theme = self.theme;
        let (w, h) = (self.viewport.width, self.room_h);
        *self = Session::from_build(build, w, h);
        self.theme = theme;
    }

    pub fn palette(&self) -> Palette {
        Palette::new(self.theme)
    }

    /// Shows `v`, as tall as the room allows, or only as tall as the
    /// machine when all of it fits in less (no empty band below the map).
    pub fn set_view(&mut self, v: Viewport) {
        let full = v.resize(v.width, self.room_h);
        let content = full.total_rows() as u32 * full.row_h();
        self.viewport = if full.total_rows() <= full.visible_rows() { Viewport { top_row: 0, ..full.resize(full.width, content.max(full.row_h())) } } else { full };
    }

    /// The current view at the full height of the room, to compute a new
    /// one from.
    pub fn room_view(&self) -> Viewport {
        self.viewport.resize(self.viewport.width, self.room_h)
    }

    /// The map's room changed (the window was resized).
    pub fn resize(&mut self, width: u32, height: u32) {
        self.room_h = height.max(1);
        let v = self.viewport.resize(width, height);
        self.set_view(v);
    }

    /// The whole machine.
    pub fn fit(&mut self) {
        let v = Viewport::fit(self.machine.pfn_span(), self.viewport.width, self.room_h);
        self.set_view(v);
    }

    /// The words for the map as shown.
    pub fn labels(&self) -> crate::labels::Labels {
        crate::labels::labels(&self.machine, &self.viewport, &self.holes)
    }

    /// The map's pixels.
    pub fn render(&self) -> Vec<u8> {
        self.render_with(&self.viewport)
    }

    /// The map as a [`Frame`], drawn whole.
    pub fn frame(&self) -> Frame {
        Frame { pixels: self.render(), viewport: self.viewport, overlay: self.overlay(), theme: self.theme, position: self.machine.store().position() }
    }

    /// The map after `prev`, redrawing only the cells whose pages changed
    /// since (the journal says which) or that either overlay marks; a new
    /// view, theme or layer redraws it whole. Equal to [`Session::frame`].
    pub fn next_frame(&self, mut prev: Frame) -> Frame {
        let overlay = self.overlay();
        let position = self.machine.store().position();
        if prev.viewport != self.viewport || prev.theme != self.theme || prev.overlay.tints != overlay.tints {
            return self.frame();
        }
        let mut dirty = self.machine.touched_pfns(prev.position, position);
        for o in [&prev.overlay, &overlay] {
            dirty.extend(o.highlight.iter().chain(&o.targets).copied().chain(o.outlines.iter().map(|x| x.0)));
        }
        raster::render_dirty(&mut prev.pixels, &self.machine, &self.viewport, &self.palette(), &overlay, &dirty);
        Frame { pixels: prev.pixels, viewport: self.viewport, overlay, theme: self.theme, position }
    }

    /// The map's pixels in another view of the same size (a camera pan).
    pub fn render_with(&self, v: &Viewport) -> Vec<u8> {
        raster::render(&self.machine, v, &self.palette(), &self.overlay())
    }

    /// The map's pixels at another step of the trace, in view `v`; the
    /// player comes back to where it was.
    pub fn render_at(&mut self, cursor: Option<usize>, v: &Viewport) -> Vec<u8> {
        let here = self.player.as_ref().and_then(|p| p.cursor);
        self.seek_quietly(cursor);
        let px = self.render_with(v);
        self.seek_quietly(here);
        px
    }

    /// The whole machine small, for a minimap: its viewport and pixels.
    pub fn minimap(&self, width: u32, height: u32) -> (Viewport, Vec<u8>) {
        let v = Viewport::fit(self.machine.pfn_span(), width, height);
        let px = raster::render(&self.machine, &v, &self.palette(), &Overlay::default());
        (v, px)
    }

    /// Where the main view's visible PFNs lie on a minimap: (top, bottom)
    /// pixel rows.
    pub fn minimap_window(&self, mini: &Viewport) -> (u32, u32) {
        let vis = self.viewport.visible_pfns();
        let row = |pfn: u64| ((pfn.saturating_sub(mini.span.start)) / mini.cols()) as u32 * mini.row_h();
        (row(vis.start), (row(vis.end.max(vis.start + 1) - 1) + mini.row_h()).min(mini.height))
    }

    /// Centres the main view on a PFN.
    pub fn jump_to(&mut self, pfn: u64) {
        let v = self.room_view();
        let row = pfn.saturating_sub(v.span.start) / v.cols();
        self.set_view(v.scroll(row as i64 - v.top_row as i64 - (v.visible_rows() / 2) as i64));
    }

    /// The current step's PFNs (and a focused blocker), highlighted,
    /// where it moved pages to, and the contiguity layer.
    pub fn overlay(&self) -> Overlay {
        let step = self.player.as_ref().and_then(|p| p.cursor.map(|i| &p.trace.steps[i]));
        let palette = self.palette();
        let mut outlines: Vec<(PfnRange, crate::palette::Rgba)> = self.op_range().map(|r| (r, palette.highlight)).into_iter().collect();
        // The page a failure names, and a blocker the user picked, stand out.
        let failed_page = step.filter(|s| s.kind == pfnscope_core::StepKind::Failure).and_then(|s| s.range).filter(|r| r.len() <= 1024);
        outlines.extend(failed_page.into_iter().chain(self.focus).map(|r| (r, crate::contiguity::BLOCKED)));
        Overlay {
            highlight: step.and_then(|s| s.range).into_iter().collect(),
            targets: step.and_then(|s| s.target).into_iter().collect(),
            tints: self.layer.as_ref().map(|l| l.tints.clone()).unwrap_or_default(),
            outlines,
        }
    }

    /// The range the played operation works on, for the operations that
    /// work on one: the range asked for, the CMA area, the virtio-mem
    /// device, the range offlined.
    pub fn op_range(&self) -> Option<PfnRange> {
        let p = self.player.as_ref()?;
        match p.op.as_ref()? {
            Op::AllocContigRange { start, end, .. } | Op::AllocContigRangeV4 { start, end } => Some(PfnRange::new(*start, *end)),
            Op::OfflinePages { start, nr, .. } | Op::OnlinePages { start, nr } => Some(PfnRange::new(*start, start + nr)),
            Op::CmaAlloc { .. } | Op::VirtioMemUnplug { .. } | Op::VirtioMemPlug { .. } => p.trace.steps.first().and_then(|s| s.range),
            _ => None,
        }
    }

    /// The camera: frames the played operation's range with context, and
    /// its migration targets too when they lie near enough to share the
    /// view. Does nothing for operations without a range.
    pub fn frame_story(&mut self) {
        let Some(r) = self.op_range() else { return };
        let targets = self.player.as_ref().map(|p| p.trace.steps.iter().filter_map(|s| s.target).collect::<Vec<_>>()).unwrap_or_default();
        let union = targets.iter().fold(r, |u, t| PfnRange::new(u.start.min(t.start), u.end.max(t.end)));
        self.frame_range(if union.len() <= r.len() * 8 { union } else { r });
    }

    /// The camera after a step: when the step's pages (or where it moved
    /// them) are off screen, scroll to them, zooming out only if they do
    /// not fit; a failure naming one page frames that page closely.
    pub fn follow_step(&mut self) {
        if !self.follow {
            return;
        }
        let Some((range, target, kind)) = self.player.as_ref().and_then(|p| p.cursor.map(|i| &p.trace.steps[i])).map(|s| (s.range, s.target, s.kind)) else {
            self.frame_story();
            return;
        };
        let Some(r) = range else { return };
        let v = self.room_view();
        let span = self.machine.pfn_span();
        if kind == pfnscope_core::StepKind::Failure && r.len() <= 64 {
            let context = PfnRange::new(r.start.saturating_sub(96), r.end + 96);
            self.set_view(Viewport::frame(span, v.width, v.height, context));
            return;
        }
        let shown = v.visible_pfns();
        let visible = |x: PfnRange| x.start >= shown.start && x.end <= shown.end;
        if visible(r) && target.is_none_or(visible) {
            return;
        }
        let want = target.map_or(r, |t| PfnRange::new(r.start.min(t.start), r.end.max(t.end)));
        let want = if want.len() <= r.len() * 64 { want } else { r };
        let rows = |x: PfnRange| (x.end - 1 - span.start) / v.cols() - (x.start - span.start) / v.cols() + 1;
        if rows(want) <= v.visible_rows() {
            let first = (want.start - span.start) / v.cols();
            let spare = v.visible_rows() - rows(want);
            self.set_view(Viewport { top_row: first.saturating_sub(spare / 2), ..v }.scroll(0));
        } else {
            self.set_view(Viewport::frame(span, v.width, v.height, want));
        }
    }

    /// Moves to the lesson's next checkpoint, framing what it talks about.
    pub fn next_checkpoint(&mut self) {
        let cursor = self.player.as_ref().and_then(|p| p.cursor);
        if let Some(at) = self.lesson.as_ref().and_then(|l| l.next(cursor)) {
            self.goto_checkpoint(at);
        }
    }

    /// Moves to the lesson's previous checkpoint.
    pub fn previous_checkpoint(&mut self) {
        let cursor = self.player.as_ref().and_then(|p| p.cursor);
        if let Some(at) = self.lesson.as_ref().and_then(|l| l.previous(cursor)) {
            self.goto_checkpoint(at);
        }
    }

    fn goto_checkpoint(&mut self, at: Option<usize>) {
        self.follow = true;
        self.seek(at);
        let frame = self.lesson.as_ref().and_then(|l| l.current(at).and_then(|i| l.checkpoints[i].frame));
        if let Some(f) = frame {
            self.frame_range(f);
        }
    }

    /// Frames a range on the map, zoomed to fit it in the room there is.
    pub fn frame_range(&mut self, r: PfnRange) {
        let v = Viewport::frame(self.machine.pfn_span(), self.viewport.width, self.room_h, r);
        self.set_view(v);
    }

    /// Frames a page (a blocker clicked in the diagnosis) on the map with
    /// some context, and outlines it.
    pub fn focus_on(&mut self, pfn: u64, pages: u64) {
        let r = PfnRange::new(pfn, pfn + pages.max(1));
        self.frame_range(PfnRange::new(pfn.saturating_sub(64), pfn + pages.max(64) + 64));
        self.focus = Some(r);
    }

    fn record(&mut self, title: String, op: impl FnOnce(&mut Machine) -> Result<String, String>) -> Result<String, String> {
        // Recording truncates any undone part of the journal: the new
        // operation starts from the state on screen.
        let before = crate::charts::cost_counters(&self.machine);
        let (result, trace) = self.machine.record(title.clone(), op);
        let after = crate::charts::cost_counters(&self.machine);
        self.history.push(crate::charts::OpCost {
            title,
            ok: result.is_ok(),
            migrated: after[0] - before[0],
            migrate_failed: after[1] - before[1],
            isolate_failed: after[2] - before[2],
        });
        let cursor = trace.steps.len().checked_sub(1);
        // The state changed: a computed layer no longer describes it.
        self.layer = None;
        self.focus = None;
        self.attempts = self.machine.diagnose_trace(&trace).into_iter().filter(|a| a.diagnosis.verdict != Verdict::Free).collect();
        self.player = Some(Player { trace, op: None, cursor });
        match &result {
            Ok(_) => self.error = None,
            Err(e) => self.error = Some(e.clone()),
        }
        result
    }

    /// Runs `alloc_pages()` with form input; returns a summary.
    pub fn alloc_pages(&mut self, gfp: &str, order: &str, kind: &str) -> Result<String, String> {
        let gfp = Gfp::by_name(gfp).ok_or_else(|| format!("unknown GFP mask {gfp:?}"))?;
        let order = parse_order(order, self.machine.geometry().max_order)?;
        let kind = PageKind::ALL.into_iter().find(|k| k.label() == kind).ok_or_else(|| format!("unknown page kind {kind:?}"))?;
        self.run_op(&Op::AllocPages { gfp: gfp.name.to_string(), order, kind })
    }

    /// Runs `__free_pages()` with form input.
    pub fn free_pages(&mut self, pfn: &str, order: &str) -> Result<String, String> {
        let pfn = parse_pfn(pfn)?;
        let order = parse_order(order, self.machine.geometry().max_order)?;
        // Validate before recording so a refused free leaves no trace.
        if let Err(e) = self.machine.check_allocated(pfn, order) {
            self.error = Some(e.to_string());
            return Err(e.to_string());
        }
        self.run_op(&Op::FreePages { pfn, order })
    }

    /// Moves the player to a step (`None` = before the first), the
    /// camera following when it is on.
    pub fn seek(&mut self, cursor: Option<usize>) {
        let before = self.player.as_ref().map(|p| p.cursor);
        self.seek_quietly(cursor);
        // A contiguity layer describes the state it was computed on.
        if self.player.as_ref().map(|p| p.cursor) != before {
            self.layer = None;
        }
        self.follow_step();
    }

    /// Moves the player without moving the camera.
    pub fn seek_quietly(&mut self, cursor: Option<usize>) {
        if let Some(p) = &mut self.player {
            let cursor = cursor.map(|i| i.min(p.len().saturating_sub(1)));
            let cursor = if p.is_empty() { None } else { cursor };
            self.machine.seek(p.trace.position_after(cursor));
            p.cursor = cursor;
        }
    }

    /// Steps the player by `delta` steps.
    pub fn step_by(&mut self, delta: i64) {
        let Some(p) = &self.player else { return };
        let now = p.cursor.map_or(-1, |i| i as i64);
        let next = (now + delta).clamp(-1, p.len() as i64 - 1);
        self.seek(usize::try_from(next).ok());
    }

    /// Jumps to the next (or previous) step that is a decision or failure.
    pub fn jump_to_event(&mut self, forward: bool) {
        let Some(p) = &self.player else { return };
        let now = p.cursor.map_or(-1, |i| i as i64);
        let interesting = |i: usize| p.trace.steps[i].kind != pfnscope_core::StepKind::Action;
        let found = if forward {
            ((now + 1).max(0) as usize..p.len()).find(|&i| interesting(i))
        } else {
            (0..now.max(0) as usize).rev().find(|&i| interesting(i))
        };
        if let Some(i) = found {
            self.seek(Some(i));
        }
    }
}

/// Reads a scenario from a URL query: `?scenario=pinned` for a built-in
/// one, or `?machine=teaching-16m&workload=vm-host&seed=3&steps=5000` for
/// an aged machine with nothing to play. Missing keys keep the default's
/// values; unknown keys and bad values are errors. A packed scenario
/// (`s=`) needs unpacking first: [`crate::link`].
pub fn scenario_from_query(query: &str) -> Result<Scenario, String> {
    let base = match crate::link::Link::parse(query)?.source {
        crate::link::Source::Builtin(name) => Scenario::builtin(&name).ok_or_else(|| format!("scenario {name:?} is not compiled in: fetch scenarios/{name}.scenario"))?,
        _ => Scenario::default(),
    };
    apply_query(base, query)
}

/// A scenario with a URL query's overrides: the seeds' policies keep its
/// stage; a machine, workload, seed or step count makes it a plain aged
/// machine with nothing to play. The link's own keys are left to
/// [`crate::link::Link`].
pub fn apply_query(mut s: Scenario, query: &str) -> Result<Scenario, String> {
    let query = query.trim_start_matches('?');
    let mut custom = false;
    let mut region = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value.replace('+', " ");
        let number = |what: &str| value.parse::<u64>().map_err(|_| format!("URL parameter {what}={value:?} is not a whole number"));
        if crate::link::LINK_KEYS.contains(&key) || key == "bench" {
            continue;
        }
        // The kernel's policies change no PFN, so a built-in keeps its stage.
        match key {
            "allocator" => {
                s.allocator = pfnscope_core::AllocatorPolicy::by_name(&value).ok_or_else(|| format!("URL parameter allocator={value:?}: mainline or regions"))?;
                continue;
            }
            "region" => {
                region = Some(value.clone()).filter(|v| !v.is_empty());
                continue;
            }
            "reporting" => {
                s.reporting = pfnscope_core::ReportingPolicy::by_name(&value).ok_or_else(|| format!("URL parameter reporting={value:?}: off, mainline or walk"))?;
                continue;
            }
            "reporting_order" => {
                s.reporting_order = if value.is_empty() { None } else { Some(value.parse::<u8>().ok().filter(|&o| o <= 15).ok_or_else(|| format!("URL parameter reporting_order={value:?} is not an order"))?) };
                continue;
            }
            _ => {}
        }
        match key {
            "machine" => {
                s.machine = value.clone();
                s.spec = None;
            }
            "workload" => s.workload = if value.is_empty() || value == "none" { None } else { Some(value.clone()) },
            "seed" => s.seed = number("seed")?,
            "steps" => {
                // "lived-in" (or 0) ages the machine to a steady state.
                s.steps = if value == "lived-in" { 0 } else { number("steps")? };
                if s.steps > 10_000_000 {
                    return Err(format!("URL parameter steps={} is above the limit of 10000000", s.steps));
                }
            }
            _ => return Err(format!("unknown URL parameter {key:?} (known: scenario, s, step, zoom, at, embed, gallery, machine, workload, seed, steps, compare, bench, allocator, region, reporting, reporting_order)")),
        }
        custom = true;
    }
    if custom {
        s.title = format!("{} / {} / seed {}", s.machine, s.workload.as_deref().unwrap_or("freshly booted"), s.seed);
        // The built-in stage and play name PFNs of the default machine.
        s.setup.clear();
        s.play = None;
        s.lesson.clear();
        s.expect = None;
        s.variant = None;
    }
    s.validate().map_err(|e| e.to_string())?;
    if let Some(text) = region {
        let page = s.machine_spec().map_or(4096, |m| m.geometry.page_size());
        s.region_pages = Some(parse_size(&text, page).map_err(|e| format!("URL parameter region: {e}"))?);
    }
    Ok(s)
}

/// Reads `compare=v4.9` or `compare=2010` from a URL query: the variant to
/// open side by side with 6.12 once the scenario is played.
/// The benchmark page's step count from a URL query (`bench=300`).
pub fn bench_from_query(query: &str) -> Result<Option<u32>, String> {
    for pair in query.trim_start_matches('?').split('&') {
        if let Some(v) = pair.strip_prefix("bench=") {
            return v.parse::<u32>().ok().filter(|&n| (1..=100_000).contains(&n)).map(Some).ok_or_else(|| format!("URL parameter bench={v:?}: a number of steps from 1 to 100000"));
        }
    }
    Ok(None)
}

pub fn compare_from_query(query: &str) -> Result<Option<Against>, String> {
    for pair in query.trim_start_matches('?').split('&') {
        if let Some(v) = pair.strip_prefix("compare=") {
            return Against::parse(v).map(Some);
        }
    }
    Ok(None)
}

/// What an operation's form field holds, which decides how a front end
/// asks for it and how it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A PFN, decimal or `0x` hex.
    Pfn,
    /// An end PFN, or `+SIZE` from the start (`+512`, `+2M`).
    End,
    /// A size: pages (`512`) or bytes with a unit (`2M`, `1G`).
    Size,
    /// A yes/no choice (a checkbox).
    Flag,
    /// One of the machine's CMA areas, by index.
    CmaArea,
    /// One of the machine's virtio-mem devices, by index.
    Device,
    /// A whole number (rounds, subblocks, a seed, steps).
    Count,
    /// An alignment order.
    Order,
    /// A workload preset's name.
    Workload,
}

/// One field of an operation's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub label: &'static str,
    pub kind: FieldKind,
}

const fn f(label: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec { label, kind }
}

/// The operations the UI offers, with their fields.
pub const OPERATIONS: &[(&str, &[FieldSpec])] = &[
    ("alloc_contig_range", &[f("start pfn", FieldKind::Pfn), f("end pfn or +size", FieldKind::End), f("MIGRATE_CMA", FieldKind::Flag)]),
    ("free_contig_range", &[f("pfn", FieldKind::Pfn), f("size", FieldKind::Size)]),
    ("alloc_contig_pages", &[f("size", FieldKind::Size)]),
    ("cma_alloc", &[f("CMA area", FieldKind::CmaArea), f("size", FieldKind::Size), f("align order", FieldKind::Order)]),
    ("cma_release", &[f("CMA area", FieldKind::CmaArea), f("pfn", FieldKind::Pfn), f("size", FieldKind::Size)]),
    ("virtio_mem_unplug", &[f("device", FieldKind::Device), f("subblocks", FieldKind::Count)]),
    ("virtio_mem_plug", &[f("device", FieldKind::Device), f("subblocks", FieldKind::Count)]),
    ("offline_pages", &[f("start pfn", FieldKind::Pfn), f("size", FieldKind::Size), f("round budget", FieldKind::Count)]),
    ("online_pages", &[f("start pfn", FieldKind::Pfn), f("size", FieldKind::Size)]),
    ("alloc_contig_range_v4", &[f("start pfn", FieldKind::Pfn), f("end pfn or +size", FieldKind::End)]),
    ("alloc_contig_pages_2010", &[f("hint pfn", FieldKind::Pfn), f("size", FieldKind::Size)]),
    ("pin_first_lru_page", &[f("start pfn", FieldKind::Pfn), f("end pfn or +size", FieldKind::End), f("FOLL_LONGTERM", FieldKind::Flag)]),
    ("drain", &[]),
    ("age_with_workload", &[f("workload", FieldKind::Workload), f("seed", FieldKind::Count), f("steps", FieldKind::Count)]),
    ("wait", &[f("milliseconds", FieldKind::Count)]),
    ("walk_free_mem_block", &[f("min order", FieldKind::Order)]),
    ("kmempowerd", &[f("at most % used", FieldKind::Count)]),
];

/// The fields of a named operation.
pub fn operation_fields(name: &str) -> &'static [FieldSpec] {
    OPERATIONS.iter().find(|(n, _)| *n == name).map_or(&[], |(_, f)| *f)
}

/// Builds an operation from its name and the text of its fields, sizes in
/// pages of `page_size` bytes, with a message naming the field that is
/// wrong.
pub fn op_from_form(name: &str, fields: &[String], page_size: u64) -> Result<Op, String> {
    let specs = OPERATIONS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l).ok_or_else(|| format!("unknown operation {name:?}"))?;
    let text = |i: usize| fields.get(i).map(String::as_str).unwrap_or("").trim();
    let named = |i: usize, e: String| format!("{}: {e}", specs[i].label);
    let num = |i: usize| -> Result<u64, String> { parse_pfn(text(i)).map_err(|_| named(i, format!("a number such as 512 or 0x200, not {:?}", text(i)))) };
    let size = |i: usize| -> Result<u64, String> { parse_size(text(i), page_size).map_err(|e| named(i, e)) };
    let end = |i: usize, start: u64| -> Result<u64, String> {
        match text(i).strip_prefix('+') {
            Some(sz) => parse_size(sz, page_size).map(|n| start + n).map_err(|e| named(i, e)),
            None => num(i),
        }
    };
    let flag = |i: usize| -> Result<bool, String> {
        match text(i) {
            "" | "0" | "no" | "false" | "off" => Ok(false),
            "1" | "yes" | "true" | "on" => Ok(true),
            t => Err(named(i, format!("yes or no, not {t:?}"))),
        }
    };
    let small = |i: usize, max: u64| -> Result<u64, String> {
        let v = num(i)?;
        if v > max {
            return Err(named(i, format!("at most {max}, not {v}")));
        }
        Ok(v)
    };
    Ok(match name {
        "alloc_contig_range" => {
            let start = num(0)?;
            Op::AllocContigRange { start, end: end(1, start)?, cma: flag(2)? }
        }
        "free_contig_range" => Op::FreeContigRange { pfn: num(0)?, nr: size(1)? },
        "alloc_contig_pages" => Op::AllocContigPages { nr: size(0)? },
        "cma_alloc" => Op::CmaAlloc { area: small(0, 63)? as usize, count: size(1)?, align: small(2, 63)? as u8 },
        "cma_release" => Op::CmaRelease { area: small(0, 63)? as usize, pfn: num(1)?, count: size(2)? },
        "virtio_mem_unplug" => Op::VirtioMemUnplug { device: small(0, 63)? as usize, subblocks: small(1, 1 << 20)? as usize },
        "virtio_mem_plug" => Op::VirtioMemPlug { device: small(0, 63)? as usize, subblocks: small(1, 1 << 20)? as usize },
        "offline_pages" => Op::OfflinePages { start: num(0)?, nr: size(1)?, budget: small(2, 10_000)? as u32 },
        "online_pages" => Op::OnlinePages { start: num(0)?, nr: size(1)? },
        "alloc_contig_range_v4" => {
            let start = num(0)?;
            Op::AllocContigRangeV4 { start, end: end(1, start)? }
        }
        "alloc_contig_pages_2010" => Op::AllocContigPages2010 { hint: num(0)?, nr: size(1)? },
        "pin_first_lru_page" => {
            let start = num(0)?;
            Op::PinFirstIn { start, end: end(1, start)?, longterm: flag(2)? }
        }
        "age_with_workload" => Op::Age { workload: text(0).to_string(), seed: num(1)?, steps: num(2)? },
        "wait" => Op::Wait { ms: small(0, pfnscope_core::ops::MAX_WAIT_MS)? },
        "walk_free_mem_block" => Op::WalkFreeMemBlock { min_order: small(0, 15)? as u8 },
        "kmempowerd" => Op::Kmempowerd { max_used_pct: small(0, 100)? as u8 },
        _ => Op::Drain,
    })
}

/// Reads an import: a snapshot file (gzip) or pasted `/proc/buddyinfo`
/// text, which gives a synthesized layout. Returns the machine and what the
/// import had to make up.
pub fn import_bytes(name: &str, bytes: &[u8]) -> Result<pfnscope_import::Imported, String> {
    let mut job = import_job(name, bytes)?;
    loop {
        if let Some(done) = job.advance(u64::MAX).map_err(|e| e.to_string())? {
            return check_import(name, done);
        }
    }
}

/// Starts an import in chunks: a snapshot file (gzip, or already
/// decompressed) or pasted `/proc/buddyinfo` text.
pub fn import_job(name: &str, bytes: &[u8]) -> Result<pfnscope_import::ImportJob, String> {
    use pfnscope_import::Snapshot;
    let snap = if Snapshot::is_raw(bytes) {
        Snapshot::from_raw(name, bytes).map_err(|e| e.to_string())?
    } else if Snapshot::is_gzip(bytes) {
        gunzip_snapshot(name, bytes)?
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| format!("{name}: neither a snapshot file nor text"))?;
        pfnscope_import::Snapshot { buddyinfo: text.to_string(), ..Default::default() }
    };
    pfnscope_import::ImportJob::new(snap).map_err(|e| e.to_string())
}

#[cfg(feature = "gzip")]
fn gunzip_snapshot(name: &str, bytes: &[u8]) -> Result<pfnscope_import::Snapshot, String> {
    pfnscope_import::Snapshot::from_bytes(name, bytes).map_err(|e| e.to_string())
}

/// Without the `gzip` feature the caller decompresses first (the web app
/// uses the browser's DecompressionStream).
#[cfg(not(feature = "gzip"))]
fn gunzip_snapshot(name: &str, _: &[u8]) -> Result<pfnscope_import::Snapshot, String> {
    Err(format!("{name}: a gzip-compressed snapshot must be decompressed before this build reads it"))
}

/// The last check of an import: nothing inconsistent is loaded.
pub fn check_import(name: &str, imported: pfnscope_import::Imported) -> Result<pfnscope_import::Imported, String> {
    imported.machine.check_invariants().map_err(|v| format!("{name}: the reconstructed machine is inconsistent: {v}"))?;
    Ok(imported)
}

/// Parses an order, with the allowed range in the message.
pub fn parse_order(text: &str, max: u8) -> Result<u8, String> {
    let text = text.trim();
    match text.parse::<u8>() {
        Ok(o) if o <= max => Ok(o),
        _ => Err(format!("order must be a whole number from 0 to {max}, not {text:?}")),
    }
}

/// Parses a size as pages: `512` (pages), `4K`, `2M`, `1G` (or `2MiB`,
/// `1GiB`), with `page_size` bytes to a page. The size must be a whole
/// number of pages.
pub fn parse_size(text: &str, page_size: u64) -> Result<u64, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let n: u64 = digits.parse().map_err(|_| format!("a size is pages (512) or bytes with a unit (4K, 2M, 1G), not {t:?}"))?;
    let bytes = match unit {
        "" => return if n > 0 { Ok(n) } else { Err("a size of zero pages".into()) },
        "k" | "kib" | "kb" => n << 10,
        "m" | "mib" | "mb" => n << 20,
        "g" | "gib" | "gb" => n << 30,
        "t" | "tib" | "tb" => n << 40,
        _ => return Err(format!("unknown unit {unit:?} in {t:?} (use K, M, G or pages)")),
    };
    if bytes == 0 || !bytes.is_multiple_of(page_size) {
        return Err(format!("{t} is not a whole number of {page_size}-byte pages"));
    }
    Ok(bytes / page_size)
}

/// Parses a PFN in decimal or `0x` hex.
pub fn parse_pfn(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse::<u64>(),
    };
    parsed.map_err(|_| format!("a PFN is a number such as 4096 or 0x1000, not {t:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(&Scenario { steps: 500, play: None, ..Scenario::default() }, 640, 400).unwrap()
    }

    #[test]
    fn an_allocation_is_traced_and_can_be_stepped_back_and_forth() {
        let mut s = session();
        let msg = s.alloc_pages("GFP_KERNEL", "2", "slab, unmovable").unwrap();
        assert!(msg.starts_with("got an order-2 block at"), "{msg}");
        let p = s.player.as_ref().unwrap();
        let last = p.len() - 1;
        assert_eq!(p.cursor, Some(last));
        let after = s.machine.page_words().to_vec();
        s.seek(None);
        let before = s.machine.page_words().to_vec();
        assert!(before != after);
        s.step_by(1000);
        assert!(s.machine.page_words() == &after[..]);
        s.step_by(-1);
        assert_eq!(s.player.as_ref().unwrap().cursor, Some(last - 1));
        // Every step's state is consistent.
        for i in 0..=last {
            s.seek(Some(i));
            s.machine.check_invariants().unwrap_or_else(|v| panic!("after step {i}: {v}"));
        }
        s.machine.check_quiescent().unwrap();
    }

    #[test]
    fn bad_input_gives_a_message_and_keeps_state() {
        let mut s = session();
        let words = s.machine.page_words().to_vec();
        assert!(s.alloc_pages("GFP_KERNEL", "99", "kernel").unwrap_err().contains("order must be a whole number from 0 to 10"));
        assert!(s.alloc_pages("GFP_NOPE", "0", "kernel").unwrap_err().contains("unknown GFP mask"));
        assert!(s.free_pages("zz", "0").unwrap_err().contains("a PFN is a number"));
        assert!(s.free_pages("0x0", "0").is_err());
        assert!(s.machine.page_words() == &words[..]);
        assert!(s.player.is_none());
        assert!(s.error.is_some());
    }

    #[test]
    fn building_in_chunks_equals_building_at_once() {
        let sc = Scenario { steps: 5_000, ..Scenario::default() };
        let mut b = Session::start_build(&sc).unwrap();
        let mut chunks = 0;
        while !b.advance().unwrap() {
            chunks += 1;
            assert!(b.progress() < 1.0);
        }
        assert_eq!(chunks, 2);
        let whole = sc.build().unwrap();
        let s = Session::from_build(b, 10, 10);
        // The session opens before the play operation's first step: the
        // state is the built one.
        assert!(s.player.as_ref().is_some_and(|p| p.cursor.is_none() && !p.is_empty()));
        assert!(s.machine.page_words() == whole.page_words(), "chunked build differs");
    }

    #[test]
    fn a_lived_in_build_reports_rising_progress_until_memory_is_full() {
        let sc = scenario_from_query("?machine=x86-64-4g&workload=file-server&seed=2&steps=lived-in").unwrap();
        assert_eq!((sc.steps, sc.play.is_none()), (0, true));
        let mut b = Session::start_build(&sc).unwrap();
        let mut last = -1.0;
        let mut chunks = 0;
        while !b.advance().unwrap() {
            chunks += 1;
            assert!(b.progress() >= last && b.progress() < 1.0);
            last = b.progress();
        }
        assert!(chunks >= 2 && b.progress() == 1.0, "{chunks} chunks");
        let s = Session::from_build(b, 640, 400);
        let free: i64 = (0..s.machine.zones().len()).map(|zi| s.machine.zone_free_pages(zi)).sum();
        let managed: u64 = s.machine.zones().iter().map(|z| z.managed_pages).sum();
        assert!((free as u64) * 20 < managed, "{free} of {managed} pages free");
    }

    #[test]
    fn scenarios_come_from_url_queries_with_clear_errors() {
        assert_eq!(scenario_from_query(""), Ok(Scenario::default()));
        let s = scenario_from_query("?machine=teaching-16m&workload=none&seed=9&steps=10").unwrap();
        assert_eq!((s.machine.as_str(), s.workload, s.seed, s.steps), ("teaching-16m", None, 9, 10));
        assert!(scenario_from_query("?seed=abc").unwrap_err().contains("seed=\"abc\""));
        assert!(scenario_from_query("?machine=cray").unwrap_err().contains("unknown machine"));
        assert!(scenario_from_query("?colour=red").unwrap_err().contains("unknown URL parameter"));
        assert!(scenario_from_query("?steps=99999999999").is_err());
        assert_eq!(scenario_from_query("?scenario=pinned"), Ok(Scenario::builtin("pinned").unwrap()));
        assert!(scenario_from_query("?scenario=nope").unwrap_err().contains("unknown scenario"));
        assert!(scenario_from_query("?machine=teaching-16m").unwrap().play.is_none());
        // The seeds' policies keep a built-in's stage and play.
        let s = scenario_from_query("?scenario=pinned&allocator=regions&region=4M&reporting=walk&reporting_order=3").unwrap();
        assert_eq!((s.allocator, s.region_pages, s.reporting, s.reporting_order), (pfnscope_core::AllocatorPolicy::Regions, Some(1024), pfnscope_core::ReportingPolicy::Walk, Some(3)));
        assert_eq!(s.play, Scenario::builtin("pinned").unwrap().play);
        assert!(scenario_from_query("?allocator=buddy").unwrap_err().contains("mainline or regions"));
        assert!(scenario_from_query("?reporting=sometimes").unwrap_err().contains("off, mainline or walk"));
        assert!(scenario_from_query("?region=7Q").unwrap_err().contains("region"));
        assert!(scenario_from_query("?reporting_order=99").is_err());
        // The benchmark page's key leaves the scenario alone.
        assert_eq!(scenario_from_query("?scenario=pinned&bench=50"), Ok(Scenario::builtin("pinned").unwrap()));
        assert_eq!(bench_from_query("?scenario=pinned&bench=50"), Ok(Some(50)));
        assert_eq!(bench_from_query("?scenario=pinned"), Ok(None));
        assert!(bench_from_query("?bench=0").unwrap_err().contains("bench"));
    }

    #[test]
    fn operation_forms_parse_with_messages_naming_the_field() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let form = |name: &str, v: &[&str]| op_from_form(name, &f(v), 4096);
        assert_eq!(form("alloc_contig_range", &["0x3400", "0x3600", "0"]), Ok(Op::AllocContigRange { start: 0x3400, end: 0x3600, cma: false }));
        // An end as a size from the start, PFNs in decimal, sizes with units.
        assert_eq!(form("alloc_contig_range", &["13312", "+2M", "1"]), Ok(Op::AllocContigRange { start: 0x3400, end: 0x3600, cma: true }));
        assert_eq!(form("cma_alloc", &["0", "2M", "9"]), Ok(Op::CmaAlloc { area: 0, count: 512, align: 9 }));
        assert_eq!(form("offline_pages", &["0x3000", "4M", "10"]), Ok(Op::OfflinePages { start: 0x3000, nr: 1024, budget: 10 }));
        assert!(form("alloc_contig_range", &["x", "1"]).unwrap_err().starts_with("start pfn:"));
        assert!(form("alloc_contig_range", &["1", "+3X"]).unwrap_err().starts_with("end pfn or +size: unknown unit"));
        assert!(form("alloc_contig_range", &["1", "2", "maybe"]).unwrap_err().starts_with("MIGRATE_CMA:"));
        assert!(form("free_contig_range", &["1", "6K"]).unwrap_err().starts_with("size:"));
        assert!(form("offline_pages", &["0", "512", "99999"]).unwrap_err().contains("at most 10000"));
        assert!(form("reboot", &[]).is_err());
        assert_eq!(form("drain", &[]), Ok(Op::Drain));
        assert_eq!(form("age_with_workload", &["desktop", "7", "500"]), Ok(Op::Age { workload: "desktop".into(), seed: 7, steps: 500 }));
        // Every offered operation parses from plausible input.
        for (name, specs) in OPERATIONS {
            let fields: Vec<String> = specs.iter().map(|s| if s.kind == FieldKind::Workload { "desktop".to_string() } else { "1".to_string() }).collect();
            assert!(op_from_form(name, &fields, 4096).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_failing_operation_is_traced_and_reported() {
        let mut s = session();
        let err = s.run_op(&Op::AllocContigRange { start: 0x1000, end: 0x1200, cma: false }).unwrap_err();
        assert!(err.contains("-EBUSY"), "reserved pages in the way: {err}");
        assert_eq!(s.error.as_deref(), Some(err.as_str()));
        assert!(s.player.as_ref().is_some_and(|p| !p.is_empty()));
    }

    #[test]
    fn imports_take_snapshots_or_pasted_buddyinfo_and_refuse_garbage() {
        let text = b"Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3\nNode 0, zone   Normal   12   4    1    0    0    0    0    0    0    1   20\n";
        let imp = import_bytes("pasted", text).unwrap();
        assert!(imp.synthesized);
        let s = Session::from_import(imp, "pasted", 320, 200);
        assert!(s.scenario.title.contains("synthesized"));
        let normal = s.machine.zone_index(pfnscope_core::ZoneType::Normal).unwrap();
        assert_eq!(s.machine.nr_free(normal, 10), 20);
        assert!(import_bytes("x", b"\x1f\x8bnot really gzip").unwrap_err().contains("x"));
        assert!(import_bytes("y", b"hello world").unwrap_err().contains("buddyinfo"));
        assert!(import_bytes("z", &[0xff, 0xfe, 0x00]).is_err());
        // An imported machine can be given the seeds' policies, once.
        let mut s = s;
        let msg = s.apply_policies(pfnscope_core::AllocatorPolicy::Regions, None, pfnscope_core::ReportingPolicy::Mainline, Some(3)).unwrap();
        assert!(msg.contains("region allocator") && msg.contains("free page reporting"), "{msg}");
        assert!(s.machine.region_spec().is_some() && s.machine.reporting_status().is_some());
        s.machine.check_quiescent().unwrap();
        s.machine.advance_clock(2000);
        s.machine.check_quiescent().unwrap();
        let again = s.apply_policies(pfnscope_core::AllocatorPolicy::Mainline, None, pfnscope_core::ReportingPolicy::Walk, None);
        assert!(again.unwrap_err().contains("import it again"));
    }

    #[test]
    fn minimap_shows_the_whole_machine_and_the_main_window() {
        let mut s = Session::new(&Scenario { steps: 500, play: None, ..Scenario::default() }, 640, 200).unwrap();
        s.viewport = s.viewport.zoom_at(0, 0, 3);
        let (mini, px) = s.minimap(120, 160);
        assert_eq!(px.len(), 120 * 160 * 4);
        assert!(mini.visible_pfns() == s.machine.pfn_span());
        let (top, bottom) = s.minimap_window(&mini);
        assert!(top < bottom && bottom <= 160);
        s.jump_to(0x3800);
        assert!(s.viewport.visible_pfns().contains(0x3800));
        let (top2, _) = s.minimap_window(&mini);
        assert!(top2 > top, "the window moved down the minimap");
    }

    #[test]
    fn parse_helpers() {
        assert_eq!(parse_pfn("0x1f"), Ok(31));
        assert_eq!(parse_pfn(" 42 "), Ok(42));
        assert_eq!(parse_order("10", 10), Ok(10));
        assert!(parse_order("-1", 10).is_err());
    }

    #[test]
    fn the_played_operation_can_be_compared_from_the_state_before_it() {
        let mut s = Session::new(&Scenario::builtin("slab-in-movable").unwrap(), 320, 200).unwrap();
        let cursor = s.player.as_ref().unwrap().cursor;
        let (base, op) = s.before_play().unwrap();
        assert_eq!(op, Scenario::builtin("slab-in-movable").unwrap().play.unwrap());
        assert_eq!(s.player.as_ref().unwrap().cursor, cursor, "the player stays put");
        let mut fresh = Scenario::builtin("slab-in-movable").unwrap();
        fresh.play = None;
        assert_eq!(base.fingerprint(), fresh.build().unwrap().fingerprint());
        let c = crate::compare::Comparison::new(&base, Against::V49.contest(&op).unwrap());
        assert_ne!(c.left.pageblocks_isolated(), c.right.pageblocks_isolated());
        assert_eq!(compare_from_query("?scenario=slab-in-movable&compare=v4.9"), Ok(Some(Against::V49)));
        assert_eq!(compare_from_query("?scenario=pinned"), Ok(None));
        assert!(compare_from_query("?compare=v2").unwrap_err().contains("unknown variant"));
        assert!(scenario_from_query("?scenario=slab-in-movable&compare=2010").is_ok());
    }

    #[test]
    fn sizes_read_as_pages_or_bytes_with_units() {
        assert_eq!(parse_size("2M", 4096), Ok(512));
        assert_eq!(parse_size("1GiB", 4096), Ok(262_144));
        assert_eq!(parse_size(" 512 ", 4096), Ok(512));
        assert_eq!(parse_size("4k", 4096), Ok(1));
        assert!(parse_size("2M", 65536).is_ok());
        assert!(parse_size("6K", 4096).unwrap_err().contains("whole number"));
        assert!(parse_size("2X", 4096).unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots", 4096).is_err());
        assert!(parse_size("0", 4096).is_err());
    }

    #[test]
    fn the_camera_frames_the_operation_and_follows_every_step() {
        let mut s = Session::new(&Scenario { steps: 3_000, ..Scenario::default() }, 640, 400).unwrap();
        let fit = Viewport::fit(s.machine.pfn_span(), 640, 400);
        let r = s.op_range().unwrap();
        let shown = s.viewport.visible_pfns();
        assert!(shown.start <= r.start && shown.end >= r.end, "the grab is in view before the first step");
        assert!(s.viewport.zoom > fit.zoom, "and closer than the whole machine");
        assert!(s.overlay().outlines.iter().any(|o| o.0 == r), "outlined before the first step");
        let len = s.player.as_ref().unwrap().len();
        for _ in 0..len {
            s.step_by(1);
            let st = s.player.as_ref().unwrap().cursor.map(|i| s.player.as_ref().unwrap().trace.steps[i].clone()).unwrap();
            if let Some(x) = st.range {
                let shown = s.viewport.visible_pfns();
                assert!(shown.start <= x.start && shown.end >= x.end.min(shown.start + shown.len()), "step {:?} ({}) out of view {shown:?}", x, st.text);
            }
        }
        // The user's own view wins until they turn following back on.
        s.follow = false;
        s.viewport = s.viewport.scroll(-1000);
        let mine = s.viewport;
        s.seek(Some(0));
        assert_eq!(s.viewport, mine);
    }

    #[test]
    fn jumping_to_a_failure_frames_the_page_that_caused_it() {
        let mut s = Session::new(&Scenario { steps: 3_000, ..Scenario::builtin("pinned").unwrap() }, 640, 400).unwrap();
        let steps = s.player.as_ref().unwrap().trace.steps.clone();
        let i = steps.iter().position(|st| st.kind == pfnscope_core::StepKind::Failure && st.range.is_some_and(|r| r.len() == 1)).unwrap();
        s.seek(Some(i));
        let page = steps[i].range.unwrap();
        assert!(s.viewport.visible_pfns().contains(page.start));
        assert!(s.viewport.visible_pfns().len() <= 1024, "framed closely: {:?}", s.viewport.visible_pfns());
        assert!(s.overlay().outlines.iter().any(|o| o.0 == page && o.1 == crate::contiguity::BLOCKED));
    }

    #[test]
    fn a_machine_that_fits_gets_a_map_no_taller_than_itself() {
        let s = Session::new(&Scenario { play: None, steps: 0, ..Scenario::default() }, 640, 800).unwrap();
        let v = s.viewport;
        assert_eq!(v.height, v.total_rows() as u32 * v.row_h(), "no empty band below the map");
        assert!(v.height < 800);
        let mut s = s;
        s.follow = false;
        let zoomed = s.room_view().zoom_at(0, 0, 3);
        s.set_view(zoomed);
        assert_eq!(s.viewport.height, 800, "zoomed in, the map takes its room again");
        s.fit();
        assert_eq!(s.viewport, v);
    }

    #[test]
    fn a_contiguity_layer_is_dropped_when_the_state_moves() {
        let mut s = Session::new(&Scenario { steps: 500, ..Scenario::default() }, 320, 200).unwrap();
        let layer = Layer::new("2 MiB".into(), s.machine.contiguity_map(512));
        s.layer = Some(layer);
        s.seek(s.player.as_ref().unwrap().cursor);
        assert!(s.layer.is_some(), "no move, no change");
        s.step_by(1);
        assert!(s.layer.is_none(), "the layer described the state before the step");
    }

    /// Drawing only what a step changed gives the same picture as drawing
    /// everything, at every step, both ways, zoomed in and out.
    #[test]
    fn incremental_frames_equal_full_renders() {
        for scenario in [
            Scenario { steps: 3_000, ..Scenario::default() },
            Scenario { steps: 3_000, ..Scenario::builtin("pinned").unwrap() },
            Scenario::builtin("slab-in-movable").unwrap(),
            Scenario { steps: 3_000, ..Scenario::builtin("free-page-reporting").unwrap() },
            Scenario { steps: 3_000, ..Scenario::builtin("walk-free-mem-block").unwrap() },
            Scenario::builtin("region-allocator").unwrap(),
        ] {
            let mut s = Session::new(&scenario, 640, 400).unwrap();
            s.follow = false;
            for zoom in [3, 0, -3] {
                let v = Viewport { zoom, ..s.room_view() }.scroll(0);
                s.set_view(v);
                s.seek(None);
                let mut f = s.frame();
                let len = s.player.as_ref().unwrap().len();
                for i in (0..len).chain((0..len).rev()) {
                    s.seek(Some(i));
                    f = s.next_frame(f);
                    assert!(f.pixels == s.render(), "{}: zoom {zoom}, step {i}", scenario.title);
                }
            }
        }
    }
}
