//! The values of the app's form fields, as typed, and the scenario they
//! describe.

use pfnscope_core::{Gfp, PageKind, Scenario};
use pfnscope_view::session::scenario_from_query;

/// Form fields the user edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Machine,
    Workload,
    Seed,
    Steps,
    Gfp,
    Order,
    Kind,
    FreePfn,
    FreeOrder,
    /// Pasted /proc/buddyinfo text.
    Paste,
    /// The chosen operation of the generic form.
    OpName,
    /// One of the generic form's fields.
    OpArg(usize),
    /// The contiguity layer's window size.
    ContigSize,
    /// The page allocator: mainline or seed 003's region allocator.
    Allocator,
    /// Free page reporting: off, mainline or seed 004's walk.
    Reporting,
    /// `page_reporting_order` / the walk's `min_order`, empty for the
    /// driver's default.
    ReportingOrder,
}

/// The values of the form fields, as typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    pub machine: String,
    pub workload: String,
    pub seed: String,
    pub steps: String,
    pub gfp: String,
    pub order: String,
    pub kind: String,
    pub free_pfn: String,
    pub free_order: String,
    pub op_name: String,
    pub op_args: [String; 3],
    pub paste: String,
    pub contig_size: String,
    pub allocator: String,
    pub reporting: String,
    pub reporting_order: String,
}

impl Form {
    pub fn from_scenario(s: &Scenario) -> Form {
        Form {
            machine: s.machine.clone(),
            workload: s.workload.clone().unwrap_or_else(|| "none".into()),
            seed: s.seed.to_string(),
            steps: s.steps.to_string(),
            gfp: Gfp::KERNEL.name.into(),
            order: "0".into(),
            kind: PageKind::SlabUnmovable.label().into(),
            free_pfn: String::new(),
            free_order: "0".into(),
            op_name: "alloc_contig_range".into(),
            op_args: ["0x3400".into(), "0x3600".into(), "0".into()],
            paste: String::new(),
            contig_size: "2M".into(),
            allocator: s.allocator.name().into(),
            reporting: s.reporting.name().into(),
            reporting_order: s.reporting_order.map(|o| o.to_string()).unwrap_or_default(),
        }
    }

    /// The reporting order typed, if any.
    pub fn reporting_order(&self) -> Result<Option<u8>, String> {
        match self.reporting_order.trim() {
            "" => Ok(None),
            t => t.parse::<u8>().ok().filter(|&o| o <= 15).map(Some).ok_or_else(|| format!("reporting order: a whole number from 0 to 15, not {t:?}")),
        }
    }

    pub fn set(&mut self, f: Field, v: String) {
        match f {
            Field::Machine => self.machine = v,
            Field::Workload => self.workload = v,
            Field::Seed => self.seed = v,
            Field::Steps => self.steps = v,
            Field::Gfp => self.gfp = v,
            Field::Order => self.order = v,
            Field::Kind => self.kind = v,
            Field::FreePfn => self.free_pfn = v,
            Field::FreeOrder => self.free_order = v,
            Field::OpName => {
                // Sensible defaults for the new operation's fields, keeping a
                // start PFN already typed.
                for (i, spec) in pfnscope_view::session::operation_fields(&v).iter().enumerate() {
                    use pfnscope_view::session::FieldKind as K;
                    let keep = spec.kind == K::Pfn && !self.op_args[i].trim().is_empty() && self.op_args[i].starts_with("0x");
                    if !keep {
                        self.op_args[i] = match spec.kind {
                            K::Pfn => "0x3400".into(),
                            K::End => "+2M".into(),
                            K::Size => "2M".into(),
                            K::Flag | K::CmaArea | K::Device => "0".into(),
                            K::Order => "9".into(),
                            K::Workload => "desktop".into(),
                            K::Count => match spec.label {
                                "round budget" => "10".into(),
                                "steps" => "2000".into(),
                                "milliseconds" => "2000".into(),
                                "at most % used" => "50".into(),
                                _ => "1".into(),
                            },
                        };
                    }
                }
                self.op_name = v;
            }
            Field::Paste => self.paste = v,
            Field::ContigSize => self.contig_size = v,
            Field::Allocator => self.allocator = v,
            Field::Reporting => self.reporting = v,
            Field::ReportingOrder => self.reporting_order = v,
            Field::OpArg(i) => {
                if let Some(slot) = self.op_args.get_mut(i) {
                    *slot = v;
                }
            }
        }
    }

    /// The scenario the form describes, checked.
    pub fn scenario(&self) -> Result<Scenario, String> {
        let query = format!(
            "machine={}&workload={}&seed={}&steps={}&allocator={}&reporting={}&reporting_order={}",
            self.machine,
            self.workload,
            self.seed.trim(),
            self.steps.trim(),
            self.allocator,
            self.reporting,
            self.reporting_order.trim()
        );
        scenario_from_query(&query)
    }
}

