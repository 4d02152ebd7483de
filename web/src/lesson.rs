//! The lesson beside the map: the current checkpoint's text, its
//! "predict first" question and, once the learner has stepped past it,
//! the answer (a checkpoint with an answer and no question of its own
//! answers an earlier one's, at once); buttons to the previous and next
//! checkpoints.

use pfnscope_view::session::Session;
use yew::html::Scope;
use yew::prelude::*;

use crate::app::{App, Msg, ScenarioMsg};

/// Text with its paragraph breaks.
fn paragraphs(text: &str, class: &'static str) -> Html {
    text.split('\n').filter(|p| !p.trim().is_empty()).map(|p| html! { <p class={class}>{ p }</p> }).collect()
}

/// The lesson panel. `top` is its copy above the map, shown instead of the
/// one beside it when the window is too narrow for the side column (its
/// buttons carry no ids: the side copy's are the page's).
pub fn lesson_panel(s: &Session, link: &Scope<App>, top: bool) -> Html {
    let (Some(l), Some(p)) = (&s.lesson, &s.player) else { return Html::default() };
    let cursor = p.cursor;
    let current = l.current(cursor);
    let n = l.checkpoints.len();
    let body = match current {
        Some(i) => {
            let c = &l.checkpoints[i];
            let answer = l.answer_shown(i, cursor);
            html! {
                <>
                    { paragraphs(&c.text, "lesson-text") }
                    if let Some(q) = &c.ask {
                        <p class="ask"><strong>{ "Predict first: " }</strong>{ q }</p>
                    }
                    if let Some(a) = answer {
                        <p class="answer"><strong>{ "Answer: " }</strong>{ a }</p>
                    } else if c.ask.is_some() {
                        <p class="hint">{ "Think, then step on (→): the trace will tell." }</p>
                    }
                </>
            }
        }
        None => html! { <p class="hint">{ "The lesson starts at its first checkpoint: press ] to go there." }</p> },
    };
    html! {
        <section class={if top { "panel lesson lesson-top" } else { "panel lesson lesson-side" }} aria-live={(!top).then_some("polite")}>
            <h2>{ "Lesson" }<span class="lesson-pos">{ format!(" · checkpoint {} of {n}", current.map_or(0, |i| i + 1)) }</span></h2>
            { body }
            <div class="lesson-buttons">
                <button id={(!top).then_some("checkpoint-prev")} title="The previous checkpoint ([)" disabled={l.previous(cursor).is_none()}
                    onclick={link.callback(|_| Msg::Scenario(ScenarioMsg::Checkpoint(false)))}>{ "◀ checkpoint" }</button>
                <button id={(!top).then_some("checkpoint-next")} title="The next checkpoint (])" disabled={l.next(cursor).is_none()}
                    onclick={link.callback(|_| Msg::Scenario(ScenarioMsg::Checkpoint(true)))}>{ "checkpoint ▶" }</button>
            </div>
        </section>
    }
}
