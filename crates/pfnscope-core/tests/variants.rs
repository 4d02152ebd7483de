//! The seeds' historical variants beside 6.12 on the same state.

mod common;

use common::{every_step_consistent, lru_page, machine};
use pfnscope_core::{Errno, Gfp, KernelFn, MigrateType, PageKind};

/// Seed 001: v4.x widened isolation to MAX_ORDER alignment, so an
/// unmovable pageblock next to the range (but in the same 4 MiB) fails it;
/// 6.12 isolates only the pageblocks the range touches and succeeds.
#[test]
fn v4_widened_isolation_fails_where_6_12_succeeds() {
    let mut m = machine();
    // An order-9 slab allocation falls back and claims a whole order-10
    // block: both its pageblocks become UNMOVABLE.
    let slab = m.alloc_pages(Gfp::KERNEL, 9, PageKind::SlabUnmovable).unwrap();
    let other = slab ^ 0x200;
    assert_eq!(m.get_pageblock_migratetype(other), MigrateType::Unmovable);
    let (start, end) = (other, other + 0x200);
    let base = m.clone();

    let (r, trace) = m.record("v4", |m| m.alloc_contig_range_v4(start, end, MigrateType::Movable));
    let e = r.unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(slab)));
    let widened = format!("widened to MAX_ORDER alignment: {:#x}-{:#x}", slab & !0x3ff, (slab & !0x3ff) + 0x400);
    assert!(trace.steps[1].text.contains(&widened), "{}", trace.steps[1].text);
    every_step_consistent(&mut m, &trace);

    let mut m = base;
    m.alloc_contig_range(start, end, MigrateType::Movable, false).unwrap();
    m.check_quiescent().unwrap();
}

/// Seed 001's case that teaches: a slab page in a MOVABLE pageblock.
/// v4.x's has_unmovable_pages() took a MOVABLE block to be movable without
/// looking at its pages, and set_migratetype_isolate() drained the per-cpu
/// lists after each block; so v4.x isolated, migrated what it could,
/// drained, and failed only at test_pages_isolated ("PFNs busy"). 6.12
/// looks at the pages and fails at isolation, having moved nothing.
#[test]
fn v4_isolates_a_movable_block_holding_slab_and_fails_later_at_the_test() {
    let mut m = machine();
    m.alloc_pages_at(0x2100, 0, PageKind::SlabUnmovable).unwrap();
    lru_page(&mut m, 0x2010, PageKind::Anon);
    let base = m.clone();

    let (r, trace) = m.record("v4", |m| m.alloc_contig_range_v4(0x2000, 0x2200, MigrateType::Movable));
    let e = r.unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x2100)));
    assert!(e.reason.contains("PFNs busy"), "{}", e.reason);
    let isolated = trace.steps.iter().filter(|s| s.func == KernelFn::SetMigratetypeIsolateV4 && s.text.ends_with("is now MIGRATE_ISOLATE")).count();
    assert_eq!(isolated, 2, "both pageblocks of the widened range");
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::HasUnmovablePagesV4 && s.text.contains("without looking at its pages")));
    let drains_in_isolation = trace.steps.iter().filter(|s| s.stack.contains(&KernelFn::SetMigratetypeIsolateV4) && (s.func == KernelFn::DrainAllPages || s.stack.contains(&KernelFn::DrainAllPages))).count();
    assert!(drains_in_isolation >= 2, "a drain after each isolated block");
    assert_eq!(e.errno, Errno::EBUSY);
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::TestPagesIsolated && s.text.contains("fin_pfn=0x2100 ret=fail")));
    assert!(trace.steps.iter().any(|s| s.text.contains("0x2010 ->")), "v4.x moved the anon page before failing");
    for f in [KernelFn::AllocContigRangeV4, KernelFn::SetMigratetypeIsolateV4, KernelFn::HasUnmovablePagesV4] {
        assert_eq!(f.version(), "v4.9");
        assert!(f.source_url().contains("/v4.9/"), "{}", f.source_url());
    }
    every_step_consistent(&mut m, &trace);

    let mut m = base;
    let (r, trace) = m.record("6.12", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    assert_eq!(r.unwrap_err().pfn, Some(0x2100));
    assert!(!trace.steps.iter().any(|s| s.stack.contains(&KernelFn::MigratePages)), "6.12 fails before migrating");
    assert!(!trace.steps.iter().any(|s| s.func == KernelFn::TestPagesIsolated));
}

/// Seed 001: in v4.x a migration failure aborts before the test step.
#[test]
fn v4_aborts_on_migration_failure_and_succeeds_otherwise() {
    let mut m = machine();
    lru_page(&mut m, 0x2210, PageKind::File);
    m.set_page_flags(0x2210, pfnscope_core::PageFlags::DIRTY, pfnscope_core::PageFlags::empty()).unwrap();
    let mut pinned = m.clone();
    pinned.pin_user_page(0x2210, false).unwrap();
    let (r, trace) = pinned.record("v4", |m| m.alloc_contig_range_v4(0x2200, 0x2400, MigrateType::Movable));
    let e = r.unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert!(e.reason.contains("v4.x gives up here"));
    assert!(!trace.steps.iter().any(|s| s.func == pfnscope_core::KernelFn::TestPagesIsolated));
    every_step_consistent(&mut pinned, &trace);

    let (r, trace) = m.record("v4", |m| m.alloc_contig_range_v4(0x2200, 0x2400, MigrateType::Movable));
    assert_eq!(r.unwrap().migration.migrated, 1);
    every_step_consistent(&mut m, &trace);
}

/// Seed 002: the 2010 RFC isolates any MOVABLE pageblock without looking
/// at its pages; a slab page stuck in a movable pageblock makes migration
/// give up after its retries, the window fails the test and stays isolated,
/// and the next aligned window is taken (and left isolated by the
/// count-for-end bug).
#[test]
fn rfc_2010_leaves_failed_and_taken_windows_isolated() {
    let mut m = machine();
    m.alloc_pages_at(0x1410, 0, PageKind::SlabUnmovable).unwrap();
    lru_page(&mut m, 0x1420, PageKind::Anon);
    let (r, trace) = m.record("2010", |m| m.alloc_contig_pages_2010(0x1400, 1000));
    let (pfn, stats) = r.unwrap();
    assert_eq!(pfn, 0x1800, "rounded to 1024 pages, the next aligned window");
    assert_eq!(stats.attempts, 2);
    let gave_up = trace.steps.iter().filter(|s| s.text.contains("not on the LRU")).count();
    assert_eq!(gave_up, 7, "retry-- < 0 lets it fail seven times");
    for b in [0x1400u64, 0x1600, 0x1800, 0x1a00] {
        assert_eq!(m.get_pageblock_migratetype(b), MigrateType::Isolate, "{b:#x}");
    }
    assert!((0x1800..0x1c00).all(|p| m.page(p).as_in_use().is_some_and(|u| u.kind == PageKind::Contig)));
    every_step_consistent(&mut m, &trace);
}

/// The RFC's migration loop rescans from the page it found last; when that
/// page lies below the window, do_migrate_range() never touches it and the
/// loop would spin forever. The model stops it and says why.
#[test]
fn rfc_2010_livelock_below_the_window_is_stopped_and_explained() {
    let mut m = machine();
    lru_page(&mut m, 0x1420, PageKind::Anon);
    m.alloc_pages_at(0x1810, 0, PageKind::SlabUnmovable).unwrap();
    // Window 0x1800 holds only the slab page: its scan finds nothing (0),
    // the loop runs once, then rescans from 0 and finds 0x1420.
    let (r, trace) = m.record("2010", |m| m.alloc_contig_pages_2010(0x1800, 1024));
    assert!(trace.steps.iter().any(|s| s.text.contains("would spin forever")));
    let _ = r;
    every_step_consistent(&mut m, &trace);
}
