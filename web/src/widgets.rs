//! Small widgets shared by the panels. A button is built by one function
//! rather than its own inlined `html!`: each inlined button with its
//! callback costs the bundle a kilobyte or so.

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
