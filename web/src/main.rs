//! The web app's entry point (built by Trunk). Natively it does nothing:
//! the app only runs in a browser.

fn main() {
    #[cfg(target_arch = "wasm32")]
    pfnscope_web::start();
}
