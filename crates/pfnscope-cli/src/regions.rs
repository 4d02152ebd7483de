//! `pfnscope regions`: regions that could be powered down over time, the
//! same workload on mainline and on seed 003's region allocator.

use pfnscope_core::regions::timeline::{compare_regions, RegionTimeline, RegionTimelineConfig};

use crate::diagnose::load_scenario;

pub fn regions(name: &str, cfg: &RegionTimelineConfig, json: bool) -> Result<String, String> {
    let s = load_scenario(name)?;
    let [main, ra] = compare_regions(&s, cfg).map_err(|e| e.to_string())?;
    if json {
        let out = serde_json::json!({ "scenario": s.title, "machine": s.machine, "config": cfg, "mainline": main, "regions": ra });
        return Ok(serde_json::to_string_pretty(&out).expect("json") + "\n");
    }
    let size = pfnscope_view::labels::bytes_label(main.region_pages * main.page_size);
    let mut out = format!(
        "{} ({}): {} steps of {}, aiming at {}% of memory in the first half and {}% in the second; regions of {size}; kmempowerd {}\n\n",
        s.title,
        s.machine,
        cfg.steps,
        s.workload.as_deref().unwrap_or("desktop"),
        cfg.peak_fill_pct.map_or("the preset's".to_string(), |f| f.to_string()),
        cfg.fill_pct.map_or("the preset's".to_string(), |f| f.to_string()),
        cfg.evacuate_pct.map_or("off".to_string(), |p| format!("at each sample, for regions at most {p}% used"))
    );
    out += &format!("{:>8}  {:>22}  {:>22}\n", "step", "mainline 6.12", "region allocator");
    for (a, b) in main.samples.iter().zip(&ra.samples) {
        out += &format!("{:>8}  {:>12} of {:>6}  {:>12} of {:>6}\n", a.step, a.powerable, a.regions, b.powerable, b.regions);
    }
    out += "\n";
    out += &line(&main, "mainline 6.12");
    out += &line(&ra, "region allocator (2013)");
    out += pfnscope_core::regions::timeline::WHAT_IS_MEASURED;
    out += "\n";
    Ok(out)
}

fn line(t: &RegionTimeline, name: &str) -> String {
    let s = t.last();
    format!("{name}: {} of {} regions could be powered down at the end ({} free pages)\n", s.powerable, s.regions, s.free_pages)
}
