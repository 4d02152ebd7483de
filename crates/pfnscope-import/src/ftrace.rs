//! ftrace text of the `kmem` tracepoints `mm_page_alloc`, `mm_page_free`
//! and `mm_page_alloc_extfrag`, and its replay onto a machine.
//!
//! Lines of other events and tracer headers are counted and skipped. A
//! `pfn=` field may be hex (`0x...`, 5.14+) or decimal (older kernels).
//! Replay allocates exactly the traced blocks and frees them; a line the
//! model cannot follow (the PFN is not free, or not allocated, in the model)
//! is counted as a divergence, which is expected when the trace starts from
//! a state the model does not have.

use pfnscope_core::{Machine, MigrateType, PageKind};

use crate::error::{ImportError, Place, Result};

/// One traced page allocator event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Alloc { cpu: u32, pfn: u64, order: u8, migratetype: u8, gfp: String },
    Free { cpu: u32, pfn: u64, order: u8 },
    /// A fallback to another migratetype's free list.
    Extfrag { pfn: u64, alloc_order: u8, fallback_order: u8, alloc_migratetype: u8, fallback_migratetype: u8, change_ownership: bool },
}

/// A parsed trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub events: Vec<(usize, Event)>,
    /// Lines that were not kmem page events.
    pub skipped: usize,
}

fn fields(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split_whitespace().filter_map(|w| w.split_once('='))
}

fn num(file: &str, n: usize, key: &str, v: &str) -> Result<u64> {
    let v = v.trim_end_matches(',');
    let r = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse::<u64>(),
    };
    r.map_err(|_| ImportError::new(file, Place::Line(n), format!("{key}= expected a number, found {v:?}")))
}

/// Parses ftrace text (`trace` or `trace_pipe` output).
pub fn parse(file: &str, text: &str) -> Result<Trace> {
    let mut t = Trace::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let Some((head, event, rest)) = ["mm_page_alloc:", "mm_page_free:", "mm_page_alloc_extfrag:"]
            .iter()
            .find_map(|e| line.find(e).map(|at| (&line[..at], *e, &line[at + e.len()..])))
        else {
            t.skipped += 1;
            continue;
        };
        // The CPU is the `[006]` field of the line head, when present.
        let cpu = head.split('[').nth(1).and_then(|c| c.split(']').next()).and_then(|c| c.trim().parse::<u32>().ok()).unwrap_or(0);
        let mut pfn = None;
        let mut get = std::collections::BTreeMap::new();
        for (k, v) in fields(rest) {
            if k == "pfn" {
                pfn = Some(num(file, n, k, v)?);
            } else {
                get.insert(k, v);
            }
        }
        let pfn = pfn.ok_or_else(|| ImportError::new(file, Place::Line(n), format!("{event} without pfn=")))?;
        let small = |k: &str| -> Result<u8> {
            let v = get.get(k).ok_or_else(|| ImportError::new(file, Place::Line(n), format!("{event} without {k}=")))?;
            let x = num(file, n, k, v)?;
            u8::try_from(x).map_err(|_| ImportError::new(file, Place::Line(n), format!("{k}={x} is out of range")))
        };
        let e = match event {
            "mm_page_alloc:" => Event::Alloc {
                cpu,
                pfn,
                order: small("order")?,
                migratetype: small("migratetype")?,
                gfp: get.get("gfp_flags").map_or(String::new(), |g| g.to_string()),
            },
            "mm_page_free:" => Event::Free { cpu, pfn, order: small("order")? },
            _ => Event::Extfrag {
                pfn,
                alloc_order: small("alloc_order")?,
                fallback_order: small("fallback_order")?,
                alloc_migratetype: small("alloc_migratetype")?,
                fallback_migratetype: small("fallback_migratetype")?,
                change_ownership: get.get("change_ownership").is_some_and(|v| *v == "1"),
            },
        };
        t.events.push((n, e));
    }
    Ok(t)
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    pub allocs: u64,
    pub frees: u64,
    /// (line, why) for events the model could not follow.
    pub diverged: Vec<(usize, String)>,
    pub extfrag: u64,
    /// extfrag events with change_ownership=1.
    pub claimed: u64,
}

/// The page kind a traced allocation most likely holds, from its GFP flags.
fn kind_for(gfp: &str, migratetype: u8) -> PageKind {
    if gfp.contains("__GFP_RECLAIMABLE") {
        PageKind::SlabReclaimable
    } else if gfp.contains("MOVABLE") || migratetype == MigrateType::Movable as u8 {
        if gfp.contains("HIGHUSER") { PageKind::Anon } else { PageKind::File }
    } else {
        PageKind::Kernel
    }
}

/// Replays a trace onto a machine, in order. Allocations take exactly the
/// traced block; frees drop it.
pub fn replay(m: &mut Machine, t: &Trace) -> Replay {
    let mut r = Replay::default();
    let nr_cpus = m.nr_cpus() as u32;
    for (line, e) in &t.events {
        match e {
            Event::Alloc { cpu, pfn, order, migratetype, gfp } => {
                let _ = m.set_cpu((cpu % nr_cpus) as u8);
                match m.alloc_pages_at(*pfn, *order, kind_for(gfp, *migratetype)) {
                    Ok(()) => r.allocs += 1,
                    Err(e) => r.diverged.push((*line, e.to_string())),
                }
            }
            Event::Free { cpu, pfn, order } => {
                let _ = m.set_cpu((cpu % nr_cpus) as u8);
                match m.free_pages(*pfn, *order) {
                    Ok(_) => r.frees += 1,
                    Err(e) => r.diverged.push((*line, e.to_string())),
                }
            }
            Event::Extfrag { change_ownership, .. } => {
                r.extfrag += 1;
                r.claimed += u64::from(*change_ownership);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfnscope_core::MachineSpec;

    const SAMPLE: &str = "# tracer: nop\n\
         bash-1234 [001] ..... 100.000001: mm_page_alloc: page=0xffffea0000401000 pfn=0x2010 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP\n\
         bash-1234 [001] ..... 100.000002: mm_page_alloc: page=0xffffea0000402000 pfn=0x2020 order=2 migratetype=0 gfp_flags=GFP_KERNEL\n\
         bash-1234 [001] ..... 100.000003: sched_switch: prev_comm=bash\n\
         <idle>-0 [006] d.s. 1110.217281: mm_page_alloc_extfrag: page=ffffea0064142000 pfn=26235008 alloc_order=3 fallback_order=3 pageblock_order=9 alloc_migratetype=0 fallback_migratetype=2 fragmenting=1 change_ownership=1\n\
         bash-1234 [000] ..... 100.000004: mm_page_free: page=0xffffea0000401000 pfn=0x2010 order=0\n\
         bash-1234 [000] ..... 100.000005: mm_page_free: page=0xffffea0000401000 pfn=0x2010 order=0\n";

    #[test]
    fn parses_hex_and_decimal_pfns_and_skips_other_events() {
        let t = parse("trace", SAMPLE).unwrap();
        assert_eq!(t.skipped, 2);
        assert_eq!(t.events.len(), 5);
        assert_eq!(t.events[0].1, Event::Alloc { cpu: 1, pfn: 0x2010, order: 0, migratetype: 1, gfp: "GFP_HIGHUSER_MOVABLE|__GFP_COMP".into() });
        assert!(matches!(t.events[2].1, Event::Extfrag { pfn: 26235008, change_ownership: true, .. }));
    }

    #[test]
    fn replay_applies_what_the_model_can_follow_and_counts_the_rest() {
        let t = parse("trace", SAMPLE).unwrap();
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let r = replay(&mut m, &t);
        assert_eq!((r.allocs, r.frees, r.extfrag, r.claimed), (2, 1, 1, 1));
        assert_eq!(r.diverged.len(), 1, "the second free of 0x2010");
        assert_eq!(r.diverged[0].0, 7);
        assert_eq!(m.allocation_at(0x2021), Some((0x2020, 2)));
        m.check_quiescent().unwrap();
    }

    #[test]
    fn malformed_events_name_the_line() {
        let e = parse("t.txt", "x [000] mm_page_alloc: pfn=0xZZ order=0 migratetype=1\n").unwrap_err();
        assert_eq!(e.place, Place::Line(1));
        assert!(e.to_string().contains("pfn= expected a number"));
        let e = parse("t.txt", "\n\nx mm_page_free: pfn=5\n").unwrap_err();
        assert!(e.to_string().contains("t.txt, line 3: mm_page_free: without order="), "{e}");
    }
}
