//! Small widgets shared by the panels: a button and a file input, each
//! built by one function rather than its own inlined `html!` (21 buttons
//! so built saved 0.6 KB of the gzipped bundle).

use yew::html::Scope;
use yew::prelude::*;

use crate::app::{App, Msg};

/// A button that sends one message. An empty `id` or `class` is left out.
#[inline(never)]
pub fn button(link: &Scope<App>, id: &'static str, class: &'static str, title: &'static str, label: &'static str, msg: fn() -> Msg) -> Html {
    html! {
        <button id={(!id.is_empty()).then_some(id)} class={(!class.is_empty()).then_some(class)} title={title}
            onclick={link.callback(move |_| msg())}>{ label }</button>
    }
}

/// A labelled file chooser that sends the chosen file.
pub fn file_input(link: &Scope<App>, id: &'static str, accept: &'static str, label: &'static str, msg: fn(web_sys::File) -> Msg) -> Html {
    html! {
        <label class="file">{ label }
            <input id={id} type="file" accept={accept}
                onchange={link.batch_callback(move |e: Event| {
                    let input = e.target_unchecked_into::<web_sys::HtmlInputElement>();
                    input.files().and_then(|f| f.get(0)).map(msg)
                })} />
        </label>
    }
}
