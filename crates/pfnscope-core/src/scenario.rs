//! Scenarios: a machine, a workload that ages it and a seed — everything
//! needed to rebuild the same state natively, in wasm, or from a share link.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geometry::MachineSpec;
use crate::machine::Machine;
use crate::ops::Op;
use crate::workload::{Workload, WorkloadSpec};

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A reproducible starting state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub title: String,
    /// A machine preset name ([`MachineSpec::PRESETS`]).
    pub machine: String,
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
}

impl Default for Scenario {
    /// The built-in default: a 64 MiB teaching machine after a desktop day,
    /// ready to play a contiguous allocation in ZONE_MOVABLE that succeeds
    /// after migrating the pages in its way.
    fn default() -> Scenario {
        Scenario {
            title: "A desktop's memory after a day: grab 2 MiB in ZONE_MOVABLE".into(),
            machine: "teaching-64m".into(),
            workload: Some("desktop".into()),
            seed: 42,
            steps: 12_000,
            reporting: Default::default(),
            reporting_order: None,
            allocator: Default::default(),
            region_pages: None,
            setup: vec![Op::Drain],
            play: Some(Op::AllocContigRange { start: 0x3400, end: 0x3600, cma: false }),
        }
    }
}

impl Scenario {
    /// The default scenario with an O_DIRECT read in flight: a short-term
    /// pin on a page of the range makes the same grab fail.
    pub fn default_pinned() -> Scenario {
        let base = Scenario::default();
        let mut setup = base.setup.clone();
        setup.push(Op::PinFirstIn { start: 0x3400, end: 0x3600, longterm: false });
        Scenario { title: "The same, with a pinned page in the way".into(), setup, ..base }
    }

    /// Seed 001's lesson: a slab page in a MOVABLE pageblock of ZONE_NORMAL,
    /// beside LRU pages. 6.12 refuses the range at isolation; v4.9
    /// isolated it, migrated, drained and failed only at the test.
    pub fn slab_in_movable() -> Scenario {
        use crate::page::PageKind::{Anon, File, SlabUnmovable};
        let place = |pfn, kind| Op::PlacePage { pfn, order: 0, kind };
        Scenario {
            title: "A slab page in a MOVABLE pageblock: 6.12 against v4.9".into(),
            machine: "teaching-64m".into(),
            workload: None,
            seed: 0,
            steps: 0,
            reporting: Default::default(),
            reporting_order: None,
            allocator: Default::default(),
            region_pages: None,
            setup: vec![place(0x2010, Anon), place(0x2030, File), place(0x2100, SlabUnmovable), place(0x2180, Anon)],
            play: Some(Op::AllocContigRange { start: 0x2000, end: 0x2200, cma: false }),
        }
    }

    /// Mainline free page reporting's first pass over a desktop's memory
    /// (virtio-balloon, `page_reporting_order` 3 so the teaching machine's
    /// zones pass the gate): batches of 32 taken off the lists, reported,
    /// put back at the tail marked PageReported.
    pub fn free_page_reporting() -> Scenario {
        Scenario {
            title: "Free page reporting: the first pass, 2 s after boot".into(),
            reporting: crate::reporting::ReportingPolicy::Mainline,
            reporting_order: Some(3),
            play: Some(Op::Wait { ms: 2000 }),
            ..Scenario::default()
        }
    }

    /// Seed 004: `walk_free_mem_block()` over the same desktop, every free
    /// block of order 3 or more to the host, nothing kept in the guest.
    pub fn walk_free_mem_block() -> Scenario {
        Scenario {
            title: "Seed 004: walk_free_mem_block() over a desktop's free lists".into(),
            reporting: crate::reporting::ReportingPolicy::Walk,
            reporting_order: Some(3),
            play: Some(Op::WalkFreeMemBlock { min_order: 3 }),
            ..Scenario::default()
        }
    }

    /// Seed 003: the region allocator with 8 MiB regions early in a
    /// desktop session (each migratetype got a region of its own), a few
    /// anon pages left in ZONE_MOVABLE's upper region, and one `kmempowerd`
    /// pass: it empties that region into region 0 and cannot empty the
    /// lightly used unmovable ones.
    pub fn region_allocator() -> Scenario {
        let anon = |pfn| Op::PlacePage { pfn, order: 0, kind: crate::page::PageKind::Anon };
        Scenario {
            title: "Seed 003: the 2013 region allocator and kmempowerd".into(),
            steps: 800,
            allocator: crate::regions::AllocatorPolicy::Regions,
            setup: vec![Op::Drain, anon(0x3905), anon(0x3a05), anon(0x3b05), anon(0x3c05)],
            play: Some(Op::Kmempowerd { max_used_pct: 50 }),
            ..Scenario::default()
        }
    }

    /// Built-in scenarios by name, for menus and share links.
    pub fn builtin(name: &str) -> Option<Scenario> {
        match name {
            "default" => Some(Scenario::default()),
            "pinned" => Some(Scenario::default_pinned()),
            "slab-in-movable" => Some(Scenario::slab_in_movable()),
            "free-page-reporting" => Some(Scenario::free_page_reporting()),
            "walk-free-mem-block" => Some(Scenario::walk_free_mem_block()),
            "region-allocator" => Some(Scenario::region_allocator()),
            _ => None,
        }
    }
    pub const BUILTINS: [&'static str; 6] = ["default", "pinned", "slab-in-movable", "free-page-reporting", "walk-free-mem-block", "region-allocator"];
}

impl Scenario {
    /// Parses a scenario from JSON, with a message that names the problem.
    pub fn from_json(text: &str) -> Result<Scenario> {
        let s: Scenario = serde_json::from_str(text).map_err(|e| Error::BadMachine(format!("scenario: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    /// Checks the names before any work is done.
    pub fn validate(&self) -> Result<()> {
        if MachineSpec::preset(&self.machine).is_none() {
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
        let spec = MachineSpec::preset(&self.machine).expect("validated");
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

        let p = Scenario::default_pinned();
        let mut m = p.build().unwrap();
        let (r, trace) = m.record(play.title(), |m| play.run(m));
        let err = r.unwrap_err();
        assert!(err.contains("-EBUSY"), "{err}");
        assert!(trace.steps.iter().any(|st| st.text.contains("pinned")), "the trace names the pin");
    }

    #[test]
    fn bad_scenarios_name_the_problem() {
        let e = Scenario::from_json(r#"{"title":"x","machine":"pdp-11"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown machine \"pdp-11\""), "{e}");
        let e = Scenario::from_json(r#"{"title":"x","machine":"teaching-16m","workload":"crypto"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown workload"), "{e}");
        let e = Scenario::from_json(r#"{"title":"x","machine":"teaching-16m","bogus":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        assert!(Scenario::from_json("{").is_err());
    }

    #[test]
    fn scenario_round_trips_through_json() {
        let s = Scenario::default();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(Scenario::from_json(&text).unwrap(), s);
    }
}
