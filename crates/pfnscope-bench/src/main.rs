//! Runs the core benchmarks and prints their figures as JSON: natively
//! (`cargo run --release -p pfnscope-bench`), or in a browser, where the
//! page `web/bench.html` runs this same program compiled to wasm and shows
//! the JSON in `#bench-result` (`scripts/bench-wasm.sh` does both and
//! compares them).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let start = std::time::Instant::now();
    let clock = move || start.elapsed().as_secs_f64() * 1e3;
    let smoke = std::env::args().any(|a| a == "--smoke");
    let size = if smoke { pfnscope_bench::Size::Smoke } else { pfnscope_bench::Size::Full };
    println!("{}", pfnscope_bench::to_json(&pfnscope_bench::run(&clock, size)));
}

#[cfg(target_arch = "wasm32")]
fn main() {
    let window = web_sys::window().expect("a window");
    let perf = window.performance().expect("performance.now()");
    let json = pfnscope_bench::to_json(&pfnscope_bench::run(&|| perf.now(), pfnscope_bench::Size::Full));
    let doc = window.document().expect("a document");
    let pre = doc.create_element("pre").expect("an element");
    pre.set_id("bench-result");
    pre.set_text_content(Some(&json));
    doc.body().expect("a body").append_child(&pre).expect("appended");
}
