//! The scenario gallery: a searchable page of cards grouped by topic, each
//! with a thumbnail of its machine, its title and one line.

use std::rc::Rc;

use pfnscope_view::gallery::groups;
use yew::html::Scope;
use yew::prelude::*;

use crate::app::{App, Gallery, GalleryMsg, Msg, THUMB_H, THUMB_W};
use crate::pfn_map::PfnMap;

pub fn gallery_view(g: &Gallery, version: u64, link: &Scope<App>) -> Html {
    let cards: Vec<_> = g.cards.iter().flatten().cloned().collect();
    let index: Vec<usize> = g.cards.iter().enumerate().filter(|(_, c)| c.is_some()).map(|(i, _)| i).collect();
    let found = groups(&cards, &g.search);
    let loading = g.cards.iter().filter(|c| c.is_none()).count().saturating_sub(g.errors.len());
    let card = |k: usize| -> Html {
        let i = index[k];
        let c = &cards[k];
        let name = g.names[i];
        let thumb = match &g.thumbs[i] {
            Some((h, px)) => html! {
                <PfnMap id={format!("thumb-{name}")} width={THUMB_W} height={*h} pixels={Rc::clone(px)} version={version + i as u64}
                    on_hover={Callback::noop()} on_leave={Callback::noop()} on_wheel={Callback::noop()} on_click={Callback::noop()} />
            },
            None => html! { <div class="thumb-wait" style={format!("width:{THUMB_W}px;height:{THUMB_H}px")}>{ "drawing…" }</div> },
        };
        let own = g.own[i].is_some();
        let id = if own { format!("card-own-{i}") } else { format!("card-{name}") };
        html! {
            <div class="card-wrap" key={id.clone()}>
                <button class="card" id={id} title={format!("Open {}", c.title)} onclick={link.callback(move |_| Msg::Gallery(GalleryMsg::Choose(i)))}>
                    { thumb }
                    <strong>{ &c.title }</strong>
                    <span class="summary">{ &c.summary }</span>
                    if !own { <code>{ name }</code> }
                </button>
                if own {
                    <button class="forget" title="Forget this scenario in this browser" onclick={link.callback(move |_| Msg::Gallery(GalleryMsg::Forget(i)))}>{ "forget" }</button>
                }
            </div>
        }
    };
    html! {
        <div class="gallery-overlay" role="dialog" aria-label="Scenario gallery">
            <div class="gallery-box">
                <div class="gallery-head">
                    <h2>{ "Scenarios" }</h2>
                    <input id="gallery-search" type="search" placeholder="search: pinned, CMA, reporting…" value={g.search.clone()} aria-label="Search the scenarios"
                        oninput={link.callback(|e: InputEvent| Msg::Gallery(GalleryMsg::Search(e.target_unchecked_into::<web_sys::HtmlInputElement>().value())))} />
                    <span class="spacer"></span>
                    <button id="gallery-close" title="Close (Esc)" onclick={link.callback(|_| Msg::Gallery(GalleryMsg::Close))}>{ "close" }</button>
                </div>
                if loading > 0 { <p class="hint">{ format!("loading {loading} scenario file(s)…") }</p> }
                { for g.errors.iter().map(|e| html! { <p class="notice error">{ e }</p> }) }
                if found.is_empty() && loading == 0 { <p class="hint">{ "No scenario matches. Try fewer words." }</p> }
                { for found.iter().map(|(topic, ks)| html! {
                    <section class="topic" key={topic.clone()}>
                        <h3>{ topic }</h3>
                        <div class="cards">{ for ks.iter().map(|&k| card(k)) }</div>
                    </section>
                }) }
                <p class="hint">{ "Every scenario is a text file you can copy and change: see docs/scenarios.md, then open yours with \"open scenario file\"." }</p>
            </div>
        </div>
    }
}
