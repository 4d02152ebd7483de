//! `pfnscope compare`: the same state through 6.12 and a seed's
//! historical variant, printed as a table of differences and the two
//! traces side by side, phase by phase.

use pfnscope_core::Machine;
use pfnscope_view::compare::{Against, Comparison, Contest, Phase};

/// Which variant to run against 6.12, as the command line names it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AgainstArg {
    /// Seed 001's `alloc_contig_range()` as v4.9 ran it.
    #[value(name = "v4.9")]
    V49,
    /// Seed 002's 2010 `alloc_contig_pages()`.
    #[value(name = "2010")]
    Rfc2010,
}

impl AgainstArg {
    pub fn variant(self) -> Against {
        match self {
            AgainstArg::V49 => Against::V49,
            AgainstArg::Rfc2010 => Against::Rfc2010,
        }
    }
}

/// The report: a title, the table, then the joint timeline.
pub fn report(base: &Machine, contest: Contest, width: usize) -> String {
    let c = Comparison::new(base, contest);
    let (ll, rl) = contest.labels();
    let mut out = format!("{}\n\n", contest.title());
    out += &format!("{:<34} {:<22} {}\n", "", ll, rl);
    for (what, l, r) in c.table() {
        let mark = if l != r { "  <- differs" } else { "" };
        out += &format!("{what:<34} {l:<22} {r}{mark}\n");
    }
    for side in [&c.left, &c.right] {
        out += &format!("{}: {}\n", side.label, side.outcome.text);
    }
    let col = width.saturating_sub(12) / 2;
    out += &format!("\n{:<8} {:<col$} | {}\n", "phase", ll, rl);
    let cell = |side: &pfnscope_view::compare::Side, now: Option<usize>, before: Option<usize>| -> String {
        match now {
            Some(i) if now != before => {
                let s = &side.trace.steps[i];
                clip(&format!("{}: {}", s.func, s.text), col)
            }
            _ => String::new(),
        }
    };
    let mut last_phase = None;
    for w in c.timeline.windows(2) {
        let (before, now) = (w[0], w[1]);
        let phase = now.0.filter(|_| now.0 != before.0).map(|i| c.left.phases[i]).or(now.1.filter(|_| now.1 != before.1).map(|i| c.right.phases[i])).unwrap_or(Phase::Other);
        let label = if Some(phase) != last_phase { phase.label() } else { "" };
        last_phase = Some(phase);
        out += &format!("{label:<8} {:<col$} | {}\n", cell(&c.left, now.0, before.0), cell(&c.right, now.1, before.1));
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}
