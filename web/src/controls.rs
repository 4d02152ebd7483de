//! The forms: scenario, operations, and the trace player.

use pfnscope_core::{Gfp, MachineSpec, Op, PageKind, WorkloadSpec};
use pfnscope_view::compare::Against;
use pfnscope_view::session::{operation_fields, FieldKind, FieldSpec, Session, OPERATIONS};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::html::Scope;
use yew::prelude::*;

use crate::app::{AnalysisMsg, App, Field, Form, ImportMsg, MapMsg, Msg, PlayerMsg};

fn on_input(link: &Scope<App>, f: Field) -> Callback<InputEvent> {
    link.callback(move |e: InputEvent| Msg::Field(f, e.target_unchecked_into::<HtmlInputElement>().value()))
}

fn on_select(link: &Scope<App>, f: Field) -> Callback<Event> {
    link.callback(move |e: Event| Msg::Field(f, e.target_unchecked_into::<HtmlSelectElement>().value()))
}

fn options(values: impl IntoIterator<Item = String>, selected: &str) -> Html {
    values.into_iter().map(|v| html! { <option value={v.clone()} selected={v == selected}>{ v }</option> }).collect()
}

/// Machine, workload, seed and steps, and the Load button.
pub fn scenario_form(form: &Form, link: &Scope<App>) -> Html {
    let workloads = std::iter::once("none".to_string()).chain(WorkloadSpec::PRESETS.iter().map(|s| s.to_string()));
    html! {
        <form class="scenario" onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::LoadScenario })}>
            <label title="The machine to simulate">{ "machine " }
                <select id="machine" onchange={on_select(link, Field::Machine)}>{ options(MachineSpec::PRESETS.iter().map(|s| s.to_string()), &form.machine) }</select>
            </label>
            <label title="The workload that ages the machine">{ "workload " }
                <select id="workload" onchange={on_select(link, Field::Workload)}>{ options(workloads, &form.workload) }</select>
            </label>
            <label title="The random seed: the same seed gives the same machine">{ "seed " }
                <input id="seed" type="number" min="0" value={form.seed.clone()} oninput={on_input(link, Field::Seed)} />
            </label>
            <label title="Workload steps; 0 ages it to lived-in: memory full, reclaim at the watermarks">{ "steps (0: lived-in) " }
                <input id="steps" type="number" min="0" value={form.steps.clone()} oninput={on_input(link, Field::Steps)} />
            </label>
            <label title="The page allocator: Linux 6.12, or seed 003's region allocator (2013, not merged)">{ "allocator " }
                <select id="allocator" onchange={on_select(link, Field::Allocator)}>
                    { for pfnscope_core::AllocatorPolicy::ALL.iter().map(|p| html! { <option value={p.name()} title={p.label()} selected={p.name() == form.allocator}>{ if p.name() == "regions" { "seed 003 regions" } else { "mainline 6.12" } }</option> }) }
                </select>
            </label>
            <label title="Free page reporting to a hypervisor: none, mainline (virtio-balloon), or seed 004's walk_free_mem_block (2017, not merged)">{ "reporting " }
                <select id="reporting" onchange={on_select(link, Field::Reporting)}>
                    { for pfnscope_core::ReportingPolicy::ALL.iter().map(|p| html! { <option value={p.name()} title={p.label()} selected={p.name() == form.reporting}>{ match p.name() { "walk" => "seed 004 walk", n => n } }</option> }) }
                </select>
            </label>
            <label title="page_reporting_order (or the walk's min_order); empty for the driver's default, pageblock_order">{ "from order " }
                <input id="reporting-order" class="narrow" type="number" min="0" max="15" placeholder="default" value={form.reporting_order.clone()} oninput={on_input(link, Field::ReportingOrder)} />
            </label>
            <button type="submit" id="load">{ "load" }</button>
            <span class="spacer"></span>
            <button type="button" id="builtin-default" title="A contiguous grab that succeeds after migrating pages"
                onclick={link.callback(|_| Msg::LoadBuiltin("default"))}>{ "grab 2 MiB" }</button>
            <button type="button" id="builtin-pinned" title="The same grab with a pinned page in the way"
                onclick={link.callback(|_| Msg::LoadBuiltin("pinned"))}>{ "…with a pinned page" }</button>
            <button type="button" id="builtin-slab" title="Seed 001's lesson: a slab page in a MOVABLE pageblock, where 6.12 and v4.9 part ways"
                onclick={link.callback(|_| Msg::LoadBuiltin("slab-in-movable"))}>{ "slab in a movable block" }</button>
        </form>
    }
}

/// The contiguous-allocation operations, alloc_pages() and __free_pages().
pub fn operation_form(form: &Form, s: &Session, picking: Option<u8>, link: &Scope<App>) -> Html {
    let max = s.machine.geometry().max_order;
    let specs = operation_fields(&form.op_name);
    let devices: Vec<(String, String)> = s.machine.virtio_mem_devices().iter().enumerate().map(|(i, d)| (i.to_string(), format!("{} {:#x}-{:#x}", d.name, d.range.start, d.range.end))).collect();
    let cma: Vec<(String, String)> = s.machine.cma_areas().iter().enumerate().map(|(i, a)| (i.to_string(), format!("CMA {} {:#x}-{:#x}", a.name, a.base_pfn, a.base_pfn + a.count))).collect();
    let workloads: Vec<(String, String)> = WorkloadSpec::PRESETS.iter().map(|w| (w.to_string(), w.to_string())).collect();
    let pickable = specs.len() >= 2 && specs[0].kind == FieldKind::Pfn && specs[1].kind == FieldKind::End;
    let field = |i: usize, spec: &FieldSpec| -> Html {
        let id = format!("op-arg{i}");
        let value = form.op_args[i].clone();
        let choose = |choices: &[(String, String)], what: &str| -> Html {
            if choices.is_empty() {
                return html! { <span id={id.clone()} class="hint">{ format!("this machine has no {what}") }</span> };
            }
            html! {
                <select id={id.clone()} onchange={on_select(link, Field::OpArg(i))}>
                    { for choices.iter().map(|(v, l)| html! { <option value={v.clone()} selected={*v == value}>{ l }</option> }) }
                </select>
            }
        };
        match spec.kind {
            FieldKind::Flag => html! {
                <input id={id} type="checkbox" checked={value == "1"}
                    onchange={link.callback(move |e: Event| Msg::Field(Field::OpArg(i), if e.target_unchecked_into::<HtmlInputElement>().checked() { "1".into() } else { "0".into() }))} />
            },
            FieldKind::CmaArea => choose(&cma, "CMA area"),
            FieldKind::Device => choose(&devices, "virtio-mem device"),
            FieldKind::Workload => choose(&workloads, "workload"),
            kind => {
                let (placeholder, title) = match kind {
                    FieldKind::Pfn => ("0x3400", "a PFN in decimal or 0x hex"),
                    FieldKind::End => ("0x3600 or +2M", "the end PFN (excluded), or + a size from the start: +512 pages, +2M"),
                    FieldKind::Size => ("2M", "pages (512) or bytes with a unit: 4K, 2M, 1G"),
                    FieldKind::Order => ("9", "an order: 2^order pages"),
                    _ => ("1", "a whole number"),
                };
                html! { <input id={id} class="mid" value={value} placeholder={placeholder} title={title} oninput={on_input(link, Field::OpArg(i))} /> }
            }
        }
    };
    html! {
        <section class="panel ops">
            <h2>{ "Run an operation" }</h2>
            <form class="grid" onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::RunOp })}>
                <label for="op-name">{ "call" }</label>
                <select id="op-name" onchange={on_select(link, Field::OpName)}>
                    { options(OPERATIONS.iter().map(|(n, _)| n.to_string()), &form.op_name) }
                </select>
                { for specs.iter().enumerate().map(|(i, spec)| html! {
                    <>
                        <label for={format!("op-arg{i}")}>{ spec.label }</label>
                        { field(i, spec) }
                    </>
                }) }
                if pickable {
                    <span></span>
                    <span>
                        <button type="button" id="pick-range" class={if picking.is_some() { "toggle on" } else { "toggle" }}
                            title="Click the first page of the range on the map, then its last page"
                            onclick={link.callback(|_| Msg::Map(MapMsg::PickRange))}>{ "pick on the map" }</button>
                        if let Some(p) = picking { <span class="hint">{ if p == 0 { " click the first page" } else { " now the last page" } }</span> }
                    </span>
                }
                <span></span>
                <button type="submit" id="run-op" title="Run it and trace every step"><code>{ "run" }</code></button>
            </form>
            <form class="grid" onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Alloc })}>
                <label for="gfp" title="GFP mask: decides the migratetype and the zones">{ "gfp" }</label>
                <select id="gfp" onchange={on_select(link, Field::Gfp)}>
                    { options(Gfp::ALL.iter().map(|g| g.name.to_string()), &form.gfp) }
                </select>
                <label for="order" title={format!("2^order pages, 0 to {max}")}>{ "order" }</label>
                <input id="order" class="narrow" value={form.order.clone()} oninput={on_input(link, Field::Order)} />
                <label for="kind" title="What the pages will hold">{ "for" }</label>
                <select id="kind" onchange={on_select(link, Field::Kind)}>
                    { options(PageKind::ALL.iter().filter(|k| !matches!(k, PageKind::Reserved | PageKind::Offline | PageKind::HwPoison)).map(|k| k.label().to_string()), &form.kind) }
                </select>
                <span></span>
                <button type="submit" id="run-alloc" title="Allocate and trace each step"><code>{ "alloc_pages()" }</code></button>
            </form>
            <form class="grid" onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Free })}>
                <label for="free-pfn" title="The PFN of the allocation's first page, decimal or 0x hex">{ "pfn" }</label>
                <input id="free-pfn" class="mid" placeholder="0x1234" value={form.free_pfn.clone()} oninput={on_input(link, Field::FreePfn)} />
                <label for="free-order">{ "order" }</label>
                <input id="free-order" class="narrow" value={form.free_order.clone()} oninput={on_input(link, Field::FreeOrder)} />
                <span></span>
                <button type="submit" id="run-free" title="Free and trace each step"><code>{ "__free_pages()" }</code></button>
            </form>
            <p class="hint">{ "Hover the map to read a page's PFN; the trace panel plays what the kernel did." }</p>
        </section>
    }
}

/// The trace player: position, buttons, scrub bar, and the current step
/// with its call stack linked to the kernel source.
pub fn player(s: &Session, link: &Scope<App>, playing: bool, speed: u32) -> Html {
    let Some(p) = &s.player else {
        return html! {
            <section class="panel player">
                <h2>{ "Trace" }</h2>
                <p class="hint">{ "Run an operation to trace it step by step, or load a built-in scenario." }</p>
            </section>
        };
    };
    let len = p.len();
    let pos = p.cursor.map_or(0, |i| i + 1);
    let step = p.cursor.map(|i| &p.trace.steps[i]);
    let frames = step.map(|st| {
        st.stack
            .iter()
            .chain(std::iter::once(&st.func))
            .enumerate()
            .map(|(depth, f)| {
                html! {
                    <li style={format!("padding-left: {}em", depth)}>
                        <a href={f.source_url()} target="_blank" rel="noopener" title={format!("{} in {} (Linux v6.12)", f.name(), f.file())}>{ f.name() }</a>
                    </li>
                }
            })
            .collect::<Html>()
    });
    let kind_class = step.map_or("step", |st| match st.kind {
        pfnscope_core::StepKind::Action => "step",
        pfnscope_core::StepKind::Decision => "step decision",
        pfnscope_core::StepKind::Failure => "step failure",
    });
    html! {
        <section class="panel player">
            <h2>{ "Trace" }</h2>
            <div class="trace-title"><code>{ &p.trace.title }</code></div>
            if let Some(op) = p.op.as_ref().filter(|op| matches!(op, Op::AllocContigRange { .. } | Op::AllocContigPages { .. })) {
                <div class="compare-buttons">
                    <span class="hint">{ "compare with " }</span>
                    if matches!(op, Op::AllocContigRange { .. }) {
                        <button id="compare-v4" class={(s.scenario.variant.as_deref() == Some("v4.9")).then_some("primary")} title="The same starting state through seed 001's code as v4.9 ran it, side by side"
                            onclick={link.callback(|_| Msg::Analysis(AnalysisMsg::CompareOpen(Against::V49)))}>{ "v4.9" }</button>
                    }
                    <button id="compare-2010" class={(s.scenario.variant.as_deref() == Some("2010")).then_some("primary")} title="The same starting state through seed 002's 2010 RFC, side by side"
                        onclick={link.callback(|_| Msg::Analysis(AnalysisMsg::CompareOpen(Against::Rfc2010)))}>{ "2010 RFC" }</button>
                </div>
            }
            <div class="player-buttons">
                { crate::widgets::button(link, "", "", "Before the first step (Home)", "|◀", || Msg::Player(PlayerMsg::Seek(None))) }
                { crate::widgets::button(link, "", "", "Previous decision (Shift+←)", "⇤", || Msg::Player(PlayerMsg::Jump(false))) }
                { crate::widgets::button(link, "", "", "Step back (←)", "◀", || Msg::Player(PlayerMsg::StepBy(-1))) }
                <span id="step-pos" class="pos">{ format!("{pos} / {len}") }</span>
                <button id="play" title="Play or pause (space)" onclick={link.callback(|_| Msg::Player(PlayerMsg::TogglePlay))}>{ if playing { "pause" } else { "play" } }</button>
                { crate::widgets::button(link, "", "", "Step forward (→)", "▶", || Msg::Player(PlayerMsg::StepBy(1))) }
                { crate::widgets::button(link, "", "", "Next decision (Shift+→)", "⇥", || Msg::Player(PlayerMsg::Jump(true))) }
                { crate::widgets::button(link, "", "", "Last step (End)", "▶|", || Msg::Player(PlayerMsg::StepBy(i64::MAX / 2))) }
            </div>
            <label class="speed" title="Steps per second while playing">{ "speed " }
                <select onchange={link.callback(|e: Event| Msg::Player(PlayerMsg::Speed(e.target_unchecked_into::<HtmlSelectElement>().value().parse().unwrap_or(8))))}>
                    { for [2u32, 8, 30, 120].iter().map(|v| html! { <option value={v.to_string()} selected={*v == speed}>{ format!("{v}/s") }</option> }) }
                </select>
            </label>
            <input id="scrub" type="range" min="0" max={len.to_string()} value={pos.to_string()} aria-label="Scrub through the trace"
                oninput={link.callback(|e: InputEvent| {
                    let v = e.target_unchecked_into::<HtmlInputElement>().value().parse::<usize>().unwrap_or(0);
                    Msg::Player(PlayerMsg::Seek(v.checked_sub(1)))
                })} />
            if let Some(st) = step {
                <div class={kind_class}>
                    <p id="step-text">{ &st.text }</p>
                    if let Some(r) = st.range {
                        <p class="range">{ format!("PFNs {:#x}–{:#x} ({} pages)", r.start, r.end, r.len()) }
                            if let Some(t) = st.target { <span class="target">{ format!(" → {:#x}–{:#x}", t.start, t.end) }</span> }
                        </p>
                    }
                    <ol class="stack" aria-label="Call stack, outermost first">{ for frames }</ol>
                </div>
            } else {
                <p class="hint">{ "Before the first step. Press → to step." }</p>
            }
        </section>
    }
}

/// Import a real machine: a snapshot file (chosen or dropped on the map)
/// or pasted /proc/buddyinfo text.
pub fn import_panel(form: &Form, link: &Scope<App>) -> Html {
    let text = form.paste.clone();
    html! {
        <section class="panel import">
            <h2 title="From `pfnscope capture` or copies of /proc files">{ "Import a real machine" }</h2>
            { crate::widgets::file_input(link, "import-file", ".pfns,.gz,application/gzip", "snapshot file ", |f| Msg::Import(ImportMsg::File(f))) }
            <p class="hint">{ "…or drop it on the map. Make one with " }<code>{ "sudo pfnscope capture -o m.pfns" }</code>{ "." }</p>
            <textarea id="paste" rows="3" placeholder="or paste /proc/buddyinfo here" value={text}
                oninput={link.callback(|e: InputEvent| Msg::Field(Field::Paste, e.target_unchecked_into::<web_sys::HtmlTextAreaElement>().value()))} />
            <button id="import-paste" onclick={link.callback(|_| Msg::Import(ImportMsg::Paste))}>{ "import pasted text" }</button>
        </section>
    }
}

/// A scenario file a teacher wrote: open it (the browser keeps it for the
/// gallery), or save the current scenario as a file to edit.
pub fn scenario_file_panel(link: &Scope<App>) -> Html {
    html! {
        <section class="panel scenario-file">
            <h2 title="A text file: machine, starting state, operation, expected outcome and lesson (docs/scenarios.md)">{ "Scenario files" }</h2>
            { crate::widgets::file_input(link, "scenario-file", ".scenario,text/plain", "open scenario file ", |f| Msg::Scenario(crate::app::ScenarioMsg::File(f))) }
            <div>
                { crate::widgets::button(link, "scenario-yours", "", "Every scenario file opened in this browser, in the gallery", "your scenarios", || Msg::Gallery(crate::app::GalleryMsg::Open)) }
                { crate::widgets::button(link, "scenario-export", "", "Save this scenario as a file to edit", "save as file", || Msg::Scenario(crate::app::ScenarioMsg::Export)) }
            </div>
        </section>
    }
}
