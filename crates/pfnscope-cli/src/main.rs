//! `pfnscope`: the simulator on the command line.
//!
//! ```text
//! pfnscope presets
//! pfnscope show --machine teaching-64m --workload desktop --seed 42 --steps 12000 --format buddyinfo
//! pfnscope show --scenario my.json --format pagetypeinfo
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use pfnscope_core::{Machine, MachineSpec, Scenario, WorkloadSpec};

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
    /// Build a scenario and print its memory state.
    Show {
        /// A scenario JSON file (overrides the other options).
        #[arg(long)]
        scenario: Option<std::path::PathBuf>,
        #[arg(long, default_value = "teaching-64m")]
        machine: String,
        #[arg(long)]
        workload: Option<String>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 0)]
        steps: u64,
        #[arg(long, value_enum, default_value_t = Format::Summary)]
        format: Format,
    },
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
            for name in MachineSpec::PRESETS {
                let spec = MachineSpec::preset(name).expect("listed preset");
                println!("  {name:<14} {}", spec.name);
            }
            println!("workloads:");
            for name in WorkloadSpec::PRESETS {
                let w = WorkloadSpec::preset(name).expect("listed preset");
                println!("  {name:<14} {}", w.description);
            }
            Ok(())
        }
        Command::Show { scenario, machine, workload, seed, steps, format } => {
            let scenario = match scenario {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    Scenario::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
                }
                None => Scenario { title: "command line".into(), machine, workload, seed, steps, setup: vec![], play: None },
            };
            let m = scenario.build().map_err(|e| e.to_string())?;
            print!("{}", render(&m, format));
            Ok(())
        }
    }
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
            let zones: Vec<_> = m
                .zones()
                .iter()
                .enumerate()
                .map(|(zi, z)| {
                    serde_json::json!({
                        "name": z.name(),
                        "start_pfn": z.span.start,
                        "spanned": z.span.len(),
                        "managed": z.managed_pages,
                        "free_pages": m.zone_free_pages(zi),
                        "free_blocks_per_order": (0..=m.geometry().max_order).map(|o| m.nr_free(zi, o)).collect::<Vec<_>>(),
                        "pageblocks_per_type": m.pageblock_counts(zi),
                    })
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({ "machine": m.spec().name, "zones": zones })).expect("json") + "\n"
        }
    }
}
