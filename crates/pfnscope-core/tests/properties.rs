//! Property tests: random operation sequences keep every invariant, bad
//! requests are errors that change nothing, and traces play back exactly.

use pfnscope_core::{AllocatorPolicy, Gfp, Machine, MachineSpec, MigrateType, PageKind, ReportingPolicy};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Alloc { gfp: usize, order: u8, kind: usize },
    Free { nth: usize },
    /// A free of something that is not an allocation head.
    BadFree { pfn: u64, order: u8 },
    SetCpu(u8),
    DrainAllPages,
    LruAddDrainAll,
    /// alloc_contig_range over a random range (CMA or movable).
    Contig { start: u64, len: u64, cma: bool },
    FreeContig { nth: usize },
    CmaAlloc { count: u64, align: u8 },
    CmaRelease { nth: usize },
    Pin { nth: usize, longterm: bool },
    /// Simulated time passes: queued reporting runs.
    Wait { ms: u64 },
    /// Seed 004's walk, reported to the host.
    Walk { min_order: u8 },
    /// seed 003's kmempowerd pass.
    Evacuate { pct: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..Gfp::ALL.len(), prop_oneof![6 => 0u8..=3, 2 => 4u8..=10, 1 => 11u8..=12], 0..PageKind::ALL.len())
            .prop_map(|(gfp, order, kind)| Op::Alloc { gfp, order, kind }),
        4 => any::<usize>().prop_map(|nth| Op::Free { nth }),
        1 => (0u64..0x5000, 0u8..=11).prop_map(|(pfn, order)| Op::BadFree { pfn, order }),
        1 => (0u8..3).prop_map(Op::SetCpu),
        1 => Just(Op::DrainAllPages),
        1 => Just(Op::LruAddDrainAll),
        1 => (0u64..0x4000, 1u64..1200, any::<bool>()).prop_map(|(start, len, cma)| Op::Contig { start, len, cma }),
        1 => any::<usize>().prop_map(|nth| Op::FreeContig { nth }),
        1 => (1u64..700, 0u8..=10).prop_map(|(count, align)| Op::CmaAlloc { count, align }),
        1 => any::<usize>().prop_map(|nth| Op::CmaRelease { nth }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(nth, longterm)| Op::Pin { nth, longterm }),
        1 => prop_oneof![Just(500u64), Just(2000), Just(5000)].prop_map(|ms| Op::Wait { ms }),
        1 => (0u8..=11).prop_map(|min_order| Op::Walk { min_order }),
        1 => (0u8..=100).prop_map(|pct| Op::Evacuate { pct }),
    ]
}

/// What the sequence holds besides page allocations.
#[derive(Default)]
struct Held {
    contig: Vec<(u64, u64)>,
    cma: Vec<(u64, u64)>,
}

fn machine(which: bool) -> Machine {
    Machine::new(if which { MachineSpec::teaching_64m() } else { MachineSpec::teaching_16m() }).unwrap()
}

/// A machine with a reporting policy (none, mainline or seed 004's walk,
/// at an order low enough for a teaching machine's zones to pass the
/// gate) and, from `allocator` 1, 4 MiB memory regions: counted only, or
/// with seed 003's region allocator.
fn policy_machine(which: bool, policy: usize, order: u8, allocator: usize) -> Machine {
    let mut m = machine(which);
    m.page_reporting_register(ReportingPolicy::ALL[policy % 3], Some(order)).unwrap();
    if !allocator.is_multiple_of(3) {
        m.regions_register(AllocatorPolicy::ALL[allocator % 3 - 1], Some(1024)).unwrap();
    }
    m
}

/// Kinds the allocator hands out (reserved and offline pages come from
/// other paths).
fn kind(i: usize) -> PageKind {
    match PageKind::ALL[i] {
        PageKind::Reserved | PageKind::Offline | PageKind::HwPoison => PageKind::Kernel,
        k => k,
    }
}

/// Applies one op, then follows any pages it migrated.
fn apply(m: &mut Machine, live: &mut Vec<(u64, u8)>, held: &mut Held, op: &Op) {
    apply_op(m, live, held, op);
    for (old, new) in m.take_migrations() {
        if let Some(i) = live.iter().position(|e| e.0 == old) {
            match new {
                Some(new) => live[i].0 = new,
                None => {
                    live.swap_remove(i);
                }
            }
        }
    }
}

fn apply_op(m: &mut Machine, live: &mut Vec<(u64, u8)>, held: &mut Held, op: &Op) {
    match *op {
        Op::Alloc { gfp, order, kind: k } => {
            let r = m.alloc_pages(Gfp::ALL[gfp], order, kind(k));
            if order > m.geometry().max_order {
                assert!(r.is_err(), "order {order} must be refused");
            }
            if let Ok(pfn) = r {
                assert_eq!(pfn % (1 << order), 0, "blocks are naturally aligned");
                live.push((pfn, order));
            }
        }
        Op::Free { nth } => {
            if !live.is_empty() {
                let (pfn, order) = live.swap_remove(nth % live.len());
                assert_eq!(m.free_pages(pfn, order), Ok(true));
            }
        }
        Op::BadFree { pfn, order } => {
            let is_live_head = live.iter().any(|&(p, o)| p == pfn && o == order);
            let held_page = held.contig.iter().chain(&held.cma).any(|&(s, n)| s <= pfn && pfn < s + n);
            if !is_live_head && !held_page {
                let before = (m.page_words().to_vec(), m.pageblock_flags().to_vec());
                assert!(m.free_pages(pfn, order).is_err(), "free of {pfn:#x} order {order} must be refused");
                assert!(before.0 == m.page_words() && before.1 == m.pageblock_flags(), "a refused free changed state");
            }
        }
        Op::SetCpu(cpu) => {
            let r = m.set_cpu(cpu);
            assert_eq!(r.is_ok(), cpu < m.nr_cpus());
        }
        Op::DrainAllPages => m.drain_all_pages(None),
        Op::LruAddDrainAll => m.lru_add_drain_all(),
        Op::Contig { start, len, cma } => {
            let mt = if cma { MigrateType::Cma } else { MigrateType::Movable };
            if m.alloc_contig_range(start, start + len, mt, false).is_ok() {
                held.contig.push((start, len));
                assert!((start..start + len).all(|p| m.page(p).as_in_use().is_some_and(|u| u.kind == PageKind::Contig)));
            }
        }
        Op::FreeContig { nth } => {
            if !held.contig.is_empty() {
                let (s, n) = held.contig.swap_remove(nth % held.contig.len());
                m.free_contig_range(s, n).unwrap();
            }
        }
        Op::CmaAlloc { count, align } => {
            if let Ok((pfn, _)) = m.cma_alloc(0, count, align) {
                assert_eq!(pfn % (1 << align), 0, "CMA honours the alignment");
                held.cma.push((pfn, count));
            }
        }
        Op::CmaRelease { nth } => {
            if !held.cma.is_empty() {
                let (p, n) = held.cma.swap_remove(nth % held.cma.len());
                m.cma_release(0, p, n).unwrap();
            }
        }
        Op::Wait { ms } => {
            m.advance_clock(ms);
        }
        Op::Evacuate { pct } => {
            m.kmempowerd(pct);
        }
        Op::Walk { min_order } => {
            let r = m.free_page_hint_walk(min_order);
            assert_eq!(r.is_ok(), min_order <= m.geometry().max_order && m.reporting_status().is_some());
        }
        Op::Pin { nth, longterm } => {
            if !live.is_empty() {
                let i = nth % live.len();
                let (pfn, _) = live[i];
                if let Ok(at) = m.pin_user_page(pfn, longterm) {
                    assert!(!longterm || m.is_longterm_pinnable(at));
                    m.unpin_user_page(at).unwrap();
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// 10,000 random sequences on two machines; `check_invariants()` after
    /// every operation.
    #[test]
    fn invariants_hold_after_every_operation(big in any::<bool>(), policy in 0usize..3, order in 0u8..=10, allocator in 0usize..3, ops in prop::collection::vec(op(), 1..40)) {
        let mut m = policy_machine(big, policy, order, allocator);
        let mut live = Vec::new();
        let mut held = Held::default();
        for op in &ops {
            apply(&mut m, &mut live, &mut held, op);
            if let Err(v) = m.check_quiescent() {
                return Err(TestCaseError::fail(format!("after {op:?}: {v}")));
            }
        }
        // Freeing everything and draining gives back every page.
        for (pfn, order) in live.drain(..) {
            prop_assert_eq!(m.free_pages(pfn, order), Ok(true));
        }
        for (s, n) in held.contig.drain(..) {
            m.free_contig_range(s, n).unwrap();
        }
        for (p, n) in held.cma.drain(..) {
            m.cma_release(0, p, n).unwrap();
        }
        m.drain_all_pages(None);
        let fresh = machine(big);
        for zi in 0..m.zones().len() {
            prop_assert_eq!(m.zone_free_pages(zi), fresh.zone_free_pages(zi));
        }
        m.check_invariants().map_err(|v| TestCaseError::fail(v.to_string()))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Recording then seeking to every step reproduces a consistent state,
    /// seeking to the start restores the state exactly, and back to the end
    /// again.
    #[test]
    fn traces_seek_back_and_forth_exactly(policy in 0usize..3, order in 0u8..=10, allocator in 0usize..3, prefix in prop::collection::vec(op(), 0..25), recorded in prop::collection::vec(op(), 1..6)) {
        let mut m = policy_machine(true, policy, order, allocator);
        let mut live = Vec::new();
        let mut held = Held::default();
        for op in &prefix {
            apply(&mut m, &mut live, &mut held, op);
        }
        let before = (m.page_words().to_vec(), m.pageblock_flags().to_vec());
        let before_print = m.fingerprint();
        let mut live2 = live.clone();
        let ((), trace) = m.record("ops", |m| for op in &recorded { apply(m, &mut live2, &mut held, op) });
        let after = (m.page_words().to_vec(), m.pageblock_flags().to_vec());
        let end = m.store().position();
        for i in (0..trace.steps.len()).rev() {
            m.seek(trace.position_after(Some(i)));
            if let Err(v) = m.check_invariants() {
                return Err(TestCaseError::fail(format!("after step {i} ({}): {v}", trace.steps[i].text)));
            }
        }
        m.seek(trace.position_after(None));
        prop_assert!(before.0 == m.page_words() && before.1 == m.pageblock_flags());
        prop_assert_eq!(before_print, m.fingerprint(), "counters, reporting state and the host's bitmap step back too");
        m.check_invariants().map_err(|v| TestCaseError::fail(v.to_string()))?;
        m.seek(end);
        prop_assert!(after.0 == m.page_words() && after.1 == m.pageblock_flags());
        m.check_quiescent().map_err(|v| TestCaseError::fail(v.to_string()))?;
    }
}
