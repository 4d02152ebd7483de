//! Why it failed, and where it could succeed: the diagnosis of the played
//! operation beside the trace, and the contiguity layer's controls and
//! summary. The answers come from `pfnscope_core::diagnose`.

use pfnscope_core::{ContiguityJob, Verdict};
use pfnscope_view::contiguity::{BLOCKED, FREE, MIGRATE};
use pfnscope_view::session::Session;
use web_sys::HtmlSelectElement;
use yew::html::Scope;
use yew::prelude::*;

use crate::app::{AnalysisMsg, App, Field, Form, MapMsg, Msg};

/// Every attempt the played operation made that failed or had to migrate:
/// its verdict, then its blockers grouped by rule, each PFN a button that
/// frames the page on the map.
pub fn diagnosis_panel(s: &Session, link: &Scope<App>) -> Html {
    if s.attempts.is_empty() {
        return html! {};
    }
    let attempts = s.attempts.iter().map(|a| {
        let d = &a.diagnosis;
        let r = d.range;
        let head = match d.verdict {
            Verdict::Free => format!("{:#x}-{:#x}: free", r.start, r.end),
            Verdict::Migrate => format!(
                "{:#x}-{:#x}: obtainable after migrating {} page(s), dropping {} clean page-cache page(s)",
                r.start, r.end, d.pages_to_migrate, d.pages_to_drop
            ),
            Verdict::Blocked => {
                let f = d.first.as_ref().expect("blocked has a first blocker");
                format!("{:#x}-{:#x}: blocked; the kernel stops at {:#x} ({})", r.start, r.end, f.pfn, f.rule)
            }
        };
        let groups = d.by_rule().into_iter().map(|(rule, blockers)| {
            let pages: u64 = blockers.iter().map(|b| b.pages).sum();
            let buttons = blockers.iter().take(12).map(|b| {
                let (pfn, n) = (b.pfn, b.pages);
                html! {
                    <button class="pfn" title={format!("{} — frame it on the map", b.kind)} onclick={link.callback(move |_| Msg::Map(MapMsg::Focus(pfn, n)))}>{ format!("{pfn:#x}") }</button>
                }
            });
            let more = blockers.len().saturating_sub(12);
            html! {
                <li>
                    <a href={rule.source_url()} target="_blank" rel="noopener" title={rule.explain()}><code>{ rule.name() }</code></a>
                    { format!(" {} folio(s), {pages} page(s) ", blockers.len()) }
                    <span class="hint">{ rule.explain() }</span>
                    <div class="pfns">{ for buttons }{ if more > 0 { format!(" and {more} more") } else { String::new() } }</div>
                </li>
            }
        });
        let class = if d.verdict == Verdict::Blocked { "attempt blocked" } else { "attempt" };
        html! {
            <div class={class}>
                <p class="verdict">{ format!("step {}: ", a.step + 1) }{ head }</p>
                <ul class="rules">{ for groups }</ul>
            </div>
        }
    });
    html! {
        <section class="panel diagnosis" id="diagnosis">
            <h2 title="Every page that stood in the way, by the rule it breaks (6.12's rules, on the state each attempt met)">{ "Why" }</h2>
            { for attempts }
        </section>
    }
}

/// The window sizes offered: 2 MiB, 4 MiB, 1 GiB, and the machine's
/// virtio-mem subblock and CMA area sizes.
fn sizes(s: &Session) -> Vec<(String, String)> {
    let page = s.machine.geometry().page_size();
    let mut out: Vec<(String, String)> = [("2M", "2 MiB"), ("4M", "4 MiB"), ("1G", "1 GiB")].iter().map(|(v, l)| (v.to_string(), l.to_string())).collect();
    if let Some(d) = s.machine.virtio_mem_devices().first() {
        out.push((d.subblock_pages.to_string(), format!("virtio-mem subblock ({})", pfnscope_view::contiguity::size_label(d.subblock_pages, page))));
    }
    if let Some(a) = s.machine.cma_areas().first() {
        out.push((a.count.to_string(), format!("CMA area {} ({})", a.name, pfnscope_view::contiguity::size_label(a.count, page))));
    }
    out
}

/// The contiguity layer: a size, a button, progress, the summary and the
/// legend of the colors laid over the map.
pub fn contiguity_panel(s: &Session, form: &Form, job: Option<&ContiguityJob>, link: &Scope<App>) -> Html {
    let swatch = |c: pfnscope_view::palette::Rgba| html! { <span class="swatch" style={format!("background:{}", c.css())}></span> };
    let progress = job.map(|j| {
        let pct = (j.progress() * 100.0).round();
        html! { <progress id="contiguity-progress" max="100" value={pct.to_string()}></progress> }
    });
    html! {
        <section class="panel contiguity" id="contiguity">
            <h2 title="For every aligned window of a size, what alloc_contig_range(MOVABLE) would reach, computed without changing anything">{ "Where could a range be had?" }</h2>
            <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Analysis(AnalysisMsg::ContiguityStart) })}>
                <label for="contig-size">{ "windows of " }</label>
                <select id="contig-size" onchange={link.callback(|e: Event| Msg::Field(Field::ContigSize, e.target_unchecked_into::<HtmlSelectElement>().value()))}>
                    { for sizes(s).into_iter().map(|(v, label)| html! { <option value={v.clone()} selected={v == form.contig_size}>{ label }</option> }) }
                </select>
                <button type="submit" id="contig-run" title="Lay the verdicts over the map">{ "map" }</button>
                if s.layer.is_some() {
                    <button type="button" id="contig-clear" onclick={link.callback(|_| Msg::Analysis(AnalysisMsg::ContiguityClear))}>{ "clear" }</button>
                }
                { for progress }
            </form>
            if let Some(l) = &s.layer {
                <p id="contiguity-summary">{ l.sentence() }</p>
                <p class="legend-line">
                    { swatch(FREE) }{ " free now " }
                    { swatch(MIGRATE) }{ " obtainable by migrating (deeper costs more) " }
                    { swatch(BLOCKED) }{ " blocked" }
                </p>
            } else {
                <p class="hint">{ "Colors every window by the verdict: free now, obtainable after migration, or blocked by a page that cannot move." }</p>
            }
        </section>
    }
}
