//! Scenarios: a machine, a workload that ages it and a seed — everything
//! needed to rebuild the same state natively, in wasm, or from a share link.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geometry::MachineSpec;
use crate::machine::Machine;
use crate::workload::{Workload, WorkloadSpec};

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
    /// Workload steps to run.
    #[serde(default)]
    pub steps: u64,
}

impl Default for Scenario {
    /// The built-in default: a 64 MiB teaching machine after a desktop day.
    fn default() -> Scenario {
        Scenario {
            title: "A desktop's memory after a day (64 MiB teaching machine)".into(),
            machine: "teaching-64m".into(),
            workload: Some("desktop".into()),
            seed: 42,
            steps: 12_000,
        }
    }
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
                "unknown machine {:?}; choose one of {}",
                self.machine,
                MachineSpec::PRESETS.join(", ")
            )));
        }
        if let Some(w) = &self.workload {
            if WorkloadSpec::preset(w).is_none() {
                return Err(Error::BadMachine(format!("unknown workload {w:?}; choose one of {}", WorkloadSpec::PRESETS.join(", "))));
            }
        }
        Ok(())
    }

    /// Boots the machine and prepares the workload without running it.
    pub fn prepare(&self) -> Result<(Machine, Option<Workload>)> {
        self.validate()?;
        let spec = MachineSpec::preset(&self.machine).expect("validated");
        let m = Machine::new(spec)?;
        let w = match &self.workload {
            Some(name) => Some(Workload::new(WorkloadSpec::preset(name).expect("validated"), self.seed)?),
            None => None,
        };
        Ok((m, w))
    }

    /// Boots the machine and runs the whole workload.
    pub fn build(&self) -> Result<Machine> {
        let (mut m, w) = self.prepare()?;
        if let Some(mut w) = w {
            w.run(&mut m, self.steps, |_| {});
        }
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
