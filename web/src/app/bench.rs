//! The browser benchmark page (`?bench=N`): once the scenario is built,
//! the app steps its trace N times, one step per message, and times each
//! from the message to the end of the render that shows it (model, map,
//! words, panels, canvas copy). The figures appear as JSON in
//! `#bench-result`, which `scripts/bench-browser.sh` reads from headless
//! Chromium. A scenario with nothing to play gets a traced
//! `age_with_workload` (desktop, 300 steps) to step through.

use super::*;

/// Where a benchmark run is.
pub struct Bench {
    pub left: u32,
    /// When the step being timed was asked for (`performance.now()`).
    pub started: Option<f64>,
    /// Each step's time, in microseconds.
    pub times: Vec<u64>,
    pub result: Option<String>,
    /// When the page asked for the scenario, and how long it took to build
    /// (boot, workload or lived-in aging, setup), in milliseconds.
    created: f64,
    build_ms: f64,
}

impl Bench {
    pub fn new(steps: u32) -> Bench {
        Bench { left: steps, started: None, times: Vec::new(), result: None, created: now(), build_ms: 0.0 }
    }
}

fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

impl App {
    /// The figures, where `scripts/bench-browser.sh` reads them.
    pub(super) fn bench_result(&self) -> Html {
        match self.bench.as_ref().and_then(|b| b.result.as_ref()) {
            Some(r) => html! { <pre id="bench-result">{ r }</pre> },
            None => html! {},
        }
    }

    /// Starts the run once the scenario is built: a trace to step through,
    /// from its first step.
    pub(super) fn bench_begin(&mut self, ctx: &Context<Self>) {
        let (Some(b), Some(s)) = (&mut self.bench, &mut self.session) else { return };
        b.build_ms = now() - b.created;
        if s.player.as_ref().is_none_or(|p| p.len() < 2) {
            let op = pfnscope_core::Op::Age { workload: "desktop".into(), seed: 1, steps: 300 };
            if let Err(e) = s.run_op(&op) {
                self.notice = Some(Notice::Error(format!("bench: {e}")));
                return;
            }
            self.new_trace();
        }
        if let Some(s) = &mut self.session {
            s.seek(None);
        }
        self.redraw_all();
        ctx.link().send_message(Msg::BenchStep);
    }

    /// One timed step, or the result when the steps are done.
    pub(super) fn bench_step(&mut self, ctx: &Context<Self>) -> bool {
        let Some(b) = &mut self.bench else { return false };
        let at_end = self.session.as_ref().and_then(|s| s.player.as_ref()).is_none_or(|p| p.cursor.is_some_and(|c| c + 1 >= p.len()));
        if b.left == 0 || at_end {
            let mut t = b.times.clone();
            t.sort_unstable();
            let n = t.len();
            let at = |pct: usize| t.get((n.saturating_sub(1) * pct + 50) / 100).copied().unwrap_or(0);
            let ms = |us: u64| format!("{}.{:03}", us / 1000, us % 1000);
            let pfns = self.session.as_ref().map_or(0, |s| s.machine.pfn_span().len());
            let mean = t.iter().sum::<u64>() / n.max(1) as u64;
            b.result = Some(format!(
                "{{\"pfns\": {pfns}, \"build_ms\": {:.0}, \"steps\": {n}, \"median_ms\": {}, \"p95_ms\": {}, \"max_ms\": {}, \"mean_ms\": {}}}",
                b.build_ms,
                ms(at(50)),
                ms(at(95)),
                ms(t.last().copied().unwrap_or(0)),
                ms(mean)
            ));
            return true;
        }
        b.left -= 1;
        b.started = Some(now());
        self.update_player(ctx, PlayerMsg::StepBy(1));
        true
    }

    /// After a render: the timed step is on screen.
    pub(super) fn bench_rendered(&mut self, ctx: &Context<Self>) {
        let Some(b) = &mut self.bench else { return };
        if let Some(t0) = b.started.take() {
            b.times.push(((now() - t0) * 1000.0) as u64);
            ctx.link().send_future(async {
                yew::platform::time::sleep(Duration::from_millis(0)).await;
                Msg::BenchStep
            });
        }
    }
}
