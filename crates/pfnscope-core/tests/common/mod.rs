//! Helpers shared by the integration tests.
#![allow(dead_code)]

use pfnscope_core::{Machine, MachineSpec, PageKind, Trace};

/// Seeks to every step of a trace, checking the invariants, then back to
/// where the operation left the machine, which must be quiescent.
pub fn every_step_consistent(m: &mut Machine, trace: &Trace) {
    let end = m.store().position();
    for i in 0..trace.steps.len() {
        m.seek(trace.position_after(Some(i)));
        if let Err(v) = m.check_invariants() {
            panic!("after step {i} ({}: {}): {v}", trace.steps[i].func, trace.steps[i].text);
        }
    }
    m.seek(end);
    m.check_quiescent().unwrap();
}

/// A fresh 64 MiB teaching machine.
pub fn machine() -> Machine {
    Machine::new(MachineSpec::teaching_64m()).unwrap()
}

/// Places an LRU page that is already on the LRU.
pub fn lru_page(m: &mut Machine, pfn: u64, kind: PageKind) {
    m.alloc_pages_at(pfn, 0, kind).unwrap();
    m.lru_add_drain_all();
}
