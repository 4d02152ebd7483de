//! Read-only panels: buddyinfo, legend, tooltip, help.

use pfnscope_view::inspect::PageInfo;
use pfnscope_view::palette::Palette;
use pfnscope_view::session::Session;
use yew::html::Scope;
use yew::prelude::*;

use crate::app::{App, Msg};

/// `/proc/buddyinfo` as a table, with free pages and watermarks per zone.
pub fn buddyinfo(s: &Session) -> Html {
    let m = &s.machine;
    let max = m.geometry().max_order;
    html! {
        <section class="panel">
            <h2 title="Free blocks per order, as /proc/buddyinfo shows them">{ "buddyinfo" }</h2>
            <table id="buddyinfo" class="numbers">
                <thead><tr><th>{ "zone" }</th>{ for (0..=max).map(|o| html! { <th>{ o }</th> }) }</tr></thead>
                <tbody>
                    { for m.zones().iter().enumerate().map(|(zi, z)| html! {
                        <tr>
                            <th title={format!("PFNs {:#x}-{:#x}, {} free pages, watermarks min/low/high {}/{}/{}",
                                z.span.start, z.span.end, m.zone_free_pages(zi), z.watermark[0], z.watermark[1], z.watermark[2])}>{ z.name() }</th>
                            { for (0..=max).map(|o| html! { <td>{ m.nr_free(zi, o) }</td> }) }
                        </tr>
                    }) }
                </tbody>
            </table>
        </section>
    }
}

/// Per zone: free pages and watermarks, CMA, isolated pageblocks, the
/// HIGHATOMIC reserve, the watermark boost; then pageblocks by type.
pub fn zone_summary(s: &Session) -> Html {
    use pfnscope_core::{MigrateType, ZoneCounter};
    let m = &s.machine;
    let (reporting, regions) = (m.reporting_status().is_some(), m.region_spec().is_some());
    let short = |mt: MigrateType| match mt {
        MigrateType::Unmovable => "Unm",
        MigrateType::Movable => "Mov",
        MigrateType::Reclaimable => "Rec",
        MigrateType::HighAtomic => "HAt",
        MigrateType::Cma => "CMA",
        MigrateType::Isolate => "Iso",
    };
    html! {
        <section class="panel">
            <h2 title="Counters of each zone; pageblocks by migratetype as /proc/pagetypeinfo counts them">{ "zones" }</h2>
            <table id="zones" class="numbers">
                <thead><tr>
                    <th>{ "zone" }</th><th title="NR_FREE_PAGES (isolated pages not counted)">{ "free" }</th>
                    <th title="min / low / high watermarks + boost">{ "wmarks" }</th><th title="NR_FREE_CMA_PAGES">{ "cma" }</th>
                    <th title="nr_isolate_pageblock">{ "iso" }</th><th title="nr_reserved_highatomic">{ "hatom" }</th>
                    if reporting { <th title="Pages in PageReported blocks (pfnscope counts them; the kernel keeps no such counter)">{ "rep" }</th> }
                    if regions { <th title="Memory regions all free (could be powered down) / regions">{ "regions" }</th> }
                </tr></thead>
                <tbody>
                    { for m.zones().iter().enumerate().map(|(zi, z)| {
                        let boost = m.zone_counter(zi, ZoneCounter::WatermarkBoost);
                        html! {
                            <tr>
                                <th>{ z.name() }</th>
                                <td>{ m.zone_free_pages(zi) }</td>
                                <td>{ format!("{}/{}/{}{}", z.watermark[0], z.watermark[1], z.watermark[2], if boost > 0 { format!("+{boost}") } else { String::new() }) }</td>
                                <td>{ m.zone_counter(zi, ZoneCounter::FreeCmaPages) }</td>
                                <td>{ m.zone_counter(zi, ZoneCounter::NrIsolatePageblock) }</td>
                                <td>{ m.zone_counter(zi, ZoneCounter::NrReservedHighatomic) }</td>
                                if reporting { <td>{ m.zone_reported_pages(zi) }</td> }
                                if regions {
                                    <td>{ format!("{}/{}", (0..m.zone_regions(zi)).filter(|&r| m.region_powerable(zi, r)).count(), m.zone_regions(zi)) }</td>
                                }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            <table id="pageblocks" class="numbers">
                <thead><tr>
                    <th title="Pageblocks by migratetype">{ "pageblocks" }</th>
                    { for MigrateType::ALL.iter().map(|&mt| html! { <th title={format!("{mt} pageblocks")}>{ short(mt) }</th> }) }
                </tr></thead>
                <tbody>
                    { for m.zones().iter().enumerate().map(|(zi, z)| html! {
                        <tr><th>{ z.name() }</th>{ for m.pageblock_counts(zi).iter().map(|n| html! { <td>{ n }</td> }) }</tr>
                    }) }
                </tbody>
            </table>
        </section>
    }
}

/// `/proc/pagetypeinfo`'s free blocks per type and order, for the types
/// that have any.
pub fn pagetypeinfo(s: &Session) -> Html {
    use pfnscope_core::MigrateType;
    let m = &s.machine;
    let max = m.geometry().max_order;
    let rows: Vec<(usize, MigrateType, Vec<u64>)> = (0..m.zones().len())
        .flat_map(|zi| MigrateType::ALL.iter().map(move |&mt| (zi, mt)))
        .map(|(zi, mt)| (zi, mt, (0..=max).map(|o| m.free_blocks_of_type(zi, o, mt)).collect::<Vec<_>>()))
        .filter(|(_, _, v)| v.iter().any(|&n| n > 0))
        .collect();
    html! {
        <section class="panel">
            <h2 title="Free blocks per migratetype and order, as /proc/pagetypeinfo shows them">{ "pagetypeinfo" }</h2>
            <table id="pagetypeinfo" class="numbers">
                <thead><tr><th>{ "zone, type" }</th>{ for (0..=max).map(|o| html! { <th>{ o }</th> }) }</tr></thead>
                <tbody>
                    { for rows.iter().map(|(zi, mt, v)| html! {
                        <tr><th>{ format!("{} {}", m.zones()[*zi].name(), mt.proc_name()) }</th>{ for v.iter().map(|n| html! { <td>{ n }</td> }) }</tr>
                    }) }
                </tbody>
            </table>
        </section>
    }
}

fn swatch(label: &str, css: String) -> Html {
    html! { <li><span class="swatch" style={format!("background:{css}")}></span>{ label }</li> }
}

/// The colors of pages and pageblock types.
pub fn legend(p: &Palette, m: &pfnscope_core::Machine) -> Html {
    let mut pages = p.page_legend(m.geometry().max_order);
    if m.reporting_status().is_some() {
        use pfnscope_view::palette::Category;
        pages.insert(2, (Category::Reported.label(), p.category(Category::Reported, 0)));
    }
    let mut blocks = p.migratetype_legend();
    if m.region_spec().is_some() {
        blocks.push(("held by the region allocator".into(), p.region_allocator()));
        blocks.push(("a memory region begins (line); its band beside the ruler is hollow when all free".into(), p.region_edge()));
    }
    html! {
        <div class="legend" aria-label="Legend">
            <div>
                <h3>{ "pages" }</h3>
                <ul>{ for pages.iter().map(|(l, c)| swatch(l, c.css())) }</ul>
            </div>
            <div>
                <h3 title="The strip above each row of pages">{ "pageblocks" }</h3>
                <ul>{ for blocks.iter().map(|(l, c)| swatch(l, c.css())) }</ul>
            </div>
        </div>
    }
}

/// The hover tooltip.
pub fn tooltip(info: &PageInfo, x: u32, y: u32, in_strip: bool, count: u64) -> Html {
    let note = if count > 1 {
        Some(format!("this pixel covers {count} pages from here; zoom in to see each"))
    } else if in_strip {
        Some("pageblock strip: the color is the pageblock's migratetype".to_string())
    } else {
        None
    };
    html! {
        <div class="tooltip" role="tooltip" style={format!("left:{}px;top:{}px", x + 14, y + 14)}>
            <table>{ for info.rows.iter().map(|(k, v)| html! { <tr><th>{ *k }</th><td>{ v }</td></tr> }) }</table>
            if let Some(n) = note { <p class="hint">{ n }</p> }
        </div>
    }
}

/// Keyboard shortcuts.
pub fn help_overlay(link: &Scope<App>) -> Html {
    let keys = [
        ("space", "play / pause the trace"),
        ("→ / ←", "step the trace forward / back"),
        ("Shift+→ / Shift+←", "jump to the next / previous decision or failure"),
        ("Home / End", "first / last step"),
        ("+ / −", "zoom in / out"),
        ("Ctrl+wheel", "zoom at the mouse"),
        ("wheel, ↑ / ↓, PgUp / PgDn", "scroll the map"),
        ("0", "fit the whole machine"),
        ("f", "the camera follows the operation, or stays put"),
        ("→ / ← in a comparison", "step both kernels together; Esc closes it"),
        ("[ / ]", "the lesson's previous / next checkpoint"),
        ("g", "the gallery of scenarios and lessons"),
        ("t", "light / dark theme"),
        ("?", "this help"),
        ("Esc", "close"),
    ];
    html! {
        <div class="help-overlay" role="dialog" aria-label="Keyboard shortcuts" onclick={link.callback(|_| Msg::Help(false))}>
            <div class="help-box">
                <h2>{ "Keyboard" }</h2>
                <table>{ for keys.iter().map(|(k, v)| html! { <tr><th><kbd>{ *k }</kbd></th><td>{ *v }</td></tr> }) }</table>
                <p class="hint">{ "Every trace step names the kernel function it models and links to its Linux v6.12 source." }</p>
            </div>
        </div>
    }
}
