//! Browser tests: the app mounted in headless Chromium, driven through its
//! DOM, and checked against the native model. Run by scripts/test.sh with
//! wasm-bindgen-test-runner.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use pfnscope_core::Scenario;
use pfnscope_view::session::Session;
use pfnscope_web::{App, AppProps};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{CanvasRenderingContext2d, Element, HtmlCanvasElement, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

const W: u32 = 640;
const H: u32 = 400;

fn scenario() -> Scenario {
    Scenario { steps: 3_000, ..Scenario::default() }
}

fn props(url_error: Option<String>) -> AppProps {
    AppProps { scenario: scenario(), url_error, width: W, height: H, compare: None, animate: false, bench: None, open: None, link: None, builtin: None, embed: false }
}

async fn sleep(ms: u64) {
    yew::platform::time::sleep(Duration::from_millis(ms)).await;
}

/// Mounts the app in a fresh `<div>` and waits until its scenario is built.
async fn mount(props: AppProps) -> Element {
    let doc = gloo::utils::document();
    let root = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    yew::Renderer::<App>::with_root_and_props(root.clone(), props).render();
    for _ in 0..200 {
        if root.query_selector("[data-ready=true]").unwrap().is_some() {
            sleep(20).await;
            return root;
        }
        sleep(25).await;
    }
    panic!("the app did not finish building its scenario");
}

fn find<T: JsCast>(root: &Element, sel: &str) -> T {
    root.query_selector(sel).unwrap().unwrap_or_else(|| panic!("no {sel}")).dyn_into::<T>().unwrap()
}

/// The map's pixels at whatever height the machine needs (a small machine
/// takes less than the room).
fn map_pixels(root: &Element) -> Vec<u8> {
    let canvas: HtmlCanvasElement = find(root, "canvas#pfn-map");
    let ctx = canvas.get_context("2d").unwrap().unwrap().dyn_into::<CanvasRenderingContext2d>().unwrap();
    ctx.get_image_data(0.0, 0.0, canvas.width() as f64, canvas.height() as f64).unwrap().data().0
}

fn canvas_pixels(root: &Element) -> Vec<u8> {
    let canvas: HtmlCanvasElement = find(root, "canvas#pfn-map");
    assert_eq!((canvas.width(), canvas.height()), (W, H));
    let ctx = canvas.get_context("2d").unwrap().unwrap().dyn_into::<CanvasRenderingContext2d>().unwrap();
    ctx.get_image_data(0.0, 0.0, W as f64, H as f64).unwrap().data().0
}

/// Types into an input the way a user does (an `input` event that bubbles).
fn type_into(root: &Element, sel: &str, text: &str) {
    let input: HtmlInputElement = find(root, sel);
    input.set_value(text);
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    input.dispatch_event(&web_sys::Event::new_with_event_init_dict("input", &init).unwrap()).unwrap();
}

fn press(key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    let e = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    gloo::utils::document().dispatch_event(&e).unwrap();
}

fn text(root: &Element, sel: &str) -> String {
    find::<Element>(root, sel).text_content().unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_pfn_map_canvas_shows_exactly_the_native_models_pixels() {
    let root = mount(props(None)).await;
    let pixels = canvas_pixels(&root);
    let native = Session::new(&scenario(), W, H).unwrap();
    assert!(pixels == native.render(), "the canvas differs from the native rendering of the same scenario");
    // And it is a real picture, not a blank canvas.
    let mut colors: Vec<[u8; 4]> = pixels.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
    colors.sort();
    colors.dedup();
    assert!(colors.len() > 8, "only {} colors on the map", colors.len());
    // The buddyinfo panel shows the model's numbers.
    let first_row = text(&root, "#buddyinfo tbody tr");
    assert!(first_row.starts_with("DMA"), "{first_row}");
}

#[wasm_bindgen_test]
async fn an_allocation_is_traced_and_stepped_back_with_the_keyboard() {
    let root = mount(props(None)).await;
    type_into(&root, "#order", "2");
    sleep(20).await;
    find::<HtmlElement>(&root, "#run-alloc").click();
    sleep(50).await;
    let pos = text(&root, "#step-pos");
    let (now, len) = pos.split_once(" / ").expect("position");
    assert_eq!(now, len, "the player starts at the last step: {pos}");
    assert!(root.query_selector(".stack a[href*='elixir.bootlin.com/linux/v6.12']").unwrap().is_some());

    press("ArrowLeft");
    sleep(50).await;
    let len: usize = len.parse().unwrap();
    assert_eq!(text(&root, "#step-pos"), format!("{} / {len}", len - 1));

    // The same operations natively give the same picture.
    let mut native = Session::new(&scenario(), W, H).unwrap();
    native.alloc_pages("GFP_KERNEL", "2", "slab, unmovable").unwrap();
    native.step_by(-1);
    assert!(canvas_pixels(&root) == native.render(), "after stepping back, the canvas differs from the native model");
}

#[wasm_bindgen_test]
async fn bad_input_shows_a_message_and_keeps_the_state() {
    let root = mount(props(None)).await;
    let before = canvas_pixels(&root);
    type_into(&root, "#order", "99");
    sleep(20).await;
    find::<HtmlElement>(&root, "#run-alloc").click();
    sleep(50).await;
    let msg = text(&root, ".notice.error");
    assert!(msg.contains("order must be a whole number from 0 to 10"), "{msg}");
    assert!(canvas_pixels(&root) == before, "a refused request changed the map");
}

#[wasm_bindgen_test]
async fn a_bad_url_is_reported_and_the_default_scenario_still_loads() {
    let root = mount(props(Some("unknown URL parameter \"colour\"".into()))).await;
    assert!(text(&root, ".notice.error").contains("colour"));
    assert_eq!(canvas_pixels(&root).len(), (W * H * 4) as usize);
}

/// The fingerprints the native build computed (see
/// crates/pfnscope-core/tests/determinism.rs), recomputed in the browser.
#[wasm_bindgen_test]
fn wasm_builds_the_same_machines_as_native_code() {
    let fixture: Vec<(Scenario, String)> = serde_json::from_str(include_str!("fixtures/determinism.json")).unwrap();
    assert!(fixture.len() >= 5);
    for (scenario, native) in fixture {
        let wasm = format!("{:016x}", scenario.build().unwrap().fingerprint());
        assert_eq!(wasm, native, "{}: wasm and native machines differ", scenario.title);
    }
}

fn click(root: &Element, sel: &str) {
    find::<HtmlElement>(root, sel).click();
}

async fn wait_ready(root: &Element) {
    for _ in 0..200 {
        sleep(25).await;
        if root.query_selector("[data-ready=true]").unwrap().is_some() {
            sleep(20).await;
            return;
        }
    }
    panic!("the scenario did not finish building");
}

#[wasm_bindgen_test]
async fn the_default_scenario_opens_ready_to_play_and_n_steps_match_the_native_model() {
    let root = mount(props(None)).await;
    let pos = text(&root, "#step-pos");
    assert!(pos.starts_with("0 / "), "opens before the first step: {pos}");
    for _ in 0..5 {
        press("ArrowRight");
        sleep(10).await;
    }
    sleep(30).await;
    assert!(text(&root, "#step-pos").starts_with("5 / "));
    let mut native = Session::new(&scenario(), W, H).unwrap();
    native.step_by(5);
    assert!(canvas_pixels(&root) == native.render(), "after 5 steps the canvas differs from the native model after 5 steps");
}

#[wasm_bindgen_test]
async fn one_click_away_a_pinned_page_makes_the_same_grab_fail() {
    let root = mount(props(None)).await;
    click(&root, "#builtin-pinned");
    sleep(30).await;
    wait_ready(&root).await;
    press("End");
    sleep(50).await;
    let step = text(&root, "#step-text");
    assert!(step.contains("alloc_contig_range failed") && step.contains("-EBUSY"), "{step}");
    assert!(root.query_selector(".step.failure").unwrap().is_some());
}

fn type_into_textarea(root: &Element, sel: &str, text: &str) {
    let area: web_sys::HtmlTextAreaElement = find(root, sel);
    area.set_value(text);
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    area.dispatch_event(&web_sys::Event::new_with_event_init_dict("input", &init).unwrap()).unwrap();
}

#[wasm_bindgen_test]
async fn pasted_buddyinfo_imports_a_synthesized_machine_that_operations_work_on() {
    let root = mount(props(None)).await;
    type_into_textarea(&root, "#paste", "Node 0, zone   Normal     7      3      2      0      0      0      0      0      0      1      9\n");
    sleep(20).await;
    click(&root, "#import-paste");
    sleep(30).await;
    wait_ready(&root).await;
    assert!(text(&root, ".map-toolbar .title").starts_with("imported: pasted buddyinfo"), "{}", text(&root, ".notice"));
    let row = text(&root, "#buddyinfo tbody tr");
    assert!(row.starts_with("Normal") && row.ends_with("19"), "buddyinfo follows the paste: {row}");
    // Operations work on it.
    click(&root, "#run-alloc");
    sleep(60).await;
    assert!(text(&root, "#step-pos").contains(" / "));
    // Garbage is refused and the machine kept.
    type_into_textarea(&root, "#paste", "this is not buddyinfo");
    sleep(20).await;
    click(&root, "#import-paste");
    sleep(30).await;
    wait_ready(&root).await;
    assert!(text(&root, ".notice.error").contains("buddyinfo"));
    assert!(text(&root, ".map-toolbar .title").starts_with("imported: pasted buddyinfo"));
}

/// The real fixture (tests/fixtures/real-x86-64-linux-6.18) as a snapshot
/// file, chosen in the file input: it imports in chunks and the panels show
/// the machine's own buddyinfo for the copied zones.
#[wasm_bindgen_test]
async fn a_real_snapshot_file_imports_in_chunks_and_matches_its_buddyinfo() {
    use std::io::Read;
    let buddyinfo = include_str!("fixtures/real-x86-64-linux-6.18/buddyinfo");
    let zoneinfo = include_str!("fixtures/real-x86-64-linux-6.18/zoneinfo");
    let pagetypeinfo = include_str!("fixtures/real-x86-64-linux-6.18/pagetypeinfo");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&include_bytes!("fixtures/real-x86-64-linux-6.18/kpageflags.gz")[..]).read_to_end(&mut raw).unwrap();
    let (first, flags) = pfnscope_import::snapshot::kpageflags_for_zones(Some(zoneinfo), &raw);
    let snap = pfnscope_import::Snapshot {
        buddyinfo: buddyinfo.into(),
        pagetypeinfo: Some(pagetypeinfo.into()),
        zoneinfo: Some(zoneinfo.into()),
        kpageflags: Some((first, flags)),
    };
    let bytes = snap.to_bytes();

    let root = mount(props(None)).await;
    let parts = js_sys::Array::new();
    parts.push(&js_sys::Uint8Array::from(&bytes[..]));
    let file = web_sys::File::new_with_u8_array_sequence(&parts, "real.pfns").unwrap();
    let dt = web_sys::DataTransfer::new().unwrap();
    dt.items().add_with_file(&file).unwrap();
    let input: HtmlInputElement = find(&root, "#import-file");
    input.set_files(Some(&dt.files().unwrap()));
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    input.dispatch_event(&web_sys::Event::new_with_event_init_dict("change", &init).unwrap()).unwrap();
    // The file is read, decompressed and imported asynchronously: wait
    // for the import itself, not just for a ready page.
    for _ in 0..400 {
        sleep(25).await;
        if text(&root, ".map-toolbar .title").starts_with("imported") {
            break;
        }
    }
    wait_ready(&root).await;
    assert!(text(&root, ".map-toolbar .title").starts_with("imported: real.pfns"), "{}", text(&root, ".notice"));
    let rows: Vec<String> = {
        let list = root.query_selector_all("#buddyinfo tbody tr").unwrap();
        (0..list.length()).map(|i| list.item(i).unwrap().text_content().unwrap()).collect()
    };
    for line in buddyinfo.lines().take(2) {
        let mut words = line.split_whitespace().skip(3);
        let zone = words.next().unwrap();
        let want: String = words.collect::<Vec<_>>().concat();
        assert!(rows.iter().any(|r| *r == format!("{zone}{want}")), "{zone}: {rows:?}");
    }
}

fn canvas_of(root: &Element, sel: &str) -> (u32, u32, Vec<u8>) {
    let canvas: HtmlCanvasElement = find(root, sel);
    let (w, h) = (canvas.width(), canvas.height());
    let ctx = canvas.get_context("2d").unwrap().unwrap().dyn_into::<CanvasRenderingContext2d>().unwrap();
    (w, h, ctx.get_image_data(0.0, 0.0, w as f64, h as f64).unwrap().data().0)
}

/// Seed 001's lesson side by side: opened from the URL, both maps equal
/// the native model of each variant at every synchronized step, and the
/// table shows where 6.12 and v4.9 differ.
#[wasm_bindgen_test]
async fn the_compare_view_steps_both_kernels_together_as_the_native_models_do() {
    let props = AppProps { scenario: Scenario::builtin("slab-in-movable").unwrap(), url_error: None, width: W, height: H, compare: Some(pfnscope_view::compare::Against::V49), animate: false, bench: None, open: None, link: None, builtin: None, embed: false };
    let root = mount(props).await;
    for _ in 0..40 {
        if root.query_selector("canvas#compare-right").unwrap().is_some() {
            break;
        }
        sleep(25).await;
    }
    let mut native = Session::new(&Scenario::builtin("slab-in-movable").unwrap(), W, H).unwrap();
    let (base, op) = native.before_play().unwrap();
    let contest = pfnscope_view::compare::Against::V49.contest(&op).unwrap();
    let mut cmp = pfnscope_view::compare::Comparison::new(&base, contest);
    let last = cmp.timeline.len() - 1;
    assert_eq!(text(&root, "#compare-pos"), format!("0 / {last}"));
    let palette = native.palette();
    for t in 0..=last {
        cmp.seek(t);
        let (w, h, left) = canvas_of(&root, "canvas#compare-left");
        let (_, _, right) = canvas_of(&root, "canvas#compare-right");
        let (want_left, want_right) = cmp.render(&cmp.frame(w, h), &palette);
        assert!(left == want_left, "tick {t}: the 6.12 map differs from the native model");
        assert!(right == want_right, "tick {t}: the v4.9 map differs from the native model");
        press("ArrowRight");
        sleep(15).await;
    }
    let differs: Vec<String> = (0..8)
        .filter_map(|i| root.query_selector(&format!(".compare-table tbody tr:nth-child({}).differs th", i + 1)).unwrap())
        .map(|e| e.text_content().unwrap_or_default())
        .collect();
    assert!(differs.contains(&"pageblocks isolated".to_string()), "{differs:?}");
    assert!(text(&root, ".compare-side:last-child .outcome").contains("PFNs busy"));
    press("Escape");
    sleep(30).await;
    assert!(root.query_selector("section.compare").unwrap().is_none());
    assert!(root.query_selector("canvas#pfn-map").unwrap().is_some());
}

/// The contiguity layer in the app is the native map: the same summary
/// and, pixel for pixel, the same tinted map.
#[wasm_bindgen_test]
async fn the_contiguity_layer_equals_the_native_map() {
    let root = mount(props(None)).await;
    find::<HtmlElement>(&root, "#contig-run").click();
    for _ in 0..100 {
        if root.query_selector("#contiguity-summary").unwrap().is_some() {
            break;
        }
        sleep(20).await;
    }
    let mut native = Session::new(&scenario(), W, H).unwrap();
    let layer = pfnscope_view::contiguity::Layer::new("2 MiB".into(), native.machine.contiguity_map(512));
    assert_eq!(text(&root, "#contiguity-summary"), layer.sentence());
    native.layer = Some(layer);
    assert!(canvas_pixels(&root) == native.render(), "the tinted map differs from the native rendering");
}

/// A failed grab explains itself: the pinned page is listed under its rule,
/// and clicking it frames it on the map as the native session does.
#[wasm_bindgen_test]
async fn a_failed_grab_lists_its_blockers_and_frames_one_when_clicked() {
    let pinned = Scenario { steps: 3_000, ..Scenario::builtin("pinned").unwrap() };
    let root = mount(AppProps { scenario: pinned.clone(), url_error: None, width: W, height: H, compare: None, animate: false, bench: None, open: None, link: None, builtin: None, embed: false }).await;
    let why = text(&root, "#diagnosis");
    assert!(why.contains("pinned"), "{why}");
    let button: HtmlElement = find(&root, "#diagnosis button.pfn");
    let pfn = pfnscope_view::session::parse_pfn(&button.text_content().unwrap()).unwrap();
    button.click();
    sleep(50).await;
    let mut native = Session::new(&pinned, W, H).unwrap();
    let blocker = native.attempts[0].diagnosis.blockers.iter().find(|b| b.pfn == pfn).unwrap().clone();
    native.focus_on(blocker.pfn, blocker.pages);
    assert!(canvas_pixels(&root) == native.render(), "the framed map differs from the native model");
}

/// The camera: after loading, and after every step, the step's pages are
/// in view; scrolling away turns following off until it is turned on.
#[wasm_bindgen_test]
async fn the_camera_keeps_the_operation_in_view() {
    let root = mount(props(None)).await;
    let mut native = Session::new(&scenario(), W, H).unwrap();
    let r = native.op_range().unwrap();
    let shown = native.viewport.visible_pfns();
    assert!(shown.start <= r.start && shown.end >= r.end);
    assert!(canvas_pixels(&root) == native.render(), "the framed view differs from the native camera");
    for _ in 0..5 {
        press("ArrowRight");
        native.step_by(1);
    }
    sleep(60).await;
    assert!(canvas_pixels(&root) == native.render(), "after five steps the camera differs from the native one");
    assert_eq!(find::<Element>(&root, "#follow").get_attribute("aria-pressed").as_deref(), Some("true"));
    press("PageDown");
    sleep(30).await;
    assert_eq!(find::<Element>(&root, "#follow").get_attribute("aria-pressed").as_deref(), Some("false"));
    press("f");
    sleep(30).await;
    assert_eq!(find::<Element>(&root, "#follow").get_attribute("aria-pressed").as_deref(), Some("true"));
}

/// Animated steps end on the native picture, pixel for pixel (the frames
/// in between are tested natively).
#[wasm_bindgen_test]
async fn an_animated_step_ends_exactly_on_the_native_picture() {
    let root = mount(AppProps { animate: true, ..props(None) }).await;
    let mut native = Session::new(&scenario(), W, H).unwrap();
    press("ArrowRight");
    native.step_by(1);
    sleep(450).await;
    assert!(canvas_pixels(&root) == native.render(), "after the animation the canvas differs from the native model");
    // Several steps in quick succession: each gives way, the end is exact.
    for _ in 0..6 {
        press("ArrowRight");
        native.step_by(1);
        sleep(5).await;
    }
    sleep(450).await;
    assert!(canvas_pixels(&root) == native.render(), "after rapid steps the canvas differs from the native model");
}

/// The operation form: sizes with units, an end as +size, a checkbox for
/// CMA, errors that name their field, and a range picked on the map.
#[wasm_bindgen_test]
async fn the_operation_form_takes_sizes_checkboxes_and_a_range_picked_on_the_map() {
    let root = mount(props(None)).await;
    type_into(&root, "#op-arg0", "0x3000");
    type_into(&root, "#op-arg1", "+3X");
    sleep(20).await;
    find::<HtmlElement>(&root, "#run-op").click();
    sleep(50).await;
    assert!(text(&root, ".notice.error").starts_with("end pfn or +size: unknown unit"), "{}", text(&root, ".notice.error"));
    let cma: HtmlInputElement = find(&root, "#op-arg2");
    assert_eq!(cma.type_(), "checkbox");
    type_into(&root, "#op-arg1", "+2M");
    sleep(20).await;
    find::<HtmlElement>(&root, "#run-op").click();
    sleep(80).await;
    assert!(text(&root, ".trace-title").contains("alloc_contig_range(0x3000, 0x3200"), "{}", text(&root, ".trace-title"));
    // Pick a range: two clicks on the map.
    find::<HtmlElement>(&root, "#pick-range").click();
    sleep(30).await;
    let canvas: HtmlElement = find(&root, "canvas#pfn-map");
    let click = |x: i32, y: i32| {
        let init = web_sys::MouseEventInit::new();
        init.set_bubbles(true);
        init.set_client_x(canvas.get_bounding_client_rect().left() as i32 + x);
        init.set_client_y(canvas.get_bounding_client_rect().top() as i32 + y);
        canvas.dispatch_event(&web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &init).unwrap()).unwrap();
    };
    click(2, 10);
    sleep(30).await;
    click(40, 10);
    sleep(30).await;
    let start = pfnscope_view::session::parse_pfn(&find::<HtmlInputElement>(&root, "#op-arg0").value()).unwrap();
    let end = pfnscope_view::session::parse_pfn(&find::<HtmlInputElement>(&root, "#op-arg1").value()).unwrap();
    assert!(end > start, "picked {start:#x}-{end:#x}");
    assert!(text(&root, ".notice.info").starts_with("picked"), "{}", text(&root, ".notice"));
}

/// Seeds 003 and 004: a seed's lesson loads from its panel button, played
/// to its end it shades the pages given back to the host, and the
/// comparison with seed 004's walk is drawn with the native figures.
#[wasm_bindgen_test]
async fn the_reporting_lesson_shades_given_back_pages_and_its_comparison_has_the_native_figures() {
    let root = mount(props(None)).await;
    find::<HtmlElement>(&root, "#lesson-free-page-reporting").click();
    sleep(50).await;
    wait_ready(&root).await;
    assert!(text(&root, ".map-toolbar .title").starts_with("Free page reporting"), "{}", text(&root, ".notice"));
    assert!(text(&root, "#policy-reporting").contains("free page reporting (mainline, 6.12) from order 3"));
    let mut native = Session::new(&Scenario::builtin("free-page-reporting").unwrap(), W, H).unwrap();
    native.follow = false;
    press("End");
    sleep(50).await;
    let len = native.player.as_ref().unwrap().len();
    native.seek(Some(len - 1));
    // The camera followed the steps, so only the shade is compared.
    let (_, _, pixels) = canvas_of(&root, "canvas#pfn-map");
    let reported = native.palette().category(pfnscope_view::palette::Category::Reported, 0).0;
    assert!(pixels.chunks_exact(4).any(|c| c == reported), "no page is shaded as given back to the host");
    assert!(text(&root, "#zones").contains("rep"));

    find::<HtmlElement>(&root, "#seed-run-reporting").click();
    for _ in 0..200 {
        if root.query_selector("#seed-charts").unwrap().is_some() {
            break;
        }
        sleep(25).await;
    }
    let base = native.machine.clone();
    let want = pfnscope_view::seeds::reporting(&base, 30, Some(3)).unwrap();
    let shown = text(&root, "#seed-charts");
    assert!(shown.contains(&want.summary[0]) && shown.contains(&want.summary[1]), "{shown}");
    let canvas: HtmlCanvasElement = find(&root, "#seed-charts canvas");
    let ctx = canvas.get_context("2d").unwrap().unwrap().dyn_into::<CanvasRenderingContext2d>().unwrap();
    let data = ctx.get_image_data(0.0, 0.0, canvas.width() as f64, canvas.height() as f64).unwrap().data().0;
    assert!(data.chunks_exact(4).any(|c| c[..3] == [0xd5, 0x5e, 0x00]), "the seed's line is drawn");
}

/// Seed 003 from the scenario form: choosing the region allocator and
/// loading names every region's state beside the map, and the URL's
/// policies reach the machine.
#[wasm_bindgen_test]
async fn the_region_allocator_chosen_in_the_form_shows_its_regions() {
    let root = mount(props(None)).await;
    let select: web_sys::HtmlSelectElement = find(&root, "#allocator");
    select.set_value("regions");
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    select.dispatch_event(&web_sys::Event::new_with_event_init_dict("change", &init).unwrap()).unwrap();
    sleep(20).await;
    find::<HtmlElement>(&root, "#load").click();
    sleep(50).await;
    wait_ready(&root).await;
    assert!(text(&root, "#policy-allocator").contains("region allocator (seed 003"), "{}", text(&root, "#policy-allocator"));
    let s = pfnscope_view::session::scenario_from_query("machine=teaching-64m&workload=desktop&seed=42&steps=12000&allocator=regions").unwrap();
    let native = Session::new(&s, W, H).unwrap();
    let (free, all) = native.machine.powerable_regions();
    assert!(text(&root, "#policy-allocator").contains(&format!("{free} of {all} all free")));
    assert_eq!(all, 8, "8 MiB regions on the 64 MiB machine");
}

/// The app as a URL query opens it, at the tests' map size.
fn props_of(query: &str) -> AppProps {
    AppProps { width: W, height: H, animate: false, ..AppProps::from_query(query) }
}

/// A share link of a built-in scenario reopens exactly the picture the
/// native model draws for the same step, zoom and first PFN.
#[wasm_bindgen_test]
async fn share_links_to_built_ins_reopen_the_same_pixels() {
    use pfnscope_view::link::Link;
    for query in ["?scenario=tour&step=2", "?scenario=straddling-buddy&step=8&zoom=2&at=0x500", "?scenario=unmovable-slab&step=12&zoom=0&at=0x1800", "?scenario=no-merge-across-types&step=3"] {
        let root = mount(props_of(query)).await;
        let link = Link::parse(query).unwrap();
        let pfnscope_view::link::Source::Builtin(name) = &link.source else { panic!() };
        let mut native = Session::new(&Scenario::builtin(name).unwrap(), W, H).unwrap();
        native.apply_link(&link);
        assert_eq!(text(&root, "#step-pos"), format!("{} / {}", link.step.unwrap(), native.player.as_ref().unwrap().len()), "{query}");
        assert!(map_pixels(&root) == native.render(), "{query}: the link's picture differs from the native model's");
        root.remove();
    }
}

/// A user's own scenario (an explicit machine, not a built-in) is packed
/// into the link the app makes; that link reopens the same step and view.
#[wasm_bindgen_test]
async fn a_copied_link_packs_a_users_scenario_and_reopens_the_same_picture() {
    let text_file = "title My board\nmachine custom A small board\nzone Normal 0x0 0x800\nreserved 0x0 0x20\npage 0x210 slab\nplay alloc_contig_range 0x200 0x400\nexpect -EBUSY at 0x210\ncheckpoint has_unmovable_pages\ntext The slab page stops isolation.\n";
    let scenario = Scenario::parse(text_file).unwrap();
    let root = mount(AppProps { scenario, ..props(None) }).await;
    press("ArrowRight");
    press("ArrowRight");
    sleep(50).await;
    click(&root, "#share");
    let mut url = String::new();
    for _ in 0..100 {
        sleep(20).await;
        if let Some(input) = root.query_selector("#share-url").unwrap() {
            url = input.dyn_into::<HtmlInputElement>().unwrap().value();
            break;
        }
    }
    let query = url.split_once('?').map(|(_, q)| format!("?{q}")).expect("a link with a query");
    assert!(query.starts_with("?s=") && query.contains("&step=2"), "{query}");
    let again = mount(props_of(&query)).await;
    assert_eq!(text(&again, ".map-toolbar .title"), "My board");
    assert_eq!(text(&again, "#step-pos"), text(&root, "#step-pos"));
    assert!(map_pixels(&again) == map_pixels(&root), "the reopened link shows another picture");
    assert_eq!(text(&again, ".panel.lesson"), text(&root, ".panel.lesson"), "the lesson travels with the link");
    click(&again, "#checkpoint-next");
    sleep(60).await;
    assert!(text(&again, ".panel.lesson").contains("The slab page stops isolation."));
}

/// The example teaching page's two lessons open in embed mode: map,
/// player and lesson only, and the host page's keys stay with the host
/// until the reader clicks into the lesson.
#[wasm_bindgen_test]
async fn the_teaching_pages_embedded_lessons_keep_only_map_player_and_lesson() {
    let page = include_str!("../web/teaching.html");
    let srcs: Vec<&str> = page.split("src=\"index.html").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(srcs.len(), 2, "two lessons");
    for src in srcs {
        let query = src.replace("&amp;", "&");
        let root = mount(props_of(&query)).await;
        assert!(root.query_selector(".app.embed").unwrap().is_some(), "{query}");
        assert!(root.query_selector("header").unwrap().is_none() && root.query_selector("#op-name").unwrap().is_none(), "{query}: only the map, the player and the lesson");
        assert!(root.query_selector("canvas#pfn-map").unwrap().is_some() && root.query_selector(".panel.lesson").unwrap().is_some());
        assert!(text(&root, "#step-pos").starts_with("0 / "));
        press("ArrowRight");
        sleep(40).await;
        assert!(text(&root, "#step-pos").starts_with("0 / "), "{query}: a key on the host page moved the lesson");
        let app: HtmlElement = find(&root, ".app.embed");
        app.focus().unwrap();
        let init = web_sys::KeyboardEventInit::new();
        init.set_key("ArrowRight");
        init.set_bubbles(true);
        app.dispatch_event(&web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap()).unwrap();
        sleep(60).await;
        assert!(text(&root, "#step-pos").starts_with("1 / "), "{query}: a key in the lesson steps it");
        root.remove();
    }
}

/// Waits (up to 10 s) until something asynchronous has happened: a file
/// read, a fetch, a build.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        sleep(25).await;
    }
}

/// Opens text as a file in the scenario-file input, as a user choosing it.
async fn open_scenario_file(root: &Element, name: &str, content: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(content));
    let file = web_sys::File::new_with_str_sequence(&parts, name).unwrap();
    let dt = web_sys::DataTransfer::new().unwrap();
    dt.items().add_with_file(&file).unwrap();
    let input: HtmlInputElement = find(root, "#scenario-file");
    input.set_files(dt.files().as_ref());
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    input.dispatch_event(&web_sys::Event::new_with_event_init_dict("change", &init).unwrap()).unwrap();
    sleep(150).await;
}

/// A malformed scenario file is refused with its line and column and the
/// current view stays; a good one with an explicit machine and a lesson
/// opens with its lesson beside the map.
#[wasm_bindgen_test]
async fn a_scenario_file_opens_or_is_refused_with_line_and_column() {
    let root = mount(props(None)).await;
    let before = map_pixels(&root);
    open_scenario_file(&root, "bad.scenario", "title Broken\nmachine custom\nzone Normal 0x0 0x1000\nzone DMA 0x800 0x2000\n").await;
    until(|| root.query_selector(".notice.error").unwrap().is_some()).await;
    let msg = text(&root, ".notice.error");
    assert!(msg.contains("bad.scenario: line 4, column 10: zone DMA 0x800-0x2000 overlaps zone Normal"), "{msg}");
    assert!(map_pixels(&root) == before, "a refused file changed the map");
    open_scenario_file(&root, "good.scenario", "title A tiny board\nmachine custom Tiny\ncpus 1\nzone Normal 0x0 0x400\npage 0x110 anon pinned\nplay alloc_contig_range 0x0 0x200\ncheckpoint start\ntext One pinned page.\nask Will the grab work?\ncheckpoint end\ntext It did not.\n").await;
    until(|| text(&root, ".map-toolbar .title") == "A tiny board").await;
    wait_ready(&root).await;
    assert_eq!(text(&root, ".map-toolbar .title"), "A tiny board");
    assert!(text(&root, ".panel.lesson").contains("One pinned page."));
    assert!(text(&root, ".panel.lesson").contains("Predict first: Will the grab work?"));
    click(&root, "#checkpoint-next");
    sleep(60).await;
    assert!(text(&root, ".panel.lesson").contains("It did not."));
    // The browser keeps the file: the gallery lists it first, and it opens.
    click(&root, "#scenario-yours");
    until(|| root.query_selector(".gallery-box .topic").unwrap().is_some_and(|t| t.text_content().unwrap_or_default().contains("A tiny board"))).await;
    let first = root.query_selector(".gallery-box .topic").unwrap().expect("a topic");
    assert!(first.text_content().unwrap().starts_with("Your scenarios"));
    assert!(first.text_content().unwrap().contains("A tiny board"));
    assert!(text(&root, ".gallery-box").contains("First five minutes"), "the built-ins follow");
    click(&root, "#card-own-0");
    sleep(50).await;
    wait_ready(&root).await;
    assert!(root.query_selector(".gallery-overlay").unwrap().is_none());
    assert_eq!(text(&root, ".map-toolbar .title"), "A tiny board");
}

/// A link whose packed scenario is damaged, or names a file that is not
/// a scenario, says so and opens the default scenario.
#[wasm_bindgen_test]
async fn a_damaged_link_is_reported_and_the_default_opens() {
    let root = mount(props_of("?s=bm90IGEgc2NlbmFyaW8")).await;
    let msg = text(&root, ".notice.error");
    assert!(msg.starts_with("the link's scenario:") && msg.ends_with("showing the default scenario"), "{msg}");
    assert!(text(&root, ".map-toolbar .title").starts_with("A desktop's memory after a day"));
}

/// The exports for slides run in the browser: the map and the charts as
/// PNG, the scenario as a file, the played trace as a WebM video that
/// stops by itself at the last step.
#[wasm_bindgen_test]
async fn the_map_charts_scenario_and_a_video_export_from_the_page() {
    let root = mount(props_of("?scenario=tour")).await;
    click(&root, "#png-map");
    sleep(50).await;
    assert_eq!(text(&root, ".notice"), "saved the map as pfnscope-map.png");
    click(&root, "#png-charts");
    sleep(50).await;
    assert!(text(&root, ".notice").starts_with("saved the three charts"), "{}", text(&root, ".notice"));
    click(&root, "#scenario-export");
    sleep(50).await;
    assert!(text(&root, ".notice").starts_with("saved tour.scenario"), "{}", text(&root, ".notice"));
    click(&root, "#record");
    sleep(50).await;
    assert!(text(&root, ".notice").starts_with("recording"), "{}", text(&root, ".notice"));
    assert!(text(&root, "#record").contains("stop"));
    for _ in 0..100 {
        sleep(50).await;
        if text(&root, ".notice").starts_with("saved the video") {
            break;
        }
    }
    assert_eq!(text(&root, ".notice"), "saved the video as pfnscope-trace.webm");
    assert_eq!(text(&root, "#step-pos"), "3 / 3", "the video plays the whole trace");
    assert_eq!(text(&root, "#record"), "video");
}

/// `gallery=1` opens the page on the gallery, every built-in in it.
#[wasm_bindgen_test]
async fn a_gallery_link_opens_on_every_built_in() {
    let root = mount(props_of("?gallery=1")).await;
    for _ in 0..100 {
        sleep(30).await;
        if root.query_selector_all(".gallery-box .card:not([id^=card-own])").unwrap().length() as usize >= Scenario::builtins().count() {
            break;
        }
    }
    assert_eq!(root.query_selector_all(".gallery-box .card:not([id^=card-own])").unwrap().length() as usize, Scenario::builtins().count());
    let search: HtmlInputElement = find(&root, "#gallery-search");
    search.set_value("walk");
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    search.dispatch_event(&web_sys::Event::new_with_event_init_dict("input", &init).unwrap()).unwrap();
    sleep(50).await;
    let shown = root.query_selector_all(".gallery-box .card:not([id^=card-own])").unwrap().length();
    assert!((1..5).contains(&shown), "{shown} cards match \"walk\"");
    assert!(text(&root, ".gallery-box").contains("walk_free_mem_block"));
}
