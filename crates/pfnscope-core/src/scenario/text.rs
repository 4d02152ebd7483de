//! The scenario file: a line-oriented text a teacher writes by hand
//! (`docs/scenarios.md` is its reference). Each line is a keyword and its
//! words; `#` starts a comment outside text values. Errors carry the line
//! and column of the word at fault, and nothing is returned half-read.
//!
//! ```
//! use pfnscope_core::Scenario;
//! let s = Scenario::parse("title Two pages\nmachine teaching-16m\npage 0x100 slab\nplay alloc_contig_range 0x0 0x200\nexpect -EBUSY at 0x100\n").unwrap();
//! assert_eq!(s.machine, "teaching-16m");
//! let e = Scenario::parse("title x\nmachine pdp-11\n").unwrap_err();
//! assert_eq!((e.line, e.col), (2, 9));
//! ```
//!
//! Hand-written rather than serde: the app parses scenario files and links,
//! and a serde `Deserialize` for every operation costs the web bundle more
//! than this whole module.

use std::fmt::Write as _;

use super::lesson::{At, Checkpoint, Expect, ERRNOS};
use super::words::{number, op_words, parse_op, parse_page, range, workload, words, Fail, Word};
use super::Scenario;
use crate::geometry::{CmaSpec, Geometry, MachineSpec, VirtioMemSpec, ZoneSpec, ZoneType};
use crate::ops::Op;
use crate::regions::AllocatorPolicy;
use crate::reporting::ReportingPolicy;
use crate::trace::KernelFn;

/// A scenario file that could not be read: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// From 1.
    pub line: usize,
    /// From 1, in characters.
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The kernels a scenario can play against 6.12, side by side.
pub const VARIANTS: [&str; 2] = ["v4.9", "2010"];

/// The geometries an explicit machine can have.
const GEOMETRIES: [(&str, Geometry); 4] =
    [("x86-64-4k", Geometry::X86_64_4K), ("arm64-4k", Geometry::ARM64_4K), ("arm64-16k", Geometry::ARM64_16K), ("arm64-64k", Geometry::ARM64_64K)];

/// A PFN the file names, checked once the machine is known.
struct Named {
    line: usize,
    col: usize,
    pfn: u64,
    /// On a `page` line: it must have memory behind it.
    placed: bool,
}

/// Joins a line's value to a text: a space between lines, an empty line a
/// paragraph break.
fn join(text: &mut String, value: &str) {
    if value.is_empty() {
        text.push('\n');
    } else {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push(' ');
        }
        text.push_str(value);
    }
}

impl Scenario {
    /// Reads a scenario file.
    pub fn parse(text: &str) -> Result<Scenario, ParseError> {
        let mut s = Scenario::blank("", "");
        let mut pfns: Vec<Named> = Vec::new();
        let mut custom: Option<MachineSpec> = None;
        // The machine line's line and column, where the machine's own
        // errors are reported.
        let mut machine_at = None;
        let mut virtio_default: Vec<usize> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let no = i + 1;
            let err = |(col, message): Fail| ParseError { line: no, col, message };
            let ws = words(line);
            let Some(&(kcol, key)) = ws.first() else { continue };
            let args = &ws[1..];
            let end_col = line.chars().count() + 1;
            // A text value is the rest of the line, as written.
            let rest = || {
                let start = line.char_indices().nth(kcol - 1).map_or(line.len(), |(b, _)| b) + key.len();
                line[start..].split_whitespace().collect::<Vec<_>>().join(" ")
            };
            let one = |what: &str| -> Result<Word, ParseError> {
                match args {
                    [w] => Ok(*w),
                    [] => Err(err((end_col, format!("{key}: missing {what}")))),
                    [_, w, ..] => Err(err((w.0, format!("{key}: unexpected {:?}", w.1)))),
                }
            };
            let mut note = |words: Vec<(usize, u64)>, placed: bool| pfns.extend(words.into_iter().map(|(col, pfn)| Named { line: no, col, pfn, placed }));
            match key {
                "title" => join(&mut s.title, &rest()),
                "summary" => join(&mut s.summary, &rest()),
                "text" | "ask" | "answer" => {
                    let c = s.lesson.last_mut().ok_or_else(|| err((kcol, format!("{key} belongs to a checkpoint: put a checkpoint line first"))))?;
                    let target = match key {
                        "text" => &mut c.text,
                        "ask" => c.ask.get_or_insert_with(String::new),
                        _ => c.answer.get_or_insert_with(String::new),
                    };
                    join(target, &rest());
                }
                "topic" => s.topic = rest(),
                "machine" => {
                    let w = args.first().copied().ok_or_else(|| err((end_col, "machine: missing a preset name, or custom".into())))?;
                    machine_at = Some((no, w.0));
                    if w.1 == "custom" {
                        let rest = rest();
                        let named = rest.trim_start_matches("custom");
                        let name = named.split(" #").next().unwrap_or_default().trim().to_string();
                        let name = if name.is_empty() { "custom machine".to_string() } else { name };
                        s.machine = "custom".into();
                        let spec = custom.get_or_insert_with(|| MachineSpec { name: String::new(), geometry: Geometry::X86_64_4K, nr_cpus: 2, zones: vec![], cma: vec![], virtio_mem: vec![] });
                        spec.name = name;
                    } else {
                        if let Some(extra) = args.get(1) {
                            return Err(err((extra.0, format!("machine: unexpected {:?} after the preset name", extra.1))));
                        }
                        if !MachineSpec::PRESETS.contains(&w.1) && w.1 != MachineSpec::NATIVE_PRESET {
                            return Err(err((w.0, format!("unknown machine {:?}; choose one of {}, {}, or custom", w.1, MachineSpec::PRESETS.join(", "), MachineSpec::NATIVE_PRESET))));
                        }
                        s.machine = w.1.to_string();
                    }
                }
                "geometry" | "cpus" | "zone" | "hole" | "reserved" | "cma" | "virtio-mem" => {
                    let Some(spec) = custom.as_mut() else {
                        return Err(err((kcol, format!("{key} describes an explicit machine: write `machine custom` before it"))));
                    };
                    match key {
                        "geometry" => {
                            let w = one("a geometry")?;
                            spec.geometry = GEOMETRIES.iter().find(|g| g.0 == w.1).ok_or_else(|| err((w.0, format!("unknown geometry {:?} (known: {})", w.1, GEOMETRIES.map(|g| g.0).join(", ")))))?.1;
                        }
                        "cpus" => spec.nr_cpus = number(one("a number of CPUs")?, "CPUs").map_err(err)?,
                        "zone" => {
                            let [n, a, b] = args else { return Err(err((args.get(3).map_or(end_col, |w| w.0), "zone: write zone NAME START END, as in zone Normal 0x1000 0x3000".into()))) };
                            let zone_type = ZoneType::from_proc_name(n.1).ok_or_else(|| err((n.0, format!("unknown zone {:?} (known: DMA, DMA32, Normal, Movable)", n.1))))?;
                            let span = range(*a, *b).map_err(err)?;
                            if span.is_empty() {
                                return Err(err((b.0, format!("zone {}: the end {:#x} is not after the start {:#x}", n.1, span.end, span.start))));
                            }
                            for z in &spec.zones {
                                if z.span.start < span.end && span.start < z.span.end {
                                    return Err(err((a.0, format!("zone {} {:#x}-{:#x} overlaps zone {} {:#x}-{:#x}", n.1, span.start, span.end, z.zone_type.proc_name(), z.span.start, z.span.end))));
                                }
                                if z.zone_type >= zone_type || z.span.start > span.start {
                                    return Err(err((n.0, format!("zone {} must come after zone {}: zones go lowest first, DMA, DMA32, Normal, Movable", n.1, z.zone_type.proc_name()))));
                                }
                            }
                            spec.zones.push(ZoneSpec { zone_type, span, holes: vec![], reserved: vec![] });
                        }
                        "hole" | "reserved" => {
                            let [a, b] = args else { return Err(err((args.get(2).map_or(end_col, |w| w.0), format!("{key}: write {key} START END")))) };
                            let r = range(*a, *b).map_err(err)?;
                            let z = spec.zones.iter_mut().find(|z| z.span.start <= r.start && r.end <= z.span.end && !r.is_empty());
                            let z = z.ok_or_else(|| err((a.0, format!("{key} {:#x}-{:#x} is not inside one zone declared above it", r.start, r.end))))?;
                            if key == "hole" { z.holes.push(r) } else { z.reserved.push(r) }
                        }
                        "cma" => {
                            let [a, b] = args else { return Err(err((args.get(2).map_or(end_col, |w| w.0), "cma: write cma START END".into()))) };
                            let r = range(*a, *b).map_err(err)?;
                            let name = if spec.cma.is_empty() { "reserved".to_string() } else { format!("cma{}", spec.cma.len()) };
                            spec.cma.push(CmaSpec { name, base_pfn: r.start, count: r.end.saturating_sub(r.start), order_per_bit: 0 });
                        }
                        _ => {
                            let (a, b) = match args {
                                [a, b] | [a, b, _] => (a, b),
                                _ => return Err(err((args.get(3).map_or(end_col, |w| w.0), "virtio-mem: write virtio-mem START END [SUBBLOCK_PAGES]".into()))),
                            };
                            let range = range(*a, *b).map_err(err)?;
                            let subblock_pages = match args.get(2) {
                                Some(w) => number(*w, "the subblock size in pages").map_err(err)?,
                                None => {
                                    virtio_default.push(spec.virtio_mem.len());
                                    0
                                }
                            };
                            spec.virtio_mem.push(VirtioMemSpec { name: format!("virtio-mem{}", spec.virtio_mem.len()), range, subblock_pages });
                        }
                    }
                }
                "workload" => {
                    let w = one("a workload preset, or none")?;
                    s.workload = if w.1 == "none" {
                        None
                    } else {
                        workload(w).map_err(err)?;
                        Some(w.1.to_string())
                    };
                }
                "seed" => s.seed = number(one("a seed")?, "the seed").map_err(err)?,
                "steps" => {
                    let w = one("a number of workload steps, or lived-in")?;
                    s.steps = if w.1 == "lived-in" { 0 } else { number(w, "the steps").map_err(err)? };
                    if s.steps > 10_000_000 {
                        return Err(err((w.0, "steps: at most 10000000 (or lived-in)".into())));
                    }
                }
                "reporting" => {
                    let w = one("off, mainline or walk")?;
                    s.reporting = ReportingPolicy::by_name(w.1).ok_or_else(|| err((w.0, format!("reporting: {:?} is not off, mainline or walk", w.1))))?;
                }
                "reporting-order" => s.reporting_order = Some(number(one("an order")?, "the order").map_err(err)?),
                "allocator" => {
                    let w = one("mainline or regions")?;
                    s.allocator = AllocatorPolicy::by_name(w.1).ok_or_else(|| err((w.0, format!("allocator: {:?} is not mainline or regions", w.1))))?;
                }
                "region-pages" => s.region_pages = Some(number(one("pages per region")?, "pages per region").map_err(err)?),
                "setup" | "play" => {
                    let mut local = Vec::new();
                    let op = parse_op(args, end_col, &mut local).map_err(err)?;
                    note(local, false);
                    if key == "setup" {
                        s.setup.push(op);
                    } else if s.play.replace(op).is_some() {
                        return Err(err((kcol, "a scenario plays one operation: this is a second play line".into())));
                    }
                }
                "page" => {
                    let mut local = Vec::new();
                    s.setup.extend(parse_page(args, end_col, &mut local).map_err(err)?);
                    note(local, true);
                }
                "variant" => {
                    let w = one("a kernel to compare with")?;
                    if !VARIANTS.contains(&w.1) {
                        return Err(err((w.0, format!("unknown variant {:?} (known: {})", w.1, VARIANTS.join(", ")))));
                    }
                    s.variant = Some(w.1.to_string());
                }
                "expect" => {
                    let mut local = Vec::new();
                    s.expect = Some(parse_expect(args, end_col, &mut local).map_err(err)?);
                    note(local, false);
                }
                "checkpoint" => {
                    let at = match args {
                        [(_, "start")] => At::Start,
                        [(_, "end")] => At::End,
                        [(_, "step"), n] => At::Step(number::<usize>(*n, "the step").map_err(err)?.max(1)),
                        [f] | [f, _] => {
                            if !KernelFn::ALL.iter().any(|k| k.name() == f.1) {
                                return Err(err((f.0, format!("checkpoint: {:?} is not start, end, step N, or a kernel function pfnscope models (such as test_pages_isolated)", f.1))));
                            }
                            let nth = match args.get(1) {
                                Some(n) => number::<usize>(*n, "which step in the function").map_err(err)?.max(1),
                                None => 1,
                            };
                            At::Func { name: f.1.to_string(), nth }
                        }
                        [] => return Err(err((end_col, "checkpoint: missing where (start, end, step N, or a kernel function)".into()))),
                        [_, _, w, ..] => return Err(err((w.0, format!("checkpoint: unexpected {:?}", w.1)))),
                    };
                    s.lesson.push(Checkpoint { at, text: String::new(), ask: None, answer: None, frame: None });
                }
                "frame" => {
                    let c = s.lesson.last_mut().ok_or_else(|| err((kcol, "frame belongs to a checkpoint: put a checkpoint line first".into())))?;
                    let [a, b] = args else { return Err(err((args.get(2).map_or(end_col, |w| w.0), "frame: write frame START END".into()))) };
                    let r = range(*a, *b).map_err(err)?;
                    if r.is_empty() {
                        return Err(err((b.0, "frame: the end must be after the start".into())));
                    }
                    c.frame = Some(r);
                    note(vec![(a.0, r.start), (b.0, r.end)], false);
                }
                _ => return Err(err((kcol, format!("unknown keyword {key:?} (see docs/scenarios.md: title, summary, topic, machine, workload, seed, steps, page, setup, play, variant, expect, checkpoint, text, ask, answer, frame...)")))),
            }
        }
        let at_top = |message: String| ParseError { line: 1, col: 1, message };
        if s.title.is_empty() {
            return Err(at_top("a scenario needs a title line".into()));
        }
        let (line, col) = machine_at.ok_or_else(|| at_top("a scenario needs a machine line: a preset such as teaching-64m, or custom".into()))?;
        if let Some(mut spec) = custom {
            let at_machine = |message: String| ParseError { line, col, message };
            if spec.zones.is_empty() {
                return Err(at_machine("machine custom: describe its zones with zone lines (zone Normal 0x0 0x1000)".into()));
            }
            // A subblock is a pageblock unless given, and the geometry may
            // come after the device.
            for i in virtio_default {
                spec.virtio_mem[i].subblock_pages = spec.geometry.pageblock_nr_pages();
            }
            crate::machine::validate(&spec).map_err(|e| at_machine(format!("machine custom: {e}")))?;
            s.spec = Some(spec);
        }
        let spec = s.machine_spec().expect("the machine was checked");
        let span = spec.span();
        for Named { line, col, pfn, placed } in pfns {
            if pfn < span.start || pfn > span.end {
                return Err(ParseError { line, col, message: format!("PFN {pfn:#x} is outside the machine ({:#x}-{:#x})", span.start, span.end) });
            }
            if placed && spec.zones.iter().any(|z| z.holes.iter().any(|h| h.contains(pfn))) {
                return Err(ParseError { line, col, message: format!("PFN {pfn:#x} is in a hole: no memory is there") });
            }
        }
        Ok(s)
    }

    /// The scenario as a file [`Scenario::parse`] reads back to the same
    /// scenario.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let text = |out: &mut String, key: &str, value: &str| {
            for (i, para) in value.split('\n').enumerate() {
                if i > 0 {
                    let _ = writeln!(out, "{key}");
                }
                let mut line = String::new();
                for w in para.split(' ').filter(|w| !w.is_empty()) {
                    if !line.is_empty() && line.len() + w.len() > 72 {
                        let _ = writeln!(out, "{key:<8} {line}");
                        line.clear();
                    }
                    if !line.is_empty() {
                        line.push(' ');
                    }
                    line.push_str(w);
                }
                if !line.is_empty() {
                    let _ = writeln!(out, "{key:<8} {line}");
                }
            }
        };
        text(&mut out, "title", &self.title);
        text(&mut out, "summary", &self.summary);
        if !self.topic.is_empty() {
            let _ = writeln!(out, "topic    {}", self.topic);
        }
        out.push('\n');
        match &self.spec {
            Some(spec) => {
                let _ = writeln!(out, "machine  custom {}", spec.name);
                let g = GEOMETRIES.iter().find(|g| g.1 == spec.geometry).map_or("x86-64-4k", |g| g.0);
                let _ = writeln!(out, "geometry {g}\ncpus     {}", spec.nr_cpus);
                for z in &spec.zones {
                    let _ = writeln!(out, "zone     {} {:#x} {:#x}", z.zone_type.proc_name(), z.span.start, z.span.end);
                    for h in &z.holes {
                        let _ = writeln!(out, "hole     {:#x} {:#x}", h.start, h.end);
                    }
                    for r in &z.reserved {
                        let _ = writeln!(out, "reserved {:#x} {:#x}", r.start, r.end);
                    }
                }
                for c in &spec.cma {
                    let _ = writeln!(out, "cma      {:#x} {:#x}", c.base_pfn, c.base_pfn + c.count);
                }
                for d in &spec.virtio_mem {
                    let _ = writeln!(out, "virtio-mem {:#x} {:#x} {}", d.range.start, d.range.end, d.subblock_pages);
                }
            }
            None => {
                let _ = writeln!(out, "machine  {}", self.machine);
            }
        }
        if let Some(w) = &self.workload {
            let steps = if self.steps == 0 { "lived-in".to_string() } else { self.steps.to_string() };
            let _ = writeln!(out, "workload {w}\nseed     {}\nsteps    {steps}", self.seed);
        } else if self.steps != 0 || self.seed != 0 {
            let _ = writeln!(out, "seed     {}\nsteps    {}", self.seed, self.steps);
        }
        if self.reporting != ReportingPolicy::default() {
            let _ = writeln!(out, "reporting {}", self.reporting.name());
        }
        if let Some(o) = self.reporting_order {
            let _ = writeln!(out, "reporting-order {o}");
        }
        if self.allocator != AllocatorPolicy::default() {
            let _ = writeln!(out, "allocator {}", self.allocator.name());
        }
        if let Some(p) = self.region_pages {
            let _ = writeln!(out, "region-pages {p}");
        }
        out.push('\n');
        for op in &self.setup {
            match op {
                Op::PlacePage { .. } => out += &op_words(op),
                _ => out += &format!("setup    {}", op_words(op)),
            }
            out.push('\n');
        }
        if let Some(op) = &self.play {
            let _ = writeln!(out, "play     {}", op_words(op));
        }
        if let Some(v) = &self.variant {
            let _ = writeln!(out, "variant  {v}");
        }
        if let Some(e) = &self.expect {
            let _ = writeln!(out, "expect   {}", e.words());
        }
        for c in &self.lesson {
            let at = match &c.at {
                At::Start => "start".to_string(),
                At::End => "end".to_string(),
                At::Step(n) => format!("step {n}"),
                At::Func { name, nth: 1 } => name.clone(),
                At::Func { name, nth } => format!("{name} {nth}"),
            };
            let _ = writeln!(out, "\ncheckpoint {at}");
            text(&mut out, "text", &c.text);
            if let Some(a) = &c.ask {
                text(&mut out, "ask", a);
            }
            if let Some(a) = &c.answer {
                text(&mut out, "answer", a);
            }
            if let Some(r) = c.frame {
                let _ = writeln!(out, "frame    {:#x} {:#x}", r.start, r.end);
            }
        }
        out
    }
}

/// `expect ok`, `expect fail`, `expect -EBUSY`, with `at PFN` after a failure.
#[inline(never)]
fn parse_expect(args: &[Word], end_col: usize, pfns: &mut Vec<(usize, u64)>) -> Result<Expect, Fail> {
    let (col, what) = *args.first().ok_or((end_col, "expect: missing ok, fail or an error such as -EBUSY".to_string()))?;
    let mut e = match what {
        "ok" => Expect { ok: true, ..Default::default() },
        "fail" => Expect::default(),
        _ if ERRNOS.contains(&what) => Expect { errno: Some(what.to_string()), ..Default::default() },
        _ => return Err((col, format!("expect: {what:?} is not ok, fail or one of {}", ERRNOS.join(", ")))),
    };
    match &args[1..] {
        [] => {}
        [(_, "at"), p] if !e.ok => {
            let pfn = number(*p, "the PFN")?;
            pfns.push((p.0, pfn));
            e.pfn = Some(pfn);
        }
        [w, ..] => return Err((w.0, format!("expect: unexpected {:?} (a failure can end with at PFN)", w.1))),
    }
    Ok(e)
}
