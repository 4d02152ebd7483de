//! Two kernels side by side: the same starting state run through 6.12 and
//! a seed's historical variant, each traced, with a joint timeline that
//! steps both through matching phases (isolate, drain, migrate, test, take,
//! undo) and a table of what differed.
//!
//! ```
//! use pfnscope_core::{Machine, MachineSpec, PageKind};
//! use pfnscope_view::compare::{Comparison, Contest};
//!
//! let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
//! m.alloc_pages_at(0x2100, 0, PageKind::SlabUnmovable).unwrap();
//! let c = Comparison::new(&m, Contest::RangeV49 { start: 0x2000, end: 0x2200 });
//! // 6.12 refuses at isolation; v4.9 isolates, and fails at the test.
//! assert_eq!(c.left.outcome.errno.as_deref(), Some("-EBUSY"));
//! assert_eq!(c.right.outcome.errno.as_deref(), Some("-EBUSY"));
//! assert!(c.right.count_phase(pfnscope_view::compare::Phase::Test) > 0);
//! assert_eq!(c.left.count_phase(pfnscope_view::compare::Phase::Test), 0);
//! ```

use pfnscope_core::{ContigError, Gfp, KernelFn, Machine, MigrateType, PfnRange, Step, Trace};

use crate::palette::Palette;
use crate::raster::{render, Overlay};
use crate::viewport::Viewport;

/// The historical variant to run against 6.12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Against {
    /// Seed 001's `alloc_contig_range()` as v4.9 ran it.
    V49,
    /// Seed 002's 2010 `alloc_contig_pages()`.
    Rfc2010,
}

impl Against {
    pub const ALL: [Against; 2] = [Against::V49, Against::Rfc2010];

    /// The name in URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Against::V49 => "v4.9",
            Against::Rfc2010 => "2010",
        }
    }

    pub fn parse(s: &str) -> Result<Against, String> {
        Against::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| format!("unknown variant {s:?} to compare with (known: v4.9, 2010)"))
    }

    /// The contest for a played operation: its range for v4.9; its size,
    /// with the range's start as the hint, for the 2010 RFC.
    pub fn contest(self, play: &pfnscope_core::Op) -> Result<Contest, String> {
        use pfnscope_core::Op;
        match (self, play) {
            (Against::V49, Op::AllocContigRange { start, end, .. } | Op::AllocContigRangeV4 { start, end }) => Ok(Contest::RangeV49 { start: *start, end: *end }),
            (Against::V49, Op::AllocContigPages { .. } | Op::AllocContigPages2010 { .. }) => {
                Err("v4.9's alloc_contig_range needs a range; alloc_contig_pages compares with the 2010 RFC".into())
            }
            (Against::Rfc2010, Op::AllocContigRange { start, end, .. } | Op::AllocContigRangeV4 { start, end }) => Ok(Contest::Pages2010 { hint: *start, nr: end - start }),
            (Against::Rfc2010, Op::AllocContigPages { nr }) => Ok(Contest::Pages2010 { hint: 0, nr: *nr }),
            (Against::Rfc2010, Op::AllocContigPages2010 { hint, nr }) => Ok(Contest::Pages2010 { hint: *hint, nr: *nr }),
            (_, other) => Err(format!("{} is not a contiguous allocation to compare", other.title())),
        }
    }
}

/// What to run on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contest {
    /// `alloc_contig_range(start, end, MOVABLE)`: 6.12 against seed 001's
    /// code as v4.9 ran it.
    RangeV49 { start: u64, end: u64 },
    /// `alloc_contig_pages(nr)` in 6.12 against seed 002's 2010
    /// `alloc_contig_pages(hint, nr)`.
    Pages2010 { hint: u64, nr: u64 },
}

impl Contest {
    /// The historical kernel played against 6.12.
    pub fn against(self) -> Against {
        match self {
            Contest::RangeV49 { .. } => Against::V49,
            Contest::Pages2010 { .. } => Against::Rfc2010,
        }
    }

    /// The two sides' labels.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            Contest::RangeV49 { .. } => ("Linux 6.12", "v4.9 (seed 001)"),
            Contest::Pages2010 { .. } => ("Linux 6.12", "2010 RFC (seed 002)"),
        }
    }

    /// A one-line title.
    pub fn title(self) -> String {
        match self {
            Contest::RangeV49 { start, end } => format!("alloc_contig_range({start:#x}, {end:#x}, MOVABLE): 6.12 against v4.9"),
            Contest::Pages2010 { hint, nr } => format!("alloc_contig_pages({nr} pages, hint {hint:#x}): 6.12 against the 2010 RFC"),
        }
    }
}

/// The stage of a contiguous allocation a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    Isolate,
    Drain,
    Migrate,
    Test,
    Take,
    Undo,
    /// The operation's own notes (its start and its result).
    Other,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Isolate => "isolate",
            Phase::Drain => "drain",
            Phase::Migrate => "migrate",
            Phase::Test => "test",
            Phase::Take => "take",
            Phase::Undo => "undo",
            Phase::Other => "",
        }
    }

    fn of_fn(f: KernelFn) -> Option<Phase> {
        use KernelFn as K;
        Some(match f {
            K::StartIsolatePageRange | K::IsolateSinglePageblock | K::SetMigratetypeIsolate | K::SetMigratetypeIsolateV4 | K::SetMigratetypeIsolate2010 | K::FindContigBlock2010 | K::PfnRangeValidContig => Phase::Isolate,
            K::DrainAllPages => Phase::Drain,
            K::AllocContigMigrateRange | K::DoMigrateRange2010 | K::MigratePages | K::LruCacheDisable => Phase::Migrate,
            K::TestPagesIsolated | K::FindLargeBuddy => Phase::Test,
            K::IsolateFreepagesRange | K::SplitFreePages | K::FreeContigRange | K::AllocContigFreedPages2010 => Phase::Take,
            K::UndoIsolatePageRange | K::UnsetMigratetypeIsolate => Phase::Undo,
            _ => return None,
        })
    }

    /// The phase of a step: that of its outermost frame that has one.
    pub fn of(step: &Step) -> Phase {
        step.stack.iter().copied().chain(std::iter::once(step.func)).find_map(Phase::of_fn).unwrap_or(Phase::Other)
    }
}

/// How one side ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `None` on success.
    pub errno: Option<String>,
    /// The PFN that stopped it, or where it allocated.
    pub pfn: Option<u64>,
    pub text: String,
}

impl Outcome {
    fn of<T>(r: &Result<T, ContigError>, at: Option<u64>) -> Outcome {
        match r {
            Ok(_) => Outcome { errno: None, pfn: at, text: "success".into() },
            Err(e) => Outcome { errno: Some(format!("-{:?}", e.errno)), pfn: e.pfn, text: e.reason.clone() },
        }
    }
}

/// One side: its machine (seekable along its trace), trace and outcome.
#[derive(Clone, Debug)]
pub struct Side {
    pub label: &'static str,
    pub machine: Machine,
    pub trace: Trace,
    pub phases: Vec<Phase>,
    pub outcome: Outcome,
}

impl Side {
    fn run(base: &Machine, label: &'static str, title: String, op: impl FnOnce(&mut Machine) -> Outcome) -> Side {
        let mut machine = base.clone();
        let (outcome, trace) = machine.record(title, op);
        machine.take_migrations();
        machine.set_journaling(false);
        let phases = trace.steps.iter().map(Phase::of).collect();
        Side { label, machine, trace, phases, outcome }
    }

    /// Steps in `phase`.
    pub fn count_phase(&self, phase: Phase) -> usize {
        self.phases.iter().filter(|&&p| p == phase).count()
    }

    /// Pageblocks the trace made MIGRATE_ISOLATE.
    pub fn pageblocks_isolated(&self) -> usize {
        self.trace.steps.iter().filter(|s| s.text.ends_with("is now MIGRATE_ISOLATE")).count()
    }

    /// Pages migrated (the targets of every move).
    pub fn pages_migrated(&self) -> u64 {
        self.trace.steps.iter().filter_map(|s| s.target).map(|r| r.len()).sum()
    }

    /// `drain_all_pages()` calls.
    pub fn drains(&self) -> usize {
        self.trace.steps.iter().filter(|s| s.func == KernelFn::DrainAllPages).count()
    }

    /// `migrate_pages()` passes in which some folio got -EAGAIN or -EBUSY.
    pub fn failed_passes(&self) -> usize {
        self.trace.steps.iter().filter(|s| s.stack.contains(&KernelFn::MigratePages) && s.text.starts_with("pass ")).count()
    }

    fn seek(&mut self, cursor: Option<usize>) {
        self.machine.seek(self.trace.position_after(cursor));
    }

    /// The step shown at a cursor.
    pub fn step(&self, cursor: Option<usize>) -> Option<&Step> {
        cursor.and_then(|i| self.trace.steps.get(i))
    }

    /// The map's pixels with the shown step highlighted, or before the
    /// first step the range the operation was asked for.
    pub fn render(&self, cursor: Option<usize>, viewport: &Viewport, palette: &Palette, request: PfnRange) -> Vec<u8> {
        let overlay = match self.step(cursor) {
            Some(s) => Overlay { highlight: s.range.into_iter().collect(), targets: s.target.into_iter().collect(), ..Overlay::default() },
            None => Overlay { highlight: vec![request], ..Overlay::default() },
        };
        render(&self.machine, viewport, palette, &overlay)
    }
}

/// Both sides and their joint timeline.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub contest: Contest,
    pub left: Side,
    pub right: Side,
    /// Tick i shows step `timeline[i].0` on the left and `.1` on the right
    /// (`None` = before the first step). Tick 0 is before both.
    pub timeline: Vec<(Option<usize>, Option<usize>)>,
    /// The tick shown.
    pub tick: usize,
}

impl Comparison {
    /// Runs both sides from `base` (left first), leaving each at its end.
    pub fn new(base: &Machine, contest: Contest) -> Comparison {
        let (ll, rl) = contest.labels();
        let (left, right) = match contest {
            Contest::RangeV49 { start, end } => (
                Side::run(base, ll, format!("alloc_contig_range({start:#x}, {end:#x})"), |m| Outcome::of(&m.alloc_contig_range(start, end, MigrateType::Movable, false), Some(start))),
                Side::run(base, rl, format!("v4.9 alloc_contig_range({start:#x}, {end:#x})"), |m| Outcome::of(&m.alloc_contig_range_v4(start, end, MigrateType::Movable), Some(start))),
            ),
            Contest::Pages2010 { hint, nr } => (
                Side::run(base, ll, format!("alloc_contig_pages({nr})"), |m| {
                    let r = m.alloc_contig_pages(nr, Gfp::HIGHUSER_MOVABLE);
                    let at = r.as_ref().ok().map(|(p, _)| *p);
                    Outcome::of(&r, at)
                }),
                Side::run(base, rl, format!("2010 alloc_contig_pages({hint:#x}, {nr})"), |m| {
                    let r = m.alloc_contig_pages_2010(hint, nr);
                    let at = r.as_ref().ok().map(|(p, _)| *p);
                    Outcome::of(&r, at)
                }),
            ),
        };
        let timeline = align(&left.phases, &right.phases);
        let tick = timeline.len() - 1;
        Comparison { contest, left, right, timeline, tick }
    }

    /// Shows tick `t` on both sides (clamped).
    pub fn seek(&mut self, t: usize) {
        self.tick = t.min(self.timeline.len() - 1);
        let (l, r) = self.timeline[self.tick];
        self.left.seek(l);
        self.right.seek(r);
    }

    /// Moves by `delta` ticks.
    pub fn step_by(&mut self, delta: i64) {
        let t = (self.tick as i64 + delta).clamp(0, self.timeline.len() as i64 - 1);
        self.seek(t as usize);
    }

    /// The cursors shown now: (left, right).
    pub fn cursors(&self) -> (Option<usize>, Option<usize>) {
        self.timeline[self.tick]
    }

    /// The PFNs the operation was asked for (for the 2010 RFC, the first
    /// window it would look at).
    pub fn request(&self) -> PfnRange {
        match self.contest {
            Contest::RangeV49 { start, end } => PfnRange::new(start, end),
            Contest::Pages2010 { hint, nr } => PfnRange::new(hint, hint + nr),
        }
    }

    /// The pixels of both maps at the current tick.
    pub fn render(&self, viewport: &Viewport, palette: &Palette) -> (Vec<u8>, Vec<u8>) {
        let (l, r) = self.cursors();
        (self.left.render(l, viewport, palette, self.request()), self.right.render(r, viewport, palette, self.request()))
    }

    /// What both maps should frame: the PFNs the operation works on (the
    /// requested range widened to MAX_ORDER alignment as v4.9 isolates it,
    /// or the windows the two sides took), else the whole machine.
    pub fn focus(&self) -> PfnRange {
        let span = self.left.machine.pfn_span();
        let max = self.left.machine.geometry().max_order_nr_pages();
        match self.contest {
            Contest::RangeV49 { start, end } => PfnRange::new(start & !(max - 1), end.div_ceil(max) * max),
            Contest::Pages2010 { nr, .. } => {
                let starts: Vec<u64> = [self.left.outcome.pfn, self.right.outcome.pfn].into_iter().flatten().collect();
                match (starts.iter().min(), starts.iter().max()) {
                    (Some(&a), Some(&b)) => PfnRange::new(a, (b + nr.div_ceil(max) * max).min(span.end)),
                    _ => span,
                }
            }
        }
    }

    /// A viewport of `width` x `height` framing [`Comparison::focus`].
    pub fn frame(&self, width: u32, height: u32) -> Viewport {
        Viewport::frame(self.left.machine.pfn_span(), width, height, self.focus())
    }

    /// The phase shown at the current tick, from whichever side moved.
    pub fn phase(&self) -> Phase {
        let (l, r) = self.timeline[self.tick];
        let (pl, pr) = self.tick.checked_sub(1).map_or((None, None), |t| self.timeline[t]);
        let moved = |now: Option<usize>, before: Option<usize>| now.filter(|_| now != before);
        moved(l, pl).map(|i| self.left.phases[i]).or(moved(r, pr).map(|i| self.right.phases[i])).unwrap_or(Phase::Other)
    }

    /// The table of differences: (what, left, right).
    pub fn table(&self) -> Vec<(&'static str, String, String)> {
        let both = |f: &dyn Fn(&Side) -> String| (f(&self.left), f(&self.right));
        let rows: Vec<(&'static str, (String, String))> = vec![
            ("result", both(&|s| s.outcome.errno.clone().unwrap_or_else(|| "success".into()))),
            ("PFN", both(&|s| s.outcome.pfn.map_or("-".into(), |p| format!("{p:#x}")))),
            ("pageblocks isolated", both(&|s| s.pageblocks_isolated().to_string())),
            ("pages migrated", both(&|s| s.pages_migrated().to_string())),
            ("migration passes with a failure", both(&|s| s.failed_passes().to_string())),
            ("drain_all_pages calls", both(&|s| s.drains().to_string())),
            ("test_pages_isolated steps", both(&|s| s.count_phase(Phase::Test).to_string())),
            ("steps", both(&|s| s.trace.steps.len().to_string())),
        ];
        rows.into_iter().map(|(k, (a, b))| (k, a, b)).collect()
    }
}

/// Runs of equal phases: (phase, first step, one past the last).
fn segments(phases: &[Phase]) -> Vec<(Phase, usize, usize)> {
    let mut out: Vec<(Phase, usize, usize)> = Vec::new();
    for (i, &p) in phases.iter().enumerate() {
        match out.last_mut() {
            Some(last) if last.0 == p => last.2 = i + 1,
            _ => out.push((p, i, i + 1)),
        }
    }
    out
}

/// The joint timeline: the two sides' phase runs matched by a longest
/// common subsequence; matched runs advance together (the shorter one
/// waits at its last step), unmatched runs advance alone.
fn align(left: &[Phase], right: &[Phase]) -> Vec<(Option<usize>, Option<usize>)> {
    let (a, b) = (segments(left), segments(right));
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i].0 == b[j].0 { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut out = vec![(None, None)];
    let (mut l, mut r): (Option<usize>, Option<usize>) = (None, None);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i].0 == b[j].0 {
            let (la, lb) = (a[i].2 - a[i].1, b[j].2 - b[j].1);
            for k in 0..la.max(lb) {
                l = Some(a[i].1 + k.min(la - 1));
                r = Some(b[j].1 + k.min(lb - 1));
                out.push((l, r));
            }
            i += 1;
            j += 1;
        } else if j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            for k in a[i].1..a[i].2 {
                l = Some(k);
                out.push((l, r));
            }
            i += 1;
        } else {
            for k in b[j].1..b[j].2 {
                r = Some(k);
                out.push((l, r));
            }
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfnscope_core::{MachineSpec, PageKind};

    fn machine() -> Machine {
        Machine::new(MachineSpec::teaching_64m()).unwrap()
    }

    #[test]
    fn alignment_visits_every_step_of_both_sides_in_order() {
        use Phase::*;
        let left = [Other, Isolate, Isolate, Drain, Migrate, Test, Undo];
        let right = [Other, Isolate, Migrate, Migrate, Migrate, Drain, Test, Take, Undo];
        let t = align(&left, &right);
        assert_eq!(t[0], (None, None));
        assert_eq!(*t.last().unwrap(), (Some(left.len() - 1), Some(right.len() - 1)));
        for w in t.windows(2) {
            let step = |a: Option<usize>, b: Option<usize>| b.map_or(0, |x| x as i64 + 1) - a.map_or(0, |x| x as i64 + 1);
            let (dl, dr) = (step(w[0].0, w[1].0), step(w[0].1, w[1].1));
            assert!((0..=1).contains(&dl) && (0..=1).contains(&dr) && dl + dr > 0, "{w:?}");
        }
        // When both sides move in one tick, they are in the same phase.
        let mut together = 0;
        for w in t.windows(2) {
            if let ((Some(l0), Some(r0)), (Some(l1), Some(r1))) = (w[0], w[1]) {
                if l1 != l0 && r1 != r0 {
                    assert_eq!(left[l1], right[r1], "{w:?}");
                    together += 1;
                }
            }
        }
        assert!(together >= 4, "isolate, test and undo run together");
    }

    /// The case seed 001 teaches: a slab page in a MOVABLE pageblock. 6.12
    /// refuses it at isolation; v4.9 isolates, migrates, drains and fails
    /// at the test.
    #[test]
    fn v49_and_6_12_differ_on_slab_in_a_movable_block() {
        let mut m = machine();
        m.alloc_pages_at(0x2100, 0, PageKind::SlabUnmovable).unwrap();
        m.alloc_pages_at(0x2010, 0, PageKind::Anon).unwrap();
        m.lru_add_drain_all();
        let mut c = Comparison::new(&m, Contest::RangeV49 { start: 0x2000, end: 0x2200 });
        let table = c.table();
        let row = |k: &str| table.iter().find(|r| r.0 == k).cloned().unwrap();
        assert_eq!(row("result"), ("result", "-EBUSY".into(), "-EBUSY".into()));
        assert_eq!(row("pageblocks isolated").1, "0");
        assert_eq!(row("pageblocks isolated").2, "2");
        assert_eq!(row("pages migrated"), ("pages migrated", "0".into(), "1".into()));
        assert_eq!(c.left.count_phase(Phase::Test), 0);
        assert!(c.right.count_phase(Phase::Test) > 0);
        // The phase shown is that of the side that moved: v4.9 migrates
        // while 6.12, finished, waits.
        let migrating = (1..c.timeline.len()).find(|&t| c.timeline[t].1.is_some_and(|r| c.right.phases[r] == Phase::Migrate)).unwrap();
        c.seek(migrating);
        assert_eq!(c.phase(), Phase::Migrate);
        // Every tick is a consistent state on both sides, and the end of the
        // timeline is each side's end.
        for t in 0..c.timeline.len() {
            c.seek(t);
            c.left.machine.check_invariants().unwrap();
            c.right.machine.check_invariants().unwrap();
        }
        let mut alone = m.clone();
        let _ = alone.alloc_contig_range_v4(0x2000, 0x2200, MigrateType::Movable);
        assert_eq!(c.right.machine.fingerprint(), alone.fingerprint());
        c.seek(0);
        assert_eq!(c.left.machine.fingerprint(), m.fingerprint(), "tick 0 is the shared starting state");
        assert_eq!(c.right.machine.fingerprint(), m.fingerprint());
    }

    #[test]
    fn the_2010_rfc_leaves_its_window_isolated_where_6_12_restores_it() {
        let m = machine();
        let c = Comparison::new(&m, Contest::Pages2010 { hint: 0x1000, nr: 0x400 });
        assert_eq!(c.left.outcome.errno, None);
        assert_eq!(c.right.outcome.errno, None);
        let isolated = |s: &Side| (0..s.machine.zones().len()).map(|zi| s.machine.pageblock_counts(zi)[MigrateType::Isolate.index()]).sum::<u64>();
        assert_eq!(isolated(&c.left), 0);
        assert!(isolated(&c.right) > 0, "the count-for-end bug leaves the taken window isolated");
    }

    #[test]
    fn each_variant_takes_the_operations_it_can_compare() {
        use pfnscope_core::Op;
        let grab = Op::AllocContigRange { start: 0x2000, end: 0x2200, cma: false };
        assert_eq!(Against::V49.contest(&grab), Ok(Contest::RangeV49 { start: 0x2000, end: 0x2200 }));
        assert_eq!(Against::Rfc2010.contest(&grab), Ok(Contest::Pages2010 { hint: 0x2000, nr: 0x200 }));
        assert_eq!(Against::Rfc2010.contest(&Op::AllocContigPages { nr: 512 }), Ok(Contest::Pages2010 { hint: 0, nr: 512 }));
        assert!(Against::V49.contest(&Op::AllocContigPages { nr: 512 }).unwrap_err().contains("needs a range"));
        assert!(Against::V49.contest(&Op::Drain).unwrap_err().contains("not a contiguous allocation"));
    }
}
