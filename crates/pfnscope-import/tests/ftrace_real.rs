//! A real kmem ftrace (tests/fixtures/real-x86-64-linux-6.18/kmem-trace.txt)
//! parsed and replayed onto a fresh machine large enough for its PFNs.

use pfnscope_core::{Machine, MachineSpec};
use pfnscope_import::ftrace::{parse, replay, Event};

const TRACE: &str = include_str!("../../../tests/fixtures/real-x86-64-linux-6.18/kmem-trace.txt");

#[test]
fn every_traced_event_parses() {
    let t = parse("kmem-trace.txt", TRACE).unwrap();
    let allocs = TRACE.lines().filter(|l| l.contains("mm_page_alloc:")).count();
    let frees = TRACE.lines().filter(|l| l.contains("mm_page_free:")).count();
    let got_allocs = t.events.iter().filter(|(_, e)| matches!(e, Event::Alloc { .. })).count();
    let got_frees = t.events.iter().filter(|(_, e)| matches!(e, Event::Free { .. })).count();
    assert_eq!((got_allocs, got_frees), (allocs, frees));
    assert!(allocs > 100);
    assert_eq!(t.skipped, TRACE.lines().count() - t.events.len(), "headers and nothing else are skipped");
}

#[test]
fn replay_onto_a_fresh_machine_applies_every_allocation_and_the_frees_the_trace_explains() {
    let t = parse("kmem-trace.txt", TRACE).unwrap();
    let mut m = Machine::new(MachineSpec::x86_64_pc(24)).unwrap();
    let r = replay(&mut m, &t);
    // On a fresh machine every traced PFN is free when it is allocated...
    let allocs = t.events.iter().filter(|(_, e)| matches!(e, Event::Alloc { .. })).count() as u64;
    // ...unless the trace allocated it before without freeing it.
    let mut live = std::collections::BTreeSet::new();
    let (mut want_allocs, mut want_frees) = (0u64, 0u64);
    for (_, e) in &t.events {
        match e {
            Event::Alloc { pfn, order, .. } => {
                if live.insert((*pfn, *order)) {
                    want_allocs += 1;
                }
            }
            Event::Free { pfn, order, .. } => {
                if live.remove(&(*pfn, *order)) {
                    want_frees += 1;
                }
            }
            Event::Extfrag { .. } => {}
        }
    }
    assert_eq!(want_allocs, allocs, "the real trace never allocates a block twice");
    assert_eq!((r.allocs, r.frees), (want_allocs, want_frees));
    assert_eq!(r.diverged.len() as u64, t.events.iter().filter(|(_, e)| matches!(e, Event::Free { .. })).count() as u64 - want_frees);
    m.check_quiescent().unwrap();
}
