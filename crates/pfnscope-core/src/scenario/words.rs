//! The words of a scenario file's lines: splitting a line into words with
//! their columns, numbers, and every operation and page line as words
//! and back ([`op_words`]). [`super::text`] reads the lines around them.

use crate::ops::Op;
use crate::page::{PageFlags, PageKind};
use crate::workload::WorkloadSpec;

/// Page flags a `page` line or `set_page_flags` can set.
pub(super) const FLAGS: [(&str, PageFlags); 3] = [("dirty", PageFlags::DIRTY), ("writeback", PageFlags::WRITEBACK), ("locked", PageFlags::LOCKED)];

/// A page flag by its word.
fn page_flag(w: &str) -> Option<PageFlags> {
    FLAGS.iter().find(|f| f.0 == w).map(|f| f.1)
}

/// The words of [`FLAGS`] set in `flags`.
pub fn flag_words(flags: PageFlags) -> Vec<&'static str> {
    FLAGS.iter().filter(|(_, f)| flags.contains(*f)).map(|(n, _)| *n).collect()
}

pub(super) type Word<'a> = (usize, &'a str);
pub(super) type Fail = (usize, String);

/// The words of one line, each with its column, up to a `#` comment.
pub(super) fn words(line: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (col, (i, c)) in line.char_indices().enumerate().map(|(col, ic)| (col + 1, ic)).chain(std::iter::once((usize::MAX, (line.len(), ' ')))) {
        match (start, c.is_whitespace()) {
            (None, false) => start = Some((col, i)),
            (Some((scol, si)), true) => {
                out.push((scol, &line[si..i]));
                start = None;
            }
            _ => {}
        }
    }
    let comment = out.iter().position(|(_, w)| w.starts_with('#'));
    out.truncate(comment.unwrap_or(out.len()));
    out
}

/// A number: decimal or `0x` hex, `_` allowed between digits.
pub(super) fn number<T: TryFrom<u64>>(w: Word, what: &str) -> Result<T, Fail> {
    let t = w.1.replace('_', "");
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse::<u64>(),
    };
    v.ok().and_then(|v| T::try_from(v).ok()).ok_or_else(|| (w.0, format!("{what}: {:?} is not a number in range (decimal or 0x hex)", w.1)))
}

/// `START END` as a range.
pub(super) fn range(a: Word, b: Word) -> Result<crate::geometry::PfnRange, Fail> {
    Ok(crate::geometry::PfnRange::new(number(a, "the start PFN")?, number(b, "the end PFN")?))
}

/// Reads an operation's words in order.
struct Args<'a, 'b> {
    words: &'b [Word<'a>],
    at: usize,
    /// The column after the last word, for "missing" errors.
    end_col: usize,
    /// PFN arguments, checked against the machine once it is known.
    pfns: Vec<(usize, u64)>,
}

impl<'a> Args<'a, '_> {
    fn next(&mut self, what: &str) -> Result<Word<'a>, Fail> {
        let w = self.words.get(self.at).copied().ok_or_else(|| (self.end_col, format!("missing {what}")))?;
        self.at += 1;
        Ok(w)
    }
    fn num<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T, Fail> {
        number(self.next(what)?, what)
    }
    fn pfn(&mut self, what: &str) -> Result<u64, Fail> {
        let w = self.next(what)?;
        let p = number(w, what)?;
        self.pfns.push((w.0, p));
        Ok(p)
    }
    /// An optional trailing word.
    fn flag(&mut self, name: &str) -> bool {
        let hit = self.words.get(self.at).is_some_and(|w| w.1 == name);
        self.at += usize::from(hit);
        hit
    }
    fn done(&self) -> Result<(), Fail> {
        match self.words.get(self.at) {
            Some(w) => Err((w.0, format!("unexpected {:?}", w.1))),
            None => Ok(()),
        }
    }
}

/// Every operation's name and the words it takes, shown with an error in
/// its line.
pub const OPS: [(&str, &str); 23] = [
    ("alloc_pages", "GFP ORDER KIND"),
    ("free_pages", "PFN ORDER"),
    ("alloc_contig_range", "START END [cma]"),
    ("free_contig_range", "PFN NR"),
    ("alloc_contig_pages", "NR"),
    ("cma_alloc", "AREA COUNT ALIGN"),
    ("cma_release", "AREA PFN COUNT"),
    ("virtio_mem_unplug", "DEVICE SUBBLOCKS"),
    ("virtio_mem_plug", "DEVICE SUBBLOCKS"),
    ("offline_pages", "START NR BUDGET"),
    ("online_pages", "START NR"),
    ("alloc_contig_range_v4", "START END"),
    ("alloc_contig_pages_2010", "HINT NR"),
    ("drain", ""),
    ("age", "WORKLOAD SEED STEPS"),
    ("wait", "MS"),
    ("walk_free_mem_block", "MIN_ORDER"),
    ("kmempowerd", "MAX_USED_PCT"),
    ("pin_first_in", "START END [longterm]"),
    ("pin_page", "PFN [longterm]"),
    ("set_page_flags", "PFN dirty|writeback|locked..."),
    ("on_cpu", "CPU"),
    ("start_isolate_page_range", "START END"),
];

/// An operation from its words (name first); an error in its words says
/// what the operation takes.
#[inline(never)]
pub(super) fn parse_op(ws: &[Word], end_col: usize, pfns: &mut Vec<(usize, u64)>) -> Result<Op, Fail> {
    let (name_col, name) = *ws.first().ok_or((end_col, "missing the operation".to_string()))?;
    let Some((_, usage)) = OPS.iter().find(|o| o.0 == name) else {
        return Err((name_col, format!("unknown operation {name:?} (known: {})", OPS.map(|o| o.0).join(", "))));
    };
    let mut a = Args { words: &ws[1..], at: 0, end_col, pfns: Vec::new() };
    let op = op_of(name, &mut a).and_then(|op| a.done().map(|()| op)).map_err(|(col, why)| (col, format!("{why} (write: {name} {usage})")))?;
    pfns.append(&mut a.pfns);
    Ok(op)
}

/// The operation `name` from the words after it.
fn op_of(name: &str, a: &mut Args) -> Result<Op, Fail> {
    Ok(match name {
        "alloc_pages" => {
            let g = a.next("a GFP mask")?;
            if crate::alloc::Gfp::by_name(g.1).is_none() {
                return Err((g.0, format!("unknown GFP mask {:?} (known: {})", g.1, crate::alloc::Gfp::ALL.map(|g| g.name).join(", "))));
            }
            let order = a.num("the order")?;
            Op::AllocPages { gfp: g.1.to_string(), order, kind: kind(a.next("a page kind")?)? }
        }
        "free_pages" => Op::FreePages { pfn: a.pfn("the PFN")?, order: a.num("the order")? },
        "alloc_contig_range" => Op::AllocContigRange { start: a.pfn("the start PFN")?, end: a.pfn("the end PFN")?, cma: a.flag("cma") },
        "free_contig_range" => Op::FreeContigRange { pfn: a.pfn("the PFN")?, nr: a.num("the number of pages")? },
        "alloc_contig_pages" => Op::AllocContigPages { nr: a.num("the number of pages")? },
        "cma_alloc" => Op::CmaAlloc { area: a.num("the CMA area")?, count: a.num("the count")?, align: a.num("the alignment order")? },
        "cma_release" => Op::CmaRelease { area: a.num("the CMA area")?, pfn: a.pfn("the PFN")?, count: a.num("the count")? },
        "virtio_mem_unplug" => Op::VirtioMemUnplug { device: a.num("the device")?, subblocks: a.num("the subblocks")? },
        "virtio_mem_plug" => Op::VirtioMemPlug { device: a.num("the device")?, subblocks: a.num("the subblocks")? },
        "offline_pages" => Op::OfflinePages { start: a.pfn("the start PFN")?, nr: a.num("the number of pages")?, budget: a.num("the budget of rounds")? },
        "online_pages" => Op::OnlinePages { start: a.pfn("the start PFN")?, nr: a.num("the number of pages")? },
        "alloc_contig_range_v4" => Op::AllocContigRangeV4 { start: a.pfn("the start PFN")?, end: a.pfn("the end PFN")? },
        "alloc_contig_pages_2010" => Op::AllocContigPages2010 { hint: a.pfn("the hint PFN")?, nr: a.num("the number of pages")? },
        "drain" => Op::Drain,
        "age" => {
            let w = a.next("a workload")?;
            workload(w)?;
            Op::Age { workload: w.1.to_string(), seed: a.num("the seed")?, steps: a.num("the steps")? }
        }
        "wait" => Op::Wait { ms: a.num("milliseconds")? },
        "walk_free_mem_block" => Op::WalkFreeMemBlock { min_order: a.num("the order")? },
        "kmempowerd" => Op::Kmempowerd { max_used_pct: a.num("the percentage")? },
        "pin_first_in" => Op::PinFirstIn { start: a.pfn("the start PFN")?, end: a.pfn("the end PFN")?, longterm: a.flag("longterm") },
        "pin_page" => Op::PinPage { pfn: a.pfn("the PFN")?, longterm: a.flag("longterm") },
        "set_page_flags" => {
            let pfn = a.pfn("the PFN")?;
            let mut flags = PageFlags::empty();
            while let Some(&w) = a.words.get(a.at) {
                flags |= page_flag(w.1).ok_or((w.0, format!("unknown page flag {:?} (known: dirty, writeback, locked)", w.1)))?;
                a.at += 1;
            }
            if flags.is_empty() {
                return Err((a.end_col, "missing a flag: dirty, writeback or locked".into()));
            }
            Op::SetPageFlags { pfn, flags }
        }
        "on_cpu" => Op::OnCpu { cpu: a.num("the CPU")? },
        "start_isolate_page_range" => Op::StartIsolatePageRange { start: a.pfn("the start PFN")?, end: a.pfn("the end PFN")? },
        _ => return Err((0, format!("{name} has no reader: add it to op_of"))),
    })
}

/// A workload preset's name, checked without building the preset.
pub(super) fn workload(w: Word) -> Result<(), Fail> {
    if WorkloadSpec::PRESETS.contains(&w.1) {
        Ok(())
    } else {
        Err((w.0, format!("unknown workload {:?}; choose one of {}", w.1, WorkloadSpec::PRESETS.join(", "))))
    }
}

fn kind(w: Word) -> Result<PageKind, Fail> {
    PageKind::by_name(w.1).ok_or_else(|| (w.0, format!("unknown page kind {:?} (known: slab, {})", w.1, PageKind::ALL.map(|k| k.name()).join(", "))))
}

/// An operation as its line's words.
pub fn op_words(op: &Op) -> String {
    match op {
        Op::AllocPages { gfp, order, kind } => format!("alloc_pages {gfp} {order} {}", kind.name()),
        Op::FreePages { pfn, order } => format!("free_pages {pfn:#x} {order}"),
        Op::PlacePage { pfn, order, kind, lru_batch } => {
            format!("page {pfn:#x} {}{}{}", kind.name(), if *order > 0 { format!(" order {order}") } else { String::new() }, if *lru_batch { " lru-batch" } else { "" })
        }
        Op::AllocContigRange { start, end, cma } => format!("alloc_contig_range {start:#x} {end:#x}{}", if *cma { " cma" } else { "" }),
        Op::FreeContigRange { pfn, nr } => format!("free_contig_range {pfn:#x} {nr}"),
        Op::AllocContigPages { nr } => format!("alloc_contig_pages {nr}"),
        Op::CmaAlloc { area, count, align } => format!("cma_alloc {area} {count} {align}"),
        Op::CmaRelease { area, pfn, count } => format!("cma_release {area} {pfn:#x} {count}"),
        Op::VirtioMemUnplug { device, subblocks } => format!("virtio_mem_unplug {device} {subblocks}"),
        Op::VirtioMemPlug { device, subblocks } => format!("virtio_mem_plug {device} {subblocks}"),
        Op::OfflinePages { start, nr, budget } => format!("offline_pages {start:#x} {nr} {budget}"),
        Op::OnlinePages { start, nr } => format!("online_pages {start:#x} {nr}"),
        Op::AllocContigRangeV4 { start, end } => format!("alloc_contig_range_v4 {start:#x} {end:#x}"),
        Op::AllocContigPages2010 { hint, nr } => format!("alloc_contig_pages_2010 {hint:#x} {nr}"),
        Op::Drain => "drain".into(),
        Op::Age { workload, seed, steps } => format!("age {workload} {seed} {steps}"),
        Op::Wait { ms } => format!("wait {ms}"),
        Op::WalkFreeMemBlock { min_order } => format!("walk_free_mem_block {min_order}"),
        Op::Kmempowerd { max_used_pct } => format!("kmempowerd {max_used_pct}"),
        Op::PinFirstIn { start, end, longterm } => format!("pin_first_in {start:#x} {end:#x}{}", if *longterm { " longterm" } else { "" }),
        Op::PinPage { pfn, longterm } => format!("pin_page {pfn:#x}{}", if *longterm { " longterm" } else { "" }),
        Op::SetPageFlags { pfn, flags } => format!("set_page_flags {pfn:#x} {}", flag_words(*flags).join(" ")),
        Op::OnCpu { cpu } => format!("on_cpu {cpu}"),
        Op::StartIsolatePageRange { start, end } => format!("start_isolate_page_range {start:#x} {end:#x}"),
    }
}

/// `page PFN KIND [order N] [lru-batch] [pinned|longterm-pinned] [dirty] [writeback] [locked]`:
/// the page placed, then pinned and flagged.
#[inline(never)]
pub(super) fn parse_page(ws: &[Word], end_col: usize, pfns: &mut Vec<(usize, u64)>) -> Result<Vec<Op>, Fail> {
    let mut a = Args { words: ws, at: 0, end_col, pfns: Vec::new() };
    let pfn = a.pfn("the PFN")?;
    let kind = kind(a.next("a page kind")?)?;
    let (mut order, mut lru_batch, mut pin, mut flags) = (0, false, None, PageFlags::empty());
    while let Some(&w) = ws.get(a.at) {
        a.at += 1;
        match w.1 {
            "order" => order = a.num("the order")?,
            "lru-batch" => lru_batch = true,
            "pinned" => pin = Some(false),
            "longterm-pinned" => pin = Some(true),
            _ => match page_flag(w.1) {
                Some(f) => flags |= f,
                None => return Err((w.0, format!("unknown page attribute {:?} (known: order N, lru-batch, pinned, longterm-pinned, dirty, writeback, locked)", w.1))),
            },
        }
    }
    pfns.append(&mut a.pfns);
    let mut ops = vec![Op::PlacePage { pfn, order, kind, lru_batch }];
    ops.extend(pin.map(|longterm| Op::PinPage { pfn, longterm }));
    if !flags.is_empty() {
        ops.push(Op::SetPageFlags { pfn, flags });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation in [`OPS`] writes as words that read back to it,
    /// and a mistake in its words says what it takes.
    #[test]
    fn every_operation_reads_back_from_its_words() {
        let ops = [
            Op::AllocPages { gfp: "GFP_KERNEL".into(), order: 2, kind: PageKind::Kernel },
            Op::FreePages { pfn: 0x10, order: 1 },
            Op::AllocContigRange { start: 0x200, end: 0x400, cma: true },
            Op::FreeContigRange { pfn: 0x200, nr: 512 },
            Op::AllocContigPages { nr: 512 },
            Op::CmaAlloc { area: 0, count: 64, align: 4 },
            Op::CmaRelease { area: 0, pfn: 0x2800, count: 64 },
            Op::VirtioMemUnplug { device: 1, subblocks: 2 },
            Op::VirtioMemPlug { device: 1, subblocks: 2 },
            Op::OfflinePages { start: 0x3400, nr: 512, budget: 3 },
            Op::OnlinePages { start: 0x3400, nr: 512 },
            Op::AllocContigRangeV4 { start: 0x200, end: 0x400 },
            Op::AllocContigPages2010 { hint: 0x100, nr: 100 },
            Op::Drain,
            Op::Age { workload: "desktop".into(), seed: 1, steps: 300 },
            Op::Wait { ms: 2000 },
            Op::WalkFreeMemBlock { min_order: 3 },
            Op::Kmempowerd { max_used_pct: 50 },
            Op::PinFirstIn { start: 0x0, end: 0x10, longterm: true },
            Op::PinPage { pfn: 0x10, longterm: false },
            Op::SetPageFlags { pfn: 0x10, flags: PageFlags::DIRTY | PageFlags::LOCKED },
            Op::OnCpu { cpu: 1 },
            Op::StartIsolatePageRange { start: 0x200, end: 0x400 },
        ];
        assert_eq!(ops.len(), OPS.len());
        for op in ops {
            let text = op_words(&op);
            let ws = words(&text);
            assert!(OPS.iter().any(|o| o.0 == ws[0].1), "{text}");
            assert_eq!(parse_op(&ws, text.len() + 1, &mut Vec::new()), Ok(op), "{text}");
        }
        let e = parse_op(&words("cma_alloc 0 64"), 15, &mut Vec::new()).unwrap_err();
        assert_eq!(e, (15, "missing the alignment order (write: cma_alloc AREA COUNT ALIGN)".to_string()));
    }
}
