//! The diagnosis and the contiguity map: each failure mode names exactly
//! its blocking pages, and over many aged machines the map's verdict
//! agrees with actually running alloc_contig_range() on a copy.

mod common;

use common::{lru_page, machine};
use pfnscope_core::{Errno, Gfp, Machine, MachineSpec, MigrateType, PageFlags, PageKind, Rule, Scenario, Targets, Verdict};
use proptest::prelude::*;

fn rules(d: &pfnscope_core::Diagnosis) -> Vec<(u64, Rule)> {
    d.blockers.iter().map(|b| (b.pfn, b.rule)).collect()
}

/// Runs alloc_contig_range on a copy and checks the diagnosis agrees:
/// free and migrate ranges succeed with the stated migrations, blocked ones
/// fail with the stated PFN (or -ENOMEM for no target).
fn agrees(m: &Machine, start: u64, end: u64) -> Result<(), String> {
    let d = m.diagnose_range(start, end, MigrateType::Movable);
    let mut copy = m.clone();
    let actual = copy.alloc_contig_range(start, end, MigrateType::Movable, false);
    let ctx = || format!("{start:#x}-{end:#x}: predicted {:?} first {:?}, actual {:?}", d.verdict, d.first, actual.as_ref().map(|s| (s.migration.migrated, s.migration.reclaimed)));
    match (d.verdict, &actual) {
        (Verdict::Free | Verdict::Migrate, Ok(s)) => {
            if s.migration.migrated != d.folios_to_migrate || s.migration.reclaimed != d.folios_to_drop {
                return Err(format!("{}: migrations differ", ctx()));
            }
        }
        // Only an uncertain outlook for targets may end in -ENOMEM.
        (Verdict::Migrate, Err(e)) if d.targets == Targets::Uncertain && e.errno == Errno::ENOMEM => {}
        (Verdict::Blocked, Err(e)) => {
            let f = d.first.as_ref().unwrap();
            if f.rule == Rule::NoTarget {
                if e.errno != Errno::ENOMEM {
                    return Err(format!("{}: expected -ENOMEM", ctx()));
                }
            } else if e.errno != Errno::EBUSY || e.pfn != Some(f.pfn) {
                return Err(format!("{}: blocked elsewhere", ctx()));
            }
        }
        _ => return Err(format!("{}: the verdicts disagree", ctx())),
    }
    Ok(())
}

#[test]
fn a_slab_page_is_named_with_its_rule_and_is_what_the_kernel_reports() {
    let mut m = machine();
    m.alloc_pages_at(0x2100, 0, PageKind::SlabUnmovable).unwrap();
    lru_page(&mut m, 0x2010, PageKind::Anon);
    let d = m.diagnose_range(0x2000, 0x2200, MigrateType::Movable);
    assert_eq!(d.verdict, Verdict::Blocked);
    assert_eq!(rules(&d), vec![(0x2100, Rule::Unmovable)]);
    assert_eq!(d.first.as_ref().unwrap().kind, "slab, unmovable");
    assert_eq!(d.pages_to_migrate, 1, "the anon page would move if the slab page did not block");
    agrees(&m, 0x2000, 0x2200).unwrap();
    assert!(d.report().contains("unmovable: 1 folio(s)"), "{}", d.report());
    assert!(d.report().contains("https://elixir.bootlin.com/linux/v6.12/C/ident/has_unmovable_pages"));
}

#[test]
fn every_blocker_is_listed_not_only_the_first() {
    let mut m = machine();
    m.alloc_pages_at(0x2300, 0, PageKind::SlabUnmovable).unwrap();
    m.alloc_pages_at(0x2040, 0, PageKind::PageTable).unwrap();
    lru_page(&mut m, 0x2010, PageKind::File);
    m.pin_user_page(0x2010, false).unwrap();
    m.alloc_pages_at(0x2020, 0, PageKind::Anon).unwrap(); // still in the CPU's LRU batch
    let d = m.diagnose_range(0x2000, 0x2400, MigrateType::Movable);
    assert_eq!(rules(&d), vec![(0x2010, Rule::Pinned), (0x2020, Rule::LruBatch), (0x2040, Rule::Unmovable), (0x2300, Rule::Unmovable)]);
    // Isolation checks the first pageblock first, and within it the
    // lowest page: the batch page at 0x2020 is what the kernel reports.
    assert_eq!(d.first.as_ref().unwrap().pfn, 0x2020);
    agrees(&m, 0x2000, 0x2400).unwrap();
    let grouped: Vec<(Rule, usize)> = d.by_rule().into_iter().map(|(r, v)| (r, v.len())).collect();
    assert_eq!(grouped, vec![(Rule::Unmovable, 2), (Rule::LruBatch, 1), (Rule::Pinned, 1)]);
}

#[test]
fn pinned_pages_pass_isolation_and_fail_the_test() {
    let mut m = machine();
    lru_page(&mut m, 0x3410, PageKind::Anon);
    lru_page(&mut m, 0x3420, PageKind::File);
    m.pin_user_page(0x3420, false).unwrap();
    m.pin_user_page(0x3410, false).unwrap();
    let d = m.diagnose_range(0x3400, 0x3600, MigrateType::Movable);
    assert_eq!(rules(&d), vec![(0x3410, Rule::Pinned), (0x3420, Rule::Pinned)]);
    agrees(&m, 0x3400, 0x3600).unwrap();
}

#[test]
fn cma_isolated_reserved_and_kernel_pages_in_zone_movable_have_their_rules() {
    let mut m = machine();
    // The CMA area starts at 0x2800: a MOVABLE caller is refused there.
    let d = m.diagnose_range(0x2800, 0x2a00, MigrateType::Movable);
    assert_eq!(rules(&d), vec![(0x2800, Rule::CmaBlock)]);
    agrees(&m, 0x2800, 0x2a00).unwrap();
    assert_eq!(m.diagnose_range(0x2800, 0x2a00, MigrateType::Cma).verdict, Verdict::Free);

    // An isolated pageblock belongs to someone else.
    m.start_isolate_page_range(0x2400, 0x2600, MigrateType::Movable, Default::default()).unwrap();
    assert_eq!(rules(&m.diagnose_range(0x2400, 0x2600, MigrateType::Movable)), vec![(0x2400, Rule::Isolated)]);
    agrees(&m, 0x2400, 0x2600).unwrap();
    m.undo_isolate_page_range(0x2400, 0x2600, MigrateType::Movable);

    // DMA starts at PFN 1: the pageblock at 0 has a page outside any zone.
    let d = m.diagnose_range(0x1, 0x200, MigrateType::Movable);
    assert_eq!(d.first.as_ref().map(|b| (b.pfn, b.rule)), Some((0x0, Rule::Hole)));
    agrees(&m, 0x1, 0x200).unwrap();

    // ZONE_MOVABLE takes anything but reserved pages to be movable: kernel
    // memory there passes isolation and fails the test.
    m.alloc_pages_at(0x3810, 0, PageKind::Kernel).unwrap();
    let d = m.diagnose_range(0x3800, 0x3a00, MigrateType::Movable);
    assert_eq!(rules(&d), vec![(0x3810, Rule::NotMigratable)]);
    agrees(&m, 0x3800, 0x3a00).unwrap();
}

#[test]
fn no_migration_target_is_predicted_when_memory_runs_out() {
    let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
    // Fill the machine with anon pages, then ask for a range full of them.
    while m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::Anon).is_ok() {}
    m.lru_add_drain_all();
    let map = m.contiguity_map(0x200);
    assert!(map.windows.iter().any(|w| w.rule == Some(Rule::NoTarget) && w.blocker_pfn.is_none()), "{:?}", map.summary);
    for w in &map.windows {
        agrees(&m, w.start_pfn, w.start_pfn + 0x200).unwrap();
    }
}

#[test]
fn locked_and_writeback_pages_cost_a_migration_not_a_failure() {
    let mut m = machine();
    lru_page(&mut m, 0x2010, PageKind::File);
    m.set_page_flags(0x2010, PageFlags::WRITEBACK, PageFlags::empty()).unwrap();
    lru_page(&mut m, 0x2020, PageKind::File);
    let d = m.diagnose_range(0x2000, 0x2200, MigrateType::Movable);
    assert_eq!((d.verdict, d.folios_to_migrate, d.folios_to_drop), (Verdict::Migrate, 1, 1));
    agrees(&m, 0x2000, 0x2200).unwrap();
}

#[test]
fn the_map_covers_every_aligned_window_and_summarizes() {
    let m = Scenario::default().build().unwrap();
    let map = m.contiguity_map(512);
    let expected: u64 = m.zones().iter().map(|z| (z.span.end / 512).saturating_sub(z.span.start.div_ceil(512))).sum();
    assert_eq!(map.windows.len() as u64, expected);
    let s = &map.summary;
    assert_eq!(s.free + s.migrate + s.blocked, s.windows);
    assert!(s.blocked > 0 && s.migrate > 0, "{s:?}");
    let sentence = map.sentence("2 MiB");
    assert!(sentence.starts_with(&format!("{} of {} 2 MiB windows obtainable", s.free + s.migrate, s.windows)), "{sentence}");
    // The job in chunks gives the same map.
    let mut job = pfnscope_core::ContiguityJob::new(&m, 512);
    while !job.advance(&m, 3) {}
    assert_eq!(job.finish(), map);
    for w in &map.windows {
        agrees(&m, w.start_pfn, w.start_pfn + 512).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Over aged machines, every 2 MiB window and some unaligned ranges:
    /// the verdict is what alloc_contig_range() then does.
    #[test]
    fn the_verdict_agrees_with_running_alloc_contig_range(
        workload in prop::sample::select(vec!["desktop", "file-server", "vm-host"]),
        seed in 0u64..1000,
        steps in 500u64..12_000,
        ranges in prop::collection::vec((0x1000u64..0x3f00, 1u64..0x500), 4),
    ) {
        let s = Scenario { workload: Some(workload.into()), seed, steps, ..Scenario::blank("p", "teaching-64m") };
        let m = s.build().unwrap();
        for w in m.contiguity_map(512).windows {
            let d = m.diagnose_range(w.start_pfn, w.start_pfn + 512, MigrateType::Movable);
            prop_assert_eq!(w.verdict, d.verdict);
            prop_assert_eq!(w.rule, d.first.as_ref().map(|b| b.rule));
            if w.verdict != Verdict::Blocked {
                prop_assert_eq!((w.pages_to_migrate, w.pages_to_drop, w.targets), (d.pages_to_migrate, d.pages_to_drop, d.targets));
            }
            agrees(&m, w.start_pfn, w.start_pfn + 512).map_err(TestCaseError::fail)?;
        }
        for (start, len) in ranges {
            let end = start + len;
            if m.zone_of(start).is_some() && m.zone_of(start) == m.zone_of(end - 1) {
                agrees(&m, start, end).map_err(TestCaseError::fail)?;
            }
        }
    }
}

/// Section 9.1 through CMA: every slot cma_alloc() tried is diagnosed on
/// the state it met, and each names its pinned page.
#[test]
fn each_cma_slot_tried_names_its_pinned_page() {
    let mut m = machine();
    for pfn in [0x2810u64, 0x2a10, 0x2c10, 0x2e10] {
        lru_page(&mut m, pfn, PageKind::File);
        m.set_page_flags(pfn, PageFlags::DIRTY, PageFlags::empty()).unwrap();
        m.pin_user_page(pfn, false).unwrap();
    }
    let (r, trace) = m.record("cma", |m| m.cma_alloc(0, 0x200, 9));
    assert_eq!(r.unwrap_err().errno, Errno::EBUSY);
    let attempts = m.diagnose_trace(&trace);
    let named: Vec<Vec<(u64, Rule)>> = attempts.iter().map(|a| rules(&a.diagnosis)).collect();
    assert_eq!(named, vec![vec![(0x2810, Rule::Pinned)], vec![(0x2a10, Rule::Pinned)], vec![(0x2c10, Rule::Pinned)], vec![(0x2e10, Rule::Pinned)]]);
    m.check_quiescent().unwrap();
}

/// An offlining stuck on a pinned page, and the v4.9 and 2010 variants:
/// their attempts are diagnosed too.
#[test]
fn offlining_and_the_variants_explain_their_blockers() {
    let mut m = machine();
    lru_page(&mut m, 0x3010, PageKind::Anon);
    m.pin_user_page(0x3010, false).unwrap();
    let (_, trace) = m.record("offline", |m| m.offline_pages(0x3000, 0x200, 5));
    let a = m.diagnose_trace(&trace);
    assert_eq!(a.len(), 1);
    assert_eq!(rules(&a[0].diagnosis), vec![(0x3010, Rule::Pinned)]);

    let mut m = machine();
    m.alloc_pages_at(0x2100, 0, PageKind::SlabUnmovable).unwrap();
    let (_, trace) = m.record("v4", |m| m.alloc_contig_range_v4(0x2000, 0x2200, MigrateType::Movable));
    let a = m.diagnose_trace(&trace);
    assert_eq!(rules(&a[0].diagnosis), vec![(0x2100, Rule::Unmovable)]);

    let mut m = machine();
    m.alloc_pages_at(0x1410, 0, PageKind::SlabUnmovable).unwrap();
    let (_, trace) = m.record("2010", |m| m.alloc_contig_pages_2010(0x1400, 0x400));
    let a = m.diagnose_trace(&trace);
    assert_eq!(rules(&a[0].diagnosis), vec![(0x1410, Rule::NotMigratable)], "the RFC isolated the window; the test is what fails");
    assert_eq!(a[1].diagnosis.verdict, Verdict::Free);
}
