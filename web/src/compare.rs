//! Two kernels side by side: the played operation's starting state run
//! through 6.12 and a seed's variant, in two maps that step together by
//! phase, with the table of what differed. The work is
//! [`pfnscope_view::compare::Comparison`]; this holds its pixels and draws.

use std::rc::Rc;

use pfnscope_view::compare::{Against, Comparison, Side};
use pfnscope_view::palette::Palette;
use pfnscope_view::session::Session;
use pfnscope_view::viewport::Viewport;
use web_sys::HtmlInputElement;
use yew::html::Scope;
use yew::prelude::*;

use crate::app::{AnalysisMsg, App, Msg};
use crate::pfn_map::PfnMap;

/// An open comparison and the pixels of its two maps.
pub struct CompareState {
    pub cmp: Comparison,
    pub viewport: Viewport,
    pub left: Rc<Vec<u8>>,
    pub right: Rc<Vec<u8>>,
    pub version: u64,
}

impl CompareState {
    /// Compares the session's played operation from the state before it,
    /// each map `width` x `height`, before the first step.
    pub fn open(s: &mut Session, against: Against, width: u32, height: u32) -> Result<CompareState, String> {
        let (base, op) = s.before_play().ok_or("play a contiguous allocation first: there is nothing to compare")?;
        let contest = against.contest(&op)?;
        let mut cmp = Comparison::new(&base, contest);
        cmp.seek(0);
        let viewport = cmp.frame(width, height);
        let mut st = CompareState { cmp, viewport, left: Rc::default(), right: Rc::default(), version: 0 };
        st.redraw(&s.palette());
        Ok(st)
    }

    pub fn redraw(&mut self, palette: &Palette) {
        let (left, right) = self.cmp.render(&self.viewport, palette);
        self.left = Rc::new(left);
        self.right = Rc::new(right);
        self.version += 1;
    }
}

fn side_view(side: &Side, cursor: Option<usize>, pixels: Rc<Vec<u8>>, st: &CompareState, id: &'static str) -> Html {
    let step = side.step(cursor);
    let class = match step.map(|s| s.kind) {
        Some(pfnscope_core::StepKind::Decision) => "step decision",
        Some(pfnscope_core::StepKind::Failure) => "step failure",
        _ => "step",
    };
    let ended = cursor == side.trace.steps.len().checked_sub(1);
    html! {
        <div class="compare-side">
            <h3>{ side.label }</h3>
            <div class="map-wrap">
                <PfnMap id={id} width={st.viewport.width} height={st.viewport.height} pixels={pixels} version={st.version}
                    on_hover={Callback::noop()} on_leave={Callback::noop()} on_wheel={Callback::noop()} on_click={Callback::noop()} />
            </div>
            <div class={class}>
                if let Some(s) = step {
                    <p class="func"><a href={s.func.source_url()} target="_blank" rel="noopener" title={format!("{} in {} ({})", s.func.name(), s.func.file(), s.func.version())}><code>{ s.func.name() }</code></a></p>
                    <p>{ &s.text }</p>
                } else {
                    <p class="hint">{ "Before the first step." }</p>
                }
                if ended {
                    <p class="outcome">{ format!("ended: {}", side.outcome.errno.as_deref().unwrap_or("success")) }{ " — " }{ &side.outcome.text }</p>
                }
            </div>
        </div>
    }
}

/// The comparison: both maps, the joint player and the table.
pub fn compare_view(st: &CompareState, link: &Scope<App>) -> Html {
    let c = &st.cmp;
    let (l, r) = c.cursors();
    let last = c.timeline.len() - 1;
    let rows = c.table().into_iter().map(|(what, a, b)| {
        let class = if a != b { "differs" } else { "" };
        html! { <tr class={class}><th>{ what }</th><td>{ a }</td><td>{ b }</td></tr> }
    });
    let (ll, rl) = c.contest.labels();
    html! {
        <section class="compare" aria-label="Two kernels side by side">
            <div class="compare-head">
                <h2>{ c.contest.title() }</h2>
                <span class="spacer"></span>
                { crate::widgets::button(link, "compare-share", "", "Copy a link that reopens this comparison", "copy link", || Msg::Scenario(crate::app::ScenarioMsg::Share)) }
                { crate::widgets::button(link, "compare-close", "", "Back to the single map (Esc)", "close", || Msg::Analysis(AnalysisMsg::CompareClose)) }
            </div>
            <p class="hint">{ "The same starting state in both. Both maps step together through matching phases; a side that has no such phase waits. The historical side is the seed's code on the kernel it ran on, never merged into 6.12 as it stands." }</p>
            <div class="player-buttons">
                { crate::widgets::button(link, "", "", "Before the first step (Home)", "|◀", || Msg::Analysis(AnalysisMsg::CompareSeek(0))) }
                { crate::widgets::button(link, "", "", "Step back (←)", "◀", || Msg::Analysis(AnalysisMsg::CompareStep(-1))) }
                <span id="compare-pos" class="pos">{ format!("{} / {last}", c.tick) }</span>
                { crate::widgets::button(link, "", "", "Step forward (→)", "▶", || Msg::Analysis(AnalysisMsg::CompareStep(1))) }
                <button title="Last step (End)" onclick={link.callback(move |_| Msg::Analysis(AnalysisMsg::CompareSeek(usize::MAX)))}>{ "▶|" }</button>
                <span class="phase">{ c.phase().label() }</span>
            </div>
            <input id="compare-scrub" type="range" min="0" max={last.to_string()} value={c.tick.to_string()} aria-label="Scrub through both traces"
                oninput={link.callback(|e: InputEvent| Msg::Analysis(AnalysisMsg::CompareSeek(e.target_unchecked_into::<HtmlInputElement>().value().parse().unwrap_or(0))))} />
            <div class="compare-maps">
                { side_view(&c.left, l, st.left.clone(), st, "compare-left") }
                { side_view(&c.right, r, st.right.clone(), st, "compare-right") }
            </div>
            <table class="numbers compare-table">
                <thead><tr><th></th><th>{ ll }</th><th>{ rl }</th></tr></thead>
                <tbody>{ for rows }</tbody>
            </table>
        </section>
    }
}
