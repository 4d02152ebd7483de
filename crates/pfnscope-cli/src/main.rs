//! `pfnscope`: the simulator on the command line.
//!
//! ```text
//! pfnscope presets
//! pfnscope show --machine teaching-64m --workload desktop --seed 42 --steps 12000 --format buddyinfo
//! pfnscope show --scenario my.scenario --format pagetypeinfo
//! sudo pfnscope capture -o this-machine.pfns
//! pfnscope capture --from copied-proc-files/ -o server.pfns
//! pfnscope import server.pfns --json
//! pfnscope compare --scenario slab-in-movable --against v4.9
//! pfnscope run pinned
//! pfnscope run my-lesson.scenario --json
//! pfnscope link my-lesson.scenario --step 12 --embed
//! pfnscope contiguity server.pfns --size 2M --json
//! pfnscope reporting default --seconds 30 --order 3
//! pfnscope migrate server.pfns --min-order 0
//! pfnscope regions default --region-size 8M
//! ```

mod compare;
mod diagnose;
mod regions;
mod reporting;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use pfnscope_core::{Machine, MachineSpec, Scenario, WorkloadSpec};
use pfnscope_import::Snapshot;

#[derive(Parser)]
#[command(name = "pfnscope", version, about = "Watch the Linux page allocator work: a Linux 6.12 physical memory simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the machine and workload presets.
    Presets,
    /// List the built-in scenarios, one per line, name first (for `run`,
    /// `compare`, `contiguity` and the app's `?scenario=`).
    List,
    /// Build a scenario and print its memory state.
    Show {
        /// A scenario file (overrides the other options).
        #[arg(long)]
        scenario: Option<std::path::PathBuf>,
        #[arg(long, default_value = "teaching-64m")]
        machine: String,
        #[arg(long)]
        workload: Option<String>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Workload steps; 0 ages the machine until it is lived-in (memory
        /// full, reclaim holding free memory near the watermarks).
        #[arg(long, default_value_t = 0)]
        steps: u64,
        #[arg(long, value_enum, default_value_t = Format::Summary)]
        format: Format,
    },
    /// Write a snapshot of this machine's memory (as root), or of /proc
    /// copies saved in a folder (buddyinfo, pagetypeinfo, zoneinfo, and
    /// kpageflags raw or as kpageflags.zst / kpageflags.gz).
    Capture {
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// Read the files from this folder instead of /proc.
        #[arg(long)]
        from: Option<std::path::PathBuf>,
    },
    /// Replay ftrace text of kmem:mm_page_alloc / mm_page_free /
    /// mm_page_alloc_extfrag onto a machine (a preset, or a snapshot).
    Replay {
        trace: std::path::PathBuf,
        #[arg(long, default_value = "teaching-64m")]
        machine: String,
        /// Start from this snapshot instead of a preset.
        #[arg(long)]
        snapshot: Option<std::path::PathBuf>,
    },
    /// Play a scenario's contiguous allocation in 6.12 and in a seed's
    /// historical variant from the same state, and print what differed and
    /// both traces side by side, phase by phase.
    Compare {
        /// A built-in scenario (default, pinned, slab-in-movable) or a
        /// scenario file; its `play` operation is compared.
        #[arg(long, default_value = "slab-in-movable")]
        scenario: String,
        #[arg(long, value_enum, default_value_t = compare::AgainstArg::V49)]
        against: compare::AgainstArg,
        /// Width of the side-by-side trace, in columns.
        #[arg(long, default_value_t = 160)]
        width: usize,
    },
    /// Run a scenario's operation headless: its trace (step, kernel
    /// function, text), its outcome and, when it failed or had to migrate,
    /// every page that stood in its way, with the rule each breaks. Exits
    /// non-zero when the outcome is not the scenario's expected one (`ok`
    /// when it names none) or a lesson checkpoint is not in the trace.
    Run {
        /// A built-in scenario (`pfnscope list`) or a scenario file.
        scenario: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        policies: Policies,
    },
    /// Where a contiguous range of a size could still be had: the verdict
    /// alloc_contig_range() would reach on every aligned window (free now,
    /// obtainable after migrating, or blocked, with the page and its rule).
    Contiguity {
        /// A snapshot (.pfns), a scenario file or a built-in scenario.
        file: String,
        /// Window size: pages (512) or bytes with a unit (2M, 4M, 1G).
        #[arg(long, default_value = "2M")]
        size: String,
        /// Print `{"size_pages", "windows": [...], "summary"}` as JSON.
        #[arg(long)]
        json: bool,
        /// List every window, not only the cheapest obtainable ones.
        #[arg(long)]
        all: bool,
    },
    /// Free page reporting two ways over the same workload and time:
    /// mainline (mm/page_reporting.c, 6.12, with virtio-balloon) against
    /// seed 004's walk_free_mem_block() called every 2 s. Prints pages
    /// reported, report calls and pages reported again over time.
    Reporting {
        /// A snapshot (.pfns), a scenario file or a built-in scenario.
        file: String,
        #[arg(long, default_value = "desktop")]
        workload: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 200)]
        steps_per_second: u64,
        /// page_reporting_order and the walk's min_order (default:
        /// pageblock_order, or 5 with 64 KiB pages).
        #[arg(long)]
        order: Option<u8>,
        #[arg(long)]
        json: bool,
    },
    /// A pre-copy live migration of the machine while a workload runs,
    /// with and without seed 004's free page hints: pages sent per round
    /// and the pages the hints saved.
    Migrate {
        /// A snapshot (.pfns), a scenario file or a built-in scenario.
        file: String,
        #[arg(long, default_value = "desktop")]
        workload: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The walk's min_order (default: pageblock_order).
        #[arg(long)]
        min_order: Option<u8>,
        /// Pages the link sends per ms (305 is about 10 Gbit/s of 4 KiB pages).
        #[arg(long, default_value_t = 305)]
        pages_per_ms: u64,
        #[arg(long)]
        json: bool,
    },
    /// Memory regions that could be powered down over time, the same
    /// workload on mainline 6.12 and on seed 003's region allocator (2013,
    /// not merged), with kmempowerd evacuating lightly used regions.
    Regions {
        /// A built-in scenario or a scenario file: its machine,
        /// workload and seed.
        scenario: String,
        /// Region size: pages or bytes with a unit (default: the series'
        /// 512M, or 8M on a machine under 1 GiB).
        #[arg(long)]
        region_size: Option<String>,
        #[arg(long, default_value_t = 20_000)]
        steps: u64,
        #[arg(long, default_value_t = 1_000)]
        sample_every: u64,
        /// The fill the workload aims for in the first half of the run,
        /// percent of memory.
        #[arg(long, default_value_t = 90)]
        peak: u8,
        /// The fill it aims for in the second half, once the load ended.
        #[arg(long, default_value_t = 20)]
        fill: u8,
        /// kmempowerd's threshold, percent used; 0 turns it off.
        #[arg(long, default_value_t = 25)]
        evacuate: u8,
        #[arg(long)]
        json: bool,
    },
    /// Print a share link that opens a scenario in the app: a built-in
    /// by name, a scenario file packed into the link.
    Link {
        /// A built-in scenario (`pfnscope list`) or a scenario file.
        scenario: String,
        /// Open at this many steps played (0: before the first).
        #[arg(long)]
        step: Option<usize>,
        /// For an iframe: the map, the player and the lesson only.
        #[arg(long)]
        embed: bool,
        /// Where the app is served.
        #[arg(long, default_value = "http://127.0.0.1:8080/")]
        base: String,
    },
    /// Reconstruct a machine from a snapshot and describe it.
    Import {
        file: std::path::PathBuf,
        /// Print JSON: `zones[]` with `name` and `free_blocks_per_order`.
        #[arg(long)]
        json: bool,
    },
}

/// The seeds' policies, overriding the scenario's.
#[derive(clap::Args)]
struct Policies {
    /// The page allocator: mainline (6.12) or regions (seed 003, 2013).
    #[arg(long)]
    allocator: Option<String>,
    /// Memory region size: pages or bytes with a unit (8M, 512M).
    #[arg(long)]
    region_size: Option<String>,
    /// Free page reporting: off, mainline or walk (seed 004, 2017).
    #[arg(long)]
    reporting: Option<String>,
    /// page_reporting_order, or the walk's min_order.
    #[arg(long)]
    reporting_order: Option<u8>,
}

impl Policies {
    /// The scenario with these policies where given.
    fn apply(&self, mut s: Scenario) -> Result<Scenario, String> {
        if let Some(a) = &self.allocator {
            s.allocator = pfnscope_core::AllocatorPolicy::by_name(a).ok_or_else(|| format!("--allocator {a}: mainline or regions"))?;
        }
        if let Some(r) = &self.reporting {
            s.reporting = pfnscope_core::ReportingPolicy::by_name(r).ok_or_else(|| format!("--reporting {r}: off, mainline or walk"))?;
        }
        if self.reporting_order.is_some() {
            s.reporting_order = self.reporting_order;
        }
        if let Some(t) = &self.region_size {
            let page = MachineSpec::preset(&s.machine).map_or(4096, |m| m.geometry.page_size());
            s.region_pages = Some(pfnscope_view::session::parse_size(t, page).map_err(|e| format!("--region-size: {e}"))?);
        }
        Ok(s)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Summary,
    Buddyinfo,
    Pagetypeinfo,
    Json,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pfnscope: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Presets => {
            println!("machines:");
            for name in MachineSpec::PRESETS.iter().chain([&MachineSpec::NATIVE_PRESET]) {
                let spec = MachineSpec::preset(name).expect("listed preset");
                let native = if *name == MachineSpec::NATIVE_PRESET { " (command line only: too big for a browser)" } else { "" };
                println!("  {name:<14} {}{native}", spec.name);
            }
            println!("workloads:");
            for name in WorkloadSpec::PRESETS {
                let w = WorkloadSpec::preset(name).expect("listed preset");
                println!("  {name:<14} {}", w.description);
            }
            Ok(())
        }
        Command::List => {
            for name in Scenario::builtins() {
                let s = Scenario::builtin(name).expect("listed built-in");
                println!("{name:<28} {:<16} {}", s.topic, s.title);
            }
            Ok(())
        }
        Command::Show { scenario, machine, workload, seed, steps, format } => {
            let scenario = match scenario {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
                }
                None => Scenario { workload, seed, steps, ..Scenario::blank("command line", &machine) },
            };
            let m = scenario.build().map_err(|e| e.to_string())?;
            print!("{}", render(&m, format));
            Ok(())
        }
        Command::Capture { output, from } => {
            let snap = match from {
                Some(dir) => Snapshot::from_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?,
                None => capture_proc()?,
            };
            let bytes = snap.to_bytes();
            std::fs::write(&output, &bytes).map_err(|e| format!("{}: {e}", output.display()))?;
            let pfns = snap.kpageflags.as_ref().map_or(0, |k| k.1.len());
            eprintln!("pfnscope: wrote {} ({} bytes; kpageflags for {pfns} PFNs)", output.display(), bytes.len());
            Ok(())
        }
        Command::Replay { trace, machine, snapshot } => {
            let name = trace.display().to_string();
            let text = std::fs::read_to_string(&trace).map_err(|e| format!("{name}: {e}"))?;
            let events = pfnscope_import::ftrace::parse(&name, &text).map_err(|e| e.to_string())?;
            let mut m = match snapshot {
                Some(p) => {
                    let n = p.display().to_string();
                    let bytes = std::fs::read(&p).map_err(|e| format!("{n}: {e}"))?;
                    let snap = Snapshot::from_bytes(&n, &bytes).map_err(|e| e.to_string())?;
                    pfnscope_import::reconstruct(&snap).map_err(|e| format!("{n}: {e}"))?.machine
                }
                None => Machine::new(MachineSpec::preset(&machine).ok_or_else(|| format!("unknown machine {machine:?}"))?).map_err(|e| e.to_string())?,
            };
            let r = pfnscope_import::ftrace::replay(&mut m, &events);
            println!(
                "{} events ({} other lines skipped): {} allocations and {} frees applied, {} diverged; {} extfrag fallbacks ({} claimed the pageblock)",
                events.events.len(),
                events.skipped,
                r.allocs,
                r.frees,
                r.diverged.len(),
                r.extfrag,
                r.claimed
            );
            for (line, why) in r.diverged.iter().take(5) {
                println!("  line {line}: {why}");
            }
            print!("{}", m.buddyinfo());
            Ok(())
        }
        Command::Compare { scenario, against, width } => {
            let s = diagnose::load_scenario(&scenario)?;
            let play = s.play.clone().ok_or_else(|| format!("{scenario}: the scenario plays no operation"))?;
            let contest = against.variant().contest(&play)?;
            let m = s.build().map_err(|e| e.to_string())?;
            print!("{}", compare::report(&m, contest, width));
            Ok(())
        }
        Command::Run { scenario, json, policies } => {
            let s = policies.apply(diagnose::load_scenario(&scenario)?)?;
            let (out, verdict) = diagnose::run(&scenario, &s, json)?;
            print!("{out}");
            verdict
        }
        Command::Contiguity { file, size, json, all } => {
            print!("{}", diagnose::contiguity(&file, &size, json, all)?);
            Ok(())
        }
        Command::Reporting { file, workload, seed, seconds, steps_per_second, order, json } => {
            let cfg = pfnscope_core::reporting::timeline::TimelineConfig { workload, seed, seconds, steps_per_second, order, ..Default::default() };
            print!("{}", reporting::reporting(&file, &cfg, json)?);
            Ok(())
        }
        Command::Migrate { file, workload, seed, min_order, pages_per_ms, json } => {
            let cfg = pfnscope_core::reporting::live_migration::MigrationConfig { workload, seed, min_order, pages_per_ms, ..Default::default() };
            print!("{}", reporting::migrate(&file, &cfg, json)?);
            Ok(())
        }
        Command::Regions { scenario, region_size, steps, sample_every, peak, fill, evacuate, json } => {
            let page_size = diagnose::load_scenario(&scenario)
                .ok()
                .and_then(|s| MachineSpec::preset(&s.machine))
                .map_or(4096, |m| 1u64 << m.geometry.page_shift);
            let region_pages = match region_size {
                Some(t) => Some(pfnscope_view::session::parse_size(&t, page_size)?),
                None => None,
            };
            let cfg = pfnscope_core::regions::timeline::RegionTimelineConfig {
                region_pages,
                steps,
                sample_every,
                evacuate_pct: (evacuate > 0).then_some(evacuate),
                peak_fill_pct: Some(peak),
                fill_pct: Some(fill),
            };
            print!("{}", regions::regions(&scenario, &cfg, json)?);
            Ok(())
        }
        Command::Link { scenario, step, embed, base } => {
            use pfnscope_view::link::{pack, Link, Source};
            let source = if Scenario::is_builtin(&scenario) {
                Source::Builtin(scenario)
            } else {
                let text = std::fs::read_to_string(&scenario).map_err(|e| format!("{scenario}: {e} (not a file, nor a built-in scenario)"))?;
                Scenario::parse(&text).map_err(|e| format!("{scenario}: {e}"))?;
                Source::Inline(pack(&text))
            };
            println!("{base}{}", Link { source, step, embed, ..Link::default() }.to_query());
            Ok(())
        }
        Command::Import { file, json } => {
            let name = file.display().to_string();
            let bytes = std::fs::read(&file).map_err(|e| format!("{name}: {e}"))?;
            let snap = Snapshot::from_bytes(&name, &bytes).map_err(|e| e.to_string())?;
            let imported = pfnscope_import::reconstruct(&snap).map_err(|e| format!("{name}: {e}"))?;
            if let Err(v) = imported.machine.check_invariants() {
                return Err(format!("{name}: the reconstructed machine is inconsistent: {v}"));
            }
            print!("{}", describe_import(&imported, json));
            Ok(())
        }
    }
}

/// Reads this machine's /proc files; kpageflags only for the PFNs of the
/// populated zones, in 8-byte-aligned reads as the file requires.
fn capture_proc() -> Result<Snapshot, String> {
    use std::io::{Read, Seek, SeekFrom};
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let buddyinfo = read("/proc/buddyinfo")?;
    let pagetypeinfo = read("/proc/pagetypeinfo").ok();
    let zoneinfo = read("/proc/zoneinfo")?;
    let zones = pfnscope_import::procfs::parse_zoneinfo(&zoneinfo).map_err(|e| e.to_string())?;
    let first = zones.iter().map(|z| z.start_pfn).min().unwrap_or(0);
    let end = zones.iter().map(|z| z.start_pfn + z.spanned).max().unwrap_or(0);
    let mut f = std::fs::File::open("/proc/kpageflags").map_err(|e| format!("/proc/kpageflags: {e} (capture needs root)"))?;
    f.seek(SeekFrom::Start(first * 8)).map_err(|e| format!("/proc/kpageflags: {e}"))?;
    let mut flags = Vec::with_capacity((end - first) as usize);
    let mut buf = vec![0u8; 8 << 16];
    while (flags.len() as u64) < end - first {
        let want = (((end - first) as usize - flags.len()) * 8).min(buf.len());
        let n = f.read(&mut buf[..want]).map_err(|e| format!("/proc/kpageflags: {e}"))?;
        if n == 0 {
            break;
        }
        flags.extend(buf[..n - n % 8].chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes"))));
    }
    Ok(Snapshot { buddyinfo, pagetypeinfo, zoneinfo: Some(zoneinfo), kpageflags: Some((first, flags)) })
}

fn describe_import(imp: &pfnscope_import::Imported, json: bool) -> String {
    let m = &imp.machine;
    let kinds = |zi: usize| {
        let z = &m.zones()[zi];
        let mut counts = std::collections::BTreeMap::<&'static str, u64>::new();
        for p in z.span.start..z.span.end {
            let k = match m.page(p).as_in_use() {
                Some(u) => u.kind.label(),
                None if m.is_free(p) => "free",
                None => "hole",
            };
            *counts.entry(k).or_default() += 1;
        }
        counts
    };
    if json {
        let zones: Vec<_> = (0..m.zones().len())
            .map(|zi| {
                let mut z = zone_json(m, zi);
                z["page_kinds"] = serde_json::json!(kinds(zi));
                z
            })
            .collect();
        return serde_json::to_string_pretty(&serde_json::json!({ "synthesized": imp.synthesized, "notes": imp.notes, "zones": zones })).expect("json") + "\n";
    }
    let mut out = String::new();
    if imp.synthesized {
        out += "SYNTHESIZED: no kpageflags; the layout below is made up to match the counts\n";
    }
    for (zi, z) in m.zones().iter().enumerate() {
        out += &format!("zone {:<8} start PFN {:#x}, spans {} pages\n", z.name(), z.span.start, z.span.len());
        out += &format!("  free blocks per order: {:?}\n", (0..=m.geometry().max_order).map(|o| m.nr_free(zi, o)).collect::<Vec<_>>());
        let pb = m.pageblock_counts(zi);
        out += &format!(
            "  pageblocks: {}\n",
            pfnscope_core::MigrateType::ALL.iter().map(|mt| format!("{} {}", mt.proc_name(), pb[mt.index()])).collect::<Vec<_>>().join(", ")
        );
        out += &format!("  pages: {}\n", kinds(zi).iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "));
    }
    for n in &imp.notes {
        out += &format!("note: {n}\n");
    }
    out
}

fn render(m: &Machine, format: Format) -> String {
    match format {
        Format::Buddyinfo => m.buddyinfo(),
        Format::Pagetypeinfo => m.pagetypeinfo(),
        Format::Summary => {
            let mut out = format!("{}\n", m.spec().name);
            for (zi, z) in m.zones().iter().enumerate() {
                out += &format!(
                    "  {:<8} PFNs {:#x}-{:#x}  managed {:>9}  free {:>9}  wmark min/low/high {}/{}/{}\n",
                    z.name(),
                    z.span.start,
                    z.span.end,
                    z.managed_pages,
                    m.zone_free_pages(zi),
                    z.watermark[0],
                    z.watermark[1],
                    z.watermark[2]
                );
            }
            out + &m.buddyinfo()
        }
        Format::Json => {
            let zones: Vec<_> = (0..m.zones().len()).map(|zi| zone_json(m, zi)).collect();
            serde_json::to_string_pretty(&serde_json::json!({ "machine": m.spec().name, "zones": zones })).expect("json") + "\n"
        }
    }
}

/// A zone as JSON: name (as /proc names it), span, free pages, free blocks
/// per order (order 0 first) and pageblocks per migratetype.
fn zone_json(m: &Machine, zi: usize) -> serde_json::Value {
    let z = &m.zones()[zi];
    let counts = m.pageblock_counts(zi);
    serde_json::json!({
        "name": z.name(),
        "start_pfn": z.span.start,
        "spanned": z.span.len(),
        "managed": z.managed_pages,
        "free_pages": m.zone_free_pages(zi),
        "free_blocks_per_order": (0..=m.geometry().max_order).map(|o| m.nr_free(zi, o)).collect::<Vec<_>>(),
        "pageblocks_per_type": pfnscope_core::MigrateType::ALL.iter().map(|mt| (mt.proc_name().to_string(), serde_json::json!(counts[mt.index()]))).collect::<serde_json::Map<String, serde_json::Value>>(),
    })
}
