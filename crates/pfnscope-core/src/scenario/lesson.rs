//! What a scenario expects and what it teaches: the outcome its played
//! operation must reach, and the checkpoints of its lesson, tied to the
//! steps of the trace.

use serde::{Deserialize, Serialize};

use crate::geometry::PfnRange;
use crate::trace::Trace;

/// The outcome a scenario's played operation must reach (`expect` lines).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// Success, or failure.
    pub ok: bool,
    /// The error the failure names, such as `-EBUSY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    /// The PFN the failure names (the page in the way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pfn: Option<u64>,
}

/// The errors an `expect` line can name.
pub const ERRNOS: [&str; 4] = ["-EBUSY", "-ENOMEM", "-EINTR", "-EINVAL"];

impl Expect {
    /// How an outcome reads in a sentence: `ok`, `-EBUSY at 0x3400`,
    /// `a failure`.
    pub fn describe(&self) -> String {
        self.outcome("a failure")
    }

    /// The outcome as an `expect` line's words: `ok`, `fail at 0x3400`.
    pub fn words(&self) -> String {
        self.outcome("fail")
    }

    fn outcome(&self, failure: &str) -> String {
        if self.ok {
            return "ok".into();
        }
        let mut s = self.errno.clone().unwrap_or_else(|| failure.into());
        if let Some(p) = self.pfn {
            s += &format!(" at {p:#x}");
        }
        s
    }

    /// Whether an operation's result is this outcome; the error says what
    /// differed. The errno and the PFN are read from the result's sentence,
    /// which names both (`-EBUSY (-16): ... 0x3400 is ...`).
    pub fn check(&self, result: &Result<String, String>) -> Result<(), String> {
        let differs = |what: &str| Err(format!("expected {}, got {what}", self.describe()));
        match (self.ok, result) {
            (true, Ok(_)) => Ok(()),
            (true, Err(e)) => differs(&format!("a failure: {e}")),
            (false, Ok(m)) => differs(&format!("success: {m}")),
            (false, Err(e)) => {
                if let Some(errno) = &self.errno {
                    if !e.contains(&format!("{errno} (")) && !e.contains(&format!("{errno}:")) && !e.ends_with(errno.as_str()) {
                        return differs(e);
                    }
                }
                if let Some(pfn) = self.pfn {
                    if !names_pfn(e, pfn) {
                        return differs(e);
                    }
                }
                Ok(())
            }
        }
    }
}

/// Whether a sentence names `pfn` as a whole hex number.
fn names_pfn(text: &str, pfn: u64) -> bool {
    let needle = format!("{pfn:#x}");
    text.match_indices(&needle).any(|(i, _)| !text[i + needle.len()..].starts_with(|c: char| c.is_ascii_hexdigit()))
}

/// Where a checkpoint stands in the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum At {
    /// Before the first step: the stage.
    Start,
    /// The last step: the outcome.
    End,
    /// The step with this number, counted from 1.
    Step(usize),
    /// The `nth` step (from 1) taken in a kernel function itself.
    Func { name: String, nth: usize },
}

/// One stop of a lesson: a short text beside the map, and perhaps a
/// question the learner answers before stepping on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub at: At,
    pub text: String,
    /// "Predict first": asked at the checkpoint...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<String>,
    /// ...and answered once the learner steps past it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// What the camera frames; without it, what the step touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<PfnRange>,
}

impl Checkpoint {
    /// The player's cursor for this checkpoint on a trace (`None` is before
    /// the first step), or why it is not in the trace.
    pub fn cursor(&self, trace: &Trace) -> Result<Option<usize>, String> {
        let n = trace.steps.len();
        match &self.at {
            At::Start => Ok(None),
            At::End if n > 0 => Ok(Some(n - 1)),
            At::End => Err("the trace has no steps".into()),
            At::Step(k) if (1..=n).contains(k) => Ok(Some(k - 1)),
            At::Step(k) => Err(format!("step {k} is past the trace's {n} steps")),
            At::Func { name, nth } => trace
                .steps
                .iter()
                .enumerate()
                .filter(|(_, st)| st.func.name() == name)
                .nth(nth - 1)
                .map(|(i, _)| Some(i))
                .ok_or_else(|| format!("the trace has no step number {nth} in {name}()")),
        }
    }
}

/// The checkpoints' cursors on a trace, checked to be in order.
pub fn lesson_cursors(lesson: &[Checkpoint], trace: &Trace) -> Result<Vec<Option<usize>>, String> {
    let mut out: Vec<Option<usize>> = Vec::with_capacity(lesson.len());
    for (i, c) in lesson.iter().enumerate() {
        let at = c.cursor(trace).map_err(|e| format!("checkpoint {}: {e}", i + 1))?;
        if out.last().is_some_and(|&prev| prev > at) {
            return Err(format!("checkpoint {} comes before checkpoint {} in the trace", i + 1, i));
        }
        out.push(at);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expectation_reads_errno_and_pfn_from_the_sentence() {
        let busy = Expect { ok: false, errno: Some("-EBUSY".into()), pfn: Some(0x3400) };
        assert!(busy.check(&Err("-EBUSY (-16): PFNs 0x3400-0x3600 busy: 0x3400 is anon".into())).is_ok());
        assert!(busy.check(&Err("-EBUSY (-16): PFNs 0x34000-0x36000 busy".into())).is_err(), "0x34000 is not 0x3400");
        assert!(busy.check(&Err("-ENOMEM (-12): no target for 0x3400".into())).is_err());
        let e = busy.check(&Ok("took it".into())).unwrap_err();
        assert!(e.contains("expected -EBUSY at 0x3400, got success"), "{e}");
        assert!(Expect { ok: true, ..Default::default() }.check(&Err("x".into())).is_err());
    }
}
