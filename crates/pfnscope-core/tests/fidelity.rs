//! Places where a line-by-line review against 6.12 (and v4.9, 2.6.36) found
//! the model showing something the kernel does not do. Each test asserts
//! the kernel's outcome, and every trace is checked step by step.

mod common;

use common::{every_step_consistent, lru_page, machine};
use pfnscope_core::{Errno, Gfp, KernelFn, Machine, MigrateType, PageFlags, PageKind, Trace, ZoneType};

fn has_step(trace: &Trace, f: KernelFn, text: &str) -> bool {
    trace.steps.iter().any(|s| s.func == f && s.text.contains(text))
}

fn zone_type(m: &Machine, pfn: u64) -> ZoneType {
    m.zones()[m.zone_of(pfn).unwrap()].zone_type
}

/// 6.12 migrates for contiguous allocation with MIGRATE_SYNC: after three
/// async passes, migrate_pages_sync() retries each folio alone, and
/// migrate_folio_unmap() sleeps on the folio lock and on writeback instead
/// of giving up. A range holding a locked page and a page under writeback
/// is taken.
#[test]
fn sync_migration_waits_for_the_lock_and_writeback_then_succeeds() {
    let mut m = machine();
    lru_page(&mut m, 0x2010, PageKind::File);
    m.set_page_flags(0x2010, PageFlags::DIRTY | PageFlags::WRITEBACK, PageFlags::empty()).unwrap();
    lru_page(&mut m, 0x2020, PageKind::Anon);
    m.set_page_flags(0x2020, PageFlags::LOCKED, PageFlags::empty()).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    let stats = r.unwrap();
    assert_eq!(stats.migration.migrated, 2);
    assert!(has_step(&trace, KernelFn::FolioWaitWriteback, "0x2010 is under writeback"));
    assert!(has_step(&trace, KernelFn::FolioLock, "0x2020 is locked"));
    let wait = trace.steps.iter().position(|s| s.func == KernelFn::FolioWaitWriteback).unwrap();
    let async_passes = trace.steps[..wait].iter().filter(|s| s.text.contains("(MIGRATE_ASYNC)")).count();
    assert_eq!(async_passes, 3, "NR_MAX_MIGRATE_ASYNC_RETRY passes come first");
    assert!(trace.steps[wait].stack.ends_with(&[KernelFn::MigratePages, KernelFn::MigratePagesSync, KernelFn::MigratePagesBatch, KernelFn::MigrateFolioUnmap]));
    every_step_consistent(&mut m, &trace);
}

/// The same wait serves offlining and CMA: a page under writeback is no
/// permanent obstacle to either.
#[test]
fn offlining_and_cma_wait_for_writeback_too() {
    let mut m = machine();
    lru_page(&mut m, 0x3010, PageKind::File);
    m.set_page_flags(0x3010, PageFlags::WRITEBACK, PageFlags::empty()).unwrap();
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x3000, 0x200, 20));
    r.unwrap();
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::FolioWaitWriteback));
    every_step_consistent(&mut m, &trace);

    let mut m = machine();
    lru_page(&mut m, 0x2810, PageKind::Anon);
    m.set_page_flags(0x2810, PageFlags::LOCKED, PageFlags::empty()).unwrap();
    let (r, trace) = m.record("cma", |m| m.cma_alloc(0, 0x200, 0));
    assert_eq!(r.unwrap().0, 0x2800, "the first slot, after waiting; no busy retry");
    assert!(!trace.steps.iter().any(|s| s.text.contains("cma_alloc_busy_retry")));
    every_step_consistent(&mut m, &trace);
}

/// isolate_migratepages_block() takes its own reference, then skips an
/// anon folio whose count, less that reference, exceeds its mapcount: any
/// reference beyond the mappings, not only a second one.
#[test]
fn anon_page_with_one_extra_reference_is_skipped_at_isolation() {
    let mut m = machine();
    lru_page(&mut m, 0x2010, PageKind::Anon);
    m.get_page(0x2010).unwrap();
    assert_eq!(m.page(0x2010).as_in_use().unwrap().refcount, 2);
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    let e = r.unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x2010)));
    assert!(trace.steps.iter().any(|s| s.text.contains("skipped 1 pinned anon")));
    every_step_consistent(&mut m, &trace);
    // Dropping the reference lets it move.
    m.put_page(0x2010).unwrap();
    m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false).unwrap();
    assert!(m.put_page(0x2010).is_err(), "the owner's reference cannot be dropped this way");
}

/// GFP_USER|__GFP_MOVABLE has no __GFP_HIGHMEM, so its highest zone is
/// ZONE_NORMAL; alloc_migration_target() adds __GFP_HIGHMEM only for
/// sources in ZONE_MOVABLE. Offlining a ZONE_NORMAL range must not move
/// its pages into ZONE_MOVABLE; a ZONE_MOVABLE source may stay there.
#[test]
fn migration_targets_stay_below_zone_movable_for_kernel_zone_sources() {
    assert_eq!(Gfp::USER_MOVABLE.highest_zone, ZoneType::Normal);
    let mut m = machine();
    lru_page(&mut m, 0x1810, PageKind::Anon);
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x1800, 0x200, 20));
    let stats = r.unwrap();
    let (_, to) = stats.migration.moved[0];
    assert_ne!(zone_type(&m, to), ZoneType::Movable, "target {to:#x}");
    every_step_consistent(&mut m, &trace);

    let mut m = machine();
    lru_page(&mut m, 0x3410, PageKind::Anon);
    let stats = m.alloc_contig_range(0x3400, 0x3600, MigrateType::Movable, false).unwrap();
    assert_eq!(zone_type(&m, stats.migration.moved[0].1), ZoneType::Movable);
}

/// 6.12's offline_pages() repeats scan_movable_pages() + do_migrate_range()
/// until nothing movable is left, and do_migrate_range() isolates the
/// whole range at once, pinned anon pages included, unlike compaction's
/// 32-folio batches.
#[test]
fn offlining_isolates_the_whole_range_at_once_and_includes_pinned_anon() {
    let mut m = machine();
    for i in 0..40 {
        lru_page(&mut m, 0x1800 + 2 * i, PageKind::File);
    }
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x1800, 0x200, 20));
    assert_eq!(r.unwrap().migration.migrated, 40);
    assert!(has_step(&trace, KernelFn::DoMigrateRange, "isolated 40 folio(s)"));
    every_step_consistent(&mut m, &trace);

    let mut m = machine();
    lru_page(&mut m, 0x1810, PageKind::Anon);
    m.pin_user_page(0x1810, false).unwrap();
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x1800, 0x200, 3));
    assert_eq!(r.unwrap_err().errno, Errno::EINTR);
    assert!(has_step(&trace, KernelFn::DoMigrateRange, "isolated 1 folio(s)"), "the pinned anon page is isolated and tried");
    assert!(trace.steps.iter().any(|s| s.stack.contains(&KernelFn::MigratePages) && s.text.contains("-EAGAIN")));
    every_step_consistent(&mut m, &trace);
}

/// scan_movable_pages() returns -EBUSY for a PageOffline page whose driver
/// kept its reference through MEM_GOING_OFFLINE: "unmovable page". Only
/// virtio-mem's own pages lose their references.
#[test]
fn offlining_fails_on_a_referenced_page_offline_page() {
    let mut m = machine();
    m.alloc_pages_at(0x1810, 0, PageKind::Offline).unwrap();
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x1800, 0x200, 20));
    let e = r.unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x1810)));
    assert!(e.reason.starts_with("unmovable page"), "{}", e.reason);
    assert!(has_step(&trace, KernelFn::ScanMovablePages, "PageOffline and still referenced"));
    every_step_consistent(&mut m, &trace);

    // virtio-mem's fake-offlined subblock offlines: its driver lets go.
    let mut m = machine();
    m.virtio_mem_unplug(1, 1).unwrap();
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x3e00, 0x200, 20));
    r.unwrap();
    assert!(trace.steps.iter().any(|s| s.text.contains("MEM_GOING_OFFLINE: virtio-mem dropped its references to 512")));
    every_step_consistent(&mut m, &trace);
}

/// 6.10+ isolate_single_pageblock(): a hugetlb folio straddling the
/// isolation edge is migrated out of the way there; another compound page
/// that straddles it fails the isolation.
#[test]
fn hugetlb_straddling_the_isolation_edge_is_migrated_away() {
    let mut m = machine();
    m.alloc_pages_at(0x2000, 10, PageKind::Hugetlb).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2200, 0x2400, MigrateType::Movable, false));
    r.unwrap();
    let moved = trace.steps.iter().find(|s| s.text.contains("0x2000 ->") && s.stack.contains(&KernelFn::IsolateSinglePageblock));
    assert!(moved.is_some(), "migrated inside isolate_single_pageblock");
    assert!(has_step(&trace, KernelFn::IsolateSinglePageblock, "hugetlb folio 0x2000 straddles 0x2200: migrate it"));
    every_step_consistent(&mut m, &trace);

    let mut m = machine();
    m.alloc_pages_at(0x2000, 10, PageKind::MovableOps).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2200, 0x2400, MigrateType::Movable, false));
    assert_eq!(r.unwrap_err().errno, Errno::EBUSY);
    assert!(has_step(&trace, KernelFn::IsolateSinglePageblock, "only hugetlb is migrated here"));
    every_step_consistent(&mut m, &trace);
}

/// test_pages_isolated() steps from start_pfn by pageblock_nr_pages, so
/// for an unaligned start the fin_pfn it reports is start plus whole
/// pageblocks, not a pageblock boundary.
#[test]
fn test_pages_isolated_reports_fin_pfn_from_an_unaligned_start() {
    let mut m = machine();
    // An order-4 anon folio at 0x2000 leaves a free block starting at 0x2010.
    m.alloc_pages_at(0x2000, 4, PageKind::Anon).unwrap();
    m.lru_add_drain_all();
    m.start_isolate_page_range(0x2000, 0x2200, MigrateType::Movable, Default::default()).unwrap();
    let (r, trace) = m.record("test", |m| m.test_pages_isolated(0x2010, 0x2400, Default::default()));
    assert_eq!(r, Err(0x2210));
    assert!(has_step(&trace, KernelFn::TestPagesIsolated, "fin_pfn=0x2210 ret=fail"));
    // The last, partial step is never type-checked: the kernel passes a
    // range whose tail lies in a block that is not isolated, if it is free.
    assert_eq!(m.test_pages_isolated(0x2010, 0x2210, Default::default()), Ok(()));
    m.undo_isolate_page_range(0x2000, 0x2200, MigrateType::Movable);
    m.check_quiescent().unwrap();
}

/// With __GFP_COMP and a range that is not exactly the taken power of
/// two, 6.12 WARNs, returns -EINVAL and leaks the taken pages; pfnscope
/// gives them back and says so in the trace.
#[test]
fn gfp_comp_mismatch_is_explained_as_the_kernel_leaks_it() {
    let mut m = machine();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2300, MigrateType::Movable, true));
    assert_eq!(r.unwrap_err().errno, Errno::EINVAL);
    assert!(has_step(&trace, KernelFn::AllocContigRange, "the kernel leaks the taken pages"));
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::AllocContigRange && s.text.starts_with("pfnscope:")));
    every_step_consistent(&mut m, &trace);
}

/// cma_alloc() takes any alignment order: hugetlb_cma asks for 1 GiB.
#[test]
fn cma_alloc_accepts_alignment_above_max_page_order() {
    let mut m = machine();
    let (pfn, _) = m.cma_alloc(0, 0x200, 11).unwrap();
    assert_eq!(pfn % 0x800, 0);
    let e = m.cma_alloc(0, 0x200, 11).unwrap_err();
    assert_eq!(e.errno, Errno::ENOMEM, "no second 8 MiB-aligned slot in an 8 MiB area");
    assert_eq!(m.cma_alloc(0, 0x200, 9).unwrap().0, 0x2a00);
    m.check_quiescent().unwrap();
}

/// virtio_mem_sbm_unplug_any_sb_online(): a request that covers the whole,
/// fully plugged memory block tries it in one shot first; when that is
/// busy it falls back to single subblocks.
#[test]
fn virtio_mem_unplugs_a_whole_block_in_one_shot_first() {
    let mut m = machine();
    let (r, trace) = m.record("unplug", |m| m.virtio_mem_unplug(0, 4));
    assert_eq!(r.unwrap().done, vec![3, 2, 1, 0]);
    let grabs: Vec<_> = trace.steps.iter().filter(|s| s.func == KernelFn::AllocContigRange && s.text.starts_with("alloc_contig_range(")).collect();
    assert_eq!(grabs.len(), 1);
    assert!(grabs[0].text.starts_with("alloc_contig_range(0x2000, 0x2800"), "{}", grabs[0].text);
    every_step_consistent(&mut m, &trace);

    let mut m = machine();
    m.alloc_pages_at(0x2010, 0, PageKind::SlabUnmovable).unwrap();
    let (r, trace) = m.record("unplug", |m| m.virtio_mem_unplug(0, 4));
    assert_eq!(r.unwrap().done, vec![3, 2, 1], "subblock 0 holds the slab page");
    assert!(trace.steps.iter().any(|s| s.text.contains("fall back to single subblocks")));
    every_step_consistent(&mut m, &trace);
}

/// Seed 002's window tests are strict: `base + pages < end` and
/// `pfn + pages < chunk end`, so a window that would end exactly at the
/// end of memory is never tried.
#[test]
fn rfc_2010_never_tries_a_window_ending_at_the_end_of_memory() {
    let mut m = machine();
    let end = m.pfn_span().end;
    assert_eq!(end, 0x4000);
    let e = m.alloc_contig_pages_2010(end - 0x400, 0x400).unwrap_err();
    assert_eq!(e.errno, Errno::ENOMEM);
    let (pfn, _) = m.alloc_contig_pages_2010(end - 0x800, 0x400).unwrap();
    assert_eq!(pfn, end - 0x800);
}

/// Seed 002's alloc_contig_freed_pages() never advances its PFN: the trace
/// names the bug where it bites and says what pfnscope does instead; its
/// isolation is 2.6.36's, with a drain after every pageblock.
#[test]
fn rfc_2010_names_its_freed_pages_bug_and_drains_per_pageblock() {
    let mut m = machine();
    let (r, trace) = m.record("2010", |m| m.alloc_contig_pages_2010(0x1800, 0x400));
    assert_eq!(r.unwrap().0, 0x1800);
    assert!(has_step(&trace, KernelFn::AllocContigFreedPages2010, "never advances pfn"));
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::AllocContigFreedPages2010 && s.text.starts_with("pfnscope:")));
    let drains = trace.steps.iter().filter(|s| s.func == KernelFn::DrainAllPages && s.stack.last() == Some(&KernelFn::SetMigratetypeIsolate2010)).count();
    assert_eq!(drains, 2, "one per isolated pageblock");
    assert_eq!(KernelFn::SetMigratetypeIsolate2010.version(), "v2.6.36");
    every_step_consistent(&mut m, &trace);
}
