//! # pfnscope-web
//!
//! The browser front end: a Yew app over a [`pfnscope_view::session::Session`].
//! Components turn DOM events into session calls and copy the session's
//! pixels to a canvas; everything they show is computed by the core and
//! view crates, which are tested natively. Built by Trunk from `index.html`.
#![cfg(target_arch = "wasm32")]

mod animation;
mod app;
mod charts;
mod compare;
mod controls;
mod diagnosis;
mod export;
mod gallery;
mod js;
mod labels;
mod lesson;
mod panels;
mod pfn_map;
mod seeds;
mod widgets;

pub use app::{App, AppProps};

/// Mounts the app on `<body>`, with a panic overlay instead of a dead page.
pub fn start() {
    install_panic_overlay();
    yew::Renderer::<App>::with_props(AppProps::from_location()).render();
}

/// Logs panics to the console and shows them on the page: a user sees what
/// broke and can reload, instead of a frozen screen. Registered with Yew,
/// which otherwise installs its own hook when the app is rendered.
fn install_panic_overlay() {
    yew::set_custom_panic_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
        if let (Ok(div), Some(body)) = (doc.create_element("div"), doc.body()) {
            div.set_class_name("panic-overlay");
            div.set_text_content(Some(&format!(
                "pfnscope hit a bug and stopped: {info}\nReload the page to start again; the console has details."
            )));
            let _ = body.append_child(&div);
        }
    }));
}
