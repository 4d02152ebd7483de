//! Scenarios: a machine, a starting state, the operations to set up and
//! to play, the outcome expected and a lesson — everything needed to
//! rebuild the same picture natively, in wasm, or from a share link.
//!
//! A scenario is a text file ([`text`], documented in `docs/scenarios.md`);
//! the built-in ones are the files of the repository's `scenarios/`
//! folder, compiled in.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geometry::MachineSpec;
use crate::machine::Machine;
use crate::ops::Op;
use crate::workload::{Workload, WorkloadSpec};

pub mod lesson;
pub mod text;
pub mod words;

pub use lesson::{At, Checkpoint, Expect};
pub use text::ParseError;

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A reproducible starting state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub title: String,
    /// One line for the gallery's card.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// The gallery's group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
    /// A machine preset name ([`MachineSpec::PRESETS`]), or `custom` with
    /// [`Scenario::spec`].
    pub machine: String,
    /// An explicit machine (`machine custom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<MachineSpec>,
    /// A workload preset name ([`WorkloadSpec::PRESETS`]), or none for a
    /// freshly booted machine.
    #[serde(default)]
    pub workload: Option<String>,
    #[serde(default)]
    pub seed: u64,
    /// Workload steps to run ([`Workload::run`]); none (0) with a workload
    /// ages the machine to a lived-in steady state instead
    /// ([`Workload::age`]).
    #[serde(default)]
    pub steps: u64,
    /// The free page reporting device registered at boot.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reporting: crate::reporting::ReportingPolicy,
    /// `page_reporting_order` (or the walk's `min_order`); none for the
    /// driver's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_order: Option<u8>,
    /// The page allocator: mainline 6.12 or seed 003's region allocator.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allocator: crate::regions::AllocatorPolicy,
    /// Pages per memory region (if none, the series' 512 MiB, or 8 MiB on
    /// a machine under 1 GiB). Set, or with the region allocator, the
    /// machine is cut into regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_pages: Option<u64>,
    /// Operations run after the workload, untraced: the stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<Op>,
    /// The operation the player opens on, traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play: Option<Op>,
    /// A historical kernel to play the same operation on, side by side
    /// with 6.12 ([`text::VARIANTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The outcome the played operation must reach on 6.12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// The lesson's checkpoints, in trace order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lesson: Vec<Checkpoint>,
}

impl Default for Scenario {
    /// The built-in default (`scenarios/default.scenario`): a 64 MiB
    /// teaching machine after a desktop day, ready to play a contiguous
    /// allocation in ZONE_MOVABLE that succeeds after migrating the pages
    /// in its way.
    fn default() -> Scenario {
        Scenario::builtin("default").expect("the default scenario is built in")
    }
}

/// The built-in scenario files, `(name, text)`, sorted by name (generated
/// by build.rs from `scenarios/`); without the `builtins` feature only the
/// default's text is compiled in.
const BUILTIN_FILES: &[(&str, Option<&str>)] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

impl Scenario {
    /// An empty scenario on a machine: nothing aged, set up or played.
    pub fn blank(title: &str, machine: &str) -> Scenario {
        Scenario {
            title: title.into(),
            summary: String::new(),
            topic: String::new(),
            machine: machine.into(),
            spec: None,
            workload: None,
            seed: 0,
            steps: 0,
            reporting: Default::default(),
            reporting_order: None,
            allocator: Default::default(),
            region_pages: None,
            setup: vec![],
            play: None,
            variant: None,
            expect: None,
            lesson: vec![],
        }
    }

    /// Built-in scenarios by name, for the gallery, menus and share links
    /// (without the `builtins` feature, only `default`).
    pub fn builtin(name: &str) -> Option<Scenario> {
        let text = Scenario::builtin_text(name)?;
        Some(Scenario::parse(text).unwrap_or_else(|e| panic!("built-in scenario {name}: {e}")))
    }

    /// The built-in scenarios' names, sorted.
    pub fn builtins() -> impl Iterator<Item = &'static str> {
        BUILTIN_FILES.iter().map(|(n, _)| *n)
    }

    /// Whether a name is a built-in scenario's.
    pub fn is_builtin(name: &str) -> bool {
        BUILTIN_FILES.iter().any(|(n, _)| *n == name)
    }

    /// A built-in scenario's file, as written (without the `builtins`
    /// feature, only `default`'s).
    pub fn builtin_text(name: &str) -> Option<&'static str> {
        BUILTIN_FILES.iter().find(|(n, _)| *n == name).and_then(|(_, t)| *t)
    }

    /// The machine this scenario boots: the explicit one or the preset.
    pub fn machine_spec(&self) -> Option<MachineSpec> {
        match &self.spec {
            Some(spec) => Some(spec.clone()),
            None => MachineSpec::preset(&self.machine),
        }
    }
}

impl Scenario {
    /// Checks the names before any work is done.
    pub fn validate(&self) -> Result<()> {
        if let Some(spec) = &self.spec {
            crate::machine::validate(spec)?;
        } else if MachineSpec::preset(&self.machine).is_none() {
            return Err(Error::BadMachine(format!(
                "unknown machine {:?}; choose one of {}, or {} on the command line",
                self.machine,
                MachineSpec::PRESETS.join(", "),
                MachineSpec::NATIVE_PRESET
            )));
        }
        if let Some(w) = &self.workload {
            WorkloadSpec::named(w)?;
        }
        Ok(())
    }

    /// Boots the machine and prepares the workload without running it.
    pub fn prepare(&self) -> Result<(Machine, Option<Workload>)> {
        self.validate()?;
        let spec = self.machine_spec().expect("validated");
        let mut m = Machine::new(spec)?;
        m.page_reporting_register(self.reporting, self.reporting_order)?;
        if self.allocator == crate::regions::AllocatorPolicy::Regions || self.region_pages.is_some() {
            m.regions_register(self.allocator, self.region_pages)?;
        }
        let w = match &self.workload {
            Some(name) => Some(Workload::new(WorkloadSpec::preset(name).expect("validated"), self.seed)?),
            None => None,
        };
        Ok((m, w))
    }

    /// Runs the setup operations on an aged machine; the first that fails
    /// is an error naming it.
    pub fn run_setup(&self, m: &mut Machine) -> Result<()> {
        for op in &self.setup {
            op.run(m).map_err(|e| Error::BadMachine(format!("setup step {}: {e}", op.title())))?;
        }
        m.take_migrations();
        Ok(())
    }

    /// Boots the machine, runs the whole workload and the setup.
    pub fn build(&self) -> Result<Machine> {
        let (mut m, w) = self.prepare()?;
        match w {
            Some(mut w) if self.steps == 0 => while !w.age(&mut m, u64::MAX).finished {},
            Some(mut w) => w.run(&mut m, self.steps, |_| {}),
            None => {}
        }
        self.run_setup(&mut m)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_builds_a_consistent_fragmented_machine() {
        let m = Scenario::default().build().unwrap();
        m.check_invariants().unwrap();
        let normal = m.zone_index(crate::geometry::ZoneType::Normal).unwrap();
        assert!(m.nr_free(normal, 10) < 8);
    }

    #[test]
    fn default_grab_succeeds_after_migrations_and_the_pinned_twin_fails_at_the_pin() {
        let s = Scenario::default();
        let mut m = s.build().unwrap();
        let play = s.play.clone().unwrap();
        let (r, trace) = m.record(play.title(), |m| play.run(m));
        let msg = r.unwrap();
        assert!(!msg.contains(" 0 folio(s) migrated"), "{msg}");
        assert!(trace.steps.iter().any(|st| st.stack.contains(&crate::trace::KernelFn::MigratePages)));

        let p = Scenario::builtin("pinned").unwrap();
        let mut m = p.build().unwrap();
        let (r, trace) = m.record(play.title(), |m| play.run(m));
        let err = r.unwrap_err();
        assert!(err.contains("-EBUSY"), "{err}");
        assert!(trace.steps.iter().any(|st| st.text.contains("pinned")), "the trace names the pin");
    }

    /// An explicit machine does not excuse an unknown workload: validation
    /// refuses it before `prepare` would build it.
    #[test]
    fn a_custom_machine_with_an_unknown_workload_is_refused() {
        let custom = Scenario::parse("title x\nmachine custom\nzone Normal 0x0 0x1000\n").unwrap();
        let bad = Scenario { workload: Some("crypto".into()), ..custom };
        assert!(bad.validate().unwrap_err().to_string().contains("unknown workload"));
        assert!(bad.build().is_err());
    }

    /// Every format error names its line and column and the problem.
    #[test]
    fn bad_files_name_line_column_and_problem() {
        let cases: &[(&str, (usize, usize), &str)] = &[
            ("title x\nmachine pdp-11\n", (2, 9), "unknown machine \"pdp-11\""),
            ("title x\nmachine teaching-16m\nworkload crypto\n", (3, 10), "unknown workload"),
            ("title x\nmachine teaching-16m\ncolour blue\n", (3, 1), "unknown keyword \"colour\""),
            ("title x\nmachine teaching-16m\npage 0x1000000 anon\n", (3, 6), "PFN 0x1000000 is outside the machine"),
            ("title x\nmachine teaching-16m\npage 0x1zz anon\n", (3, 6), "is not a number"),
            ("title x\nmachine teaching-16m\npage 0x100 granite\n", (3, 12), "unknown page kind"),
            ("title x\nmachine teaching-16m\nplay alloc_contig_range 0x0\n", (3, 28), "missing the end PFN"),
            ("title x\nmachine teaching-16m\nplay reboot\n", (3, 6), "unknown operation \"reboot\""),
            ("title x\nmachine custom\nzone DMA 0x0 0x1000\nzone Normal 0x800 0x2000\n", (4, 13), "overlaps zone DMA"),
            ("title x\nmachine custom\nzone Normal 0x0 0x1000\nzone DMA 0x1000 0x2000\n", (4, 6), "must come after zone Normal"),
            ("title x\nmachine custom\nzone Normal 0x0 0x1000\nhole 0x2000 0x2100\n", (4, 6), "not inside one zone"),
            ("title x\nmachine custom\nzone Normal 0x0 0x1000\ncma 0x100 0x180\n", (2, 9), "pageblock-aligned"),
            ("title x\nmachine custom\nzone Normal 0x0 0x1000\nhole 0x400 0x600\npage 0x480 anon\n", (5, 6), "is in a hole"),
            ("title x\nzone Normal 0x0 0x1000\n", (2, 1), "write `machine custom` before it"),
            ("title x\nmachine teaching-16m\ntext hello\n", (3, 1), "belongs to a checkpoint"),
            ("title x\nmachine teaching-16m\ncheckpoint frobnicate\n", (3, 12), "not start, end, step N, or a kernel function"),
            ("title x\nmachine teaching-16m\nexpect -EPERM\n", (3, 8), "is not ok, fail or one of"),
            ("machine teaching-16m\n", (1, 1), "needs a title"),
            ("title x\n", (1, 1), "needs a machine"),
        ];
        for (text, (line, col), want) in cases {
            let e = Scenario::parse(text).unwrap_err();
            assert!(e.message.contains(want), "{text:?}: {e}");
            assert_eq!((e.line, e.col), (*line, *col), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("line {line}, column {col}: ")));
        }
    }

    /// A hand-written file with an explicit machine, pages and a lesson
    /// reads as written, builds, and writes back to the same scenario.
    #[test]
    fn an_explicit_machine_with_pages_and_a_lesson_builds_and_round_trips() {
        let text = "title  A tiny board\nsummary  Two zones\nsummary  and a pin\nsummary  more\nmachine custom Tiny board\ncpus 1\nzone DMA32 0x0 0x800   # the low half\nzone Normal 0x800 0x1000\nreserved 0x0 0x20\nhole 0xc00 0xc80\ncma 0xe00 0x1000\nvirtio-mem 0x800 0xa00\n\npage 0x810 anon pinned dirty\npage 0x900 slab order 2\nsetup drain\nplay alloc_contig_range 0x800 0xa00\nexpect -EBUSY at 0x900\n\ncheckpoint start\ntext The stage.\ncheckpoint start_isolate_page_range\nask Will it isolate?\nanswer No: slab.\nframe 0x800 0xa00\n";
        let s = Scenario::parse(text).unwrap();
        assert_eq!(s.summary, "Two zones and a pin more");
        let spec = s.spec.clone().unwrap();
        assert_eq!((spec.name.as_str(), spec.nr_cpus, spec.zones.len(), spec.cma.len(), spec.virtio_mem[0].subblock_pages), ("Tiny board", 1, 2, 1, 512));
        assert_eq!(spec.zones[1].holes, vec![crate::geometry::PfnRange::new(0xc00, 0xc80)]);
        assert_eq!(s.setup.len(), 5, "place, pin, flags, place, drain");
        assert_eq!(s.lesson.len(), 2);
        assert_eq!(Scenario::parse(&s.to_text()).unwrap(), s, "{}", s.to_text());
        let mut m = s.build().unwrap();
        m.check_invariants().unwrap();
        let play = s.play.clone().unwrap();
        let (r, trace) = m.record(play.title(), |m| play.run(m));
        s.expect.as_ref().unwrap().check(&r).unwrap();
        let at = lesson::lesson_cursors(&s.lesson, &trace).unwrap();
        assert_eq!(at[0], None);
        assert!(at[1].is_some());
    }

    /// Every built-in reads back from its own written form.
    #[test]
    fn every_built_in_round_trips_through_its_text() {
        assert!(Scenario::builtins().count() >= 6);
        for name in Scenario::builtins() {
            let s = Scenario::builtin(name).unwrap();
            assert_eq!(Scenario::parse(&s.to_text()).unwrap(), s, "{name}");
            s.validate().unwrap();
        }
    }
}
