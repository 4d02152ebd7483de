//! Memory offlining and virtio-mem.

mod common;

use common::{every_step_consistent, lru_page, machine};
use pfnscope_core::{Errno, KernelFn, MigrateType, PageKind, Tag, ZoneType};

#[test]
fn offlining_migrates_what_it_can_and_leaves_the_range_offline() {
    let mut m = machine();
    lru_page(&mut m, 0x3010, PageKind::Anon);
    lru_page(&mut m, 0x3020, PageKind::File);
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x3000, 0x400, 10));
    let stats = r.unwrap();
    assert_eq!(stats.rounds, 2, "one scan finds 0x3010 and do_migrate_range moves both pages; the next finds nothing");
    assert_eq!(stats.migration.migrated, 2);
    assert!((0x3000..0x3400).all(|p| m.page(p).as_in_use().is_some_and(|u| u.kind == PageKind::Offline)));
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::OfflineIsolatedPages));
    every_step_consistent(&mut m, &trace);
    m.online_pages(0x3000, 0x400).unwrap();
    m.check_quiescent().unwrap();
    assert_eq!(m.page(0x3000).tag(), Tag::Buddy);
}

/// Section 9.13: offlining never gives up until a signal arrives. With a
/// pinned page the kernel never even reaches test_pages_isolated():
/// scan_movable_pages() keeps finding the page that would not move. The
/// model stops at the user's budget of rounds with -EINTR and says the
/// budget is pfnscope's.
#[test]
fn offlining_a_range_with_a_pinned_page_retries_until_the_budget_runs_out() {
    let mut m = machine();
    lru_page(&mut m, 0x3010, PageKind::File);
    m.pin_user_page(0x3010, false).unwrap();
    let (r, trace) = m.record("offline", |m| m.offline_pages(0x3000, 0x200, 7));
    let e = r.unwrap_err();
    assert_eq!(e.errno, Errno::EINTR);
    assert!(e.reason.contains("budget of 7 rounds"));
    assert_eq!(trace.steps.iter().filter(|s| s.func == KernelFn::ScanMovablePages && s.text == "movable page at 0x3010").count(), 7);
    assert!(!trace.steps.iter().any(|s| s.func == KernelFn::TestPagesIsolated), "never reached while a movable page remains");
    let stop = trace.steps.iter().find(|s| s.text.contains("budget")).unwrap();
    assert!(stop.text.starts_with("pfnscope:"), "{}", stop.text);
    assert_eq!(m.get_pageblock_migratetype(0x3000), MigrateType::Movable, "given back on failure");
    every_step_consistent(&mut m, &trace);
    // A pending signal ends it at once.
    m.fatal_signal_pending = true;
    let e = m.offline_pages(0x3000, 0x200, 100).unwrap_err();
    assert_eq!((e.errno, e.reason.as_str()), (Errno::EINTR, "signal backoff"));
    m.check_quiescent().unwrap();
}

#[test]
fn offlining_an_unmovable_page_fails_at_isolation() {
    let mut m = machine();
    m.alloc_pages_at(0x2010, 0, PageKind::SlabUnmovable).unwrap();
    let e = m.offline_pages(0x2000, 0x200, 10).unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x2010)));
    assert!(e.reason.starts_with("failure to isolate range"));
    assert!(m.offline_pages(0x2001, 0x200, 1).is_err(), "unaligned");
    m.check_quiescent().unwrap();
}

#[test]
fn virtio_mem_unplugs_subblocks_from_the_end_and_plugs_them_back() {
    let mut m = machine();
    // virtio-mem0 manages 0x2000-0x2800 in Normal: 4 subblocks of 2 MiB.
    assert_eq!(m.virtio_mem_subblocks(0).len(), 4);
    let (r, trace) = m.record("unplug", |m| m.virtio_mem_unplug(0, 2));
    assert_eq!(r.unwrap().done, vec![3, 2]);
    let plugged: Vec<bool> = m.virtio_mem_subblocks(0).iter().map(|s| s.1).collect();
    assert_eq!(plugged, vec![true, true, false, false]);
    assert!((0x2400..0x2800).all(|p| m.page(p).as_in_use().is_some_and(|u| u.kind == PageKind::Offline)));
    every_step_consistent(&mut m, &trace);
    let (r, trace) = m.record("plug", |m| m.virtio_mem_plug(0, 1));
    assert_eq!(r.unwrap().done, vec![2]);
    every_step_consistent(&mut m, &trace);
    m.drain_all_pages(None);
    assert!(m.is_free(0x2400));
}

/// A busy subblock is skipped: one try in a kernel zone, five in
/// ZONE_MOVABLE (6.12).
#[test]
fn virtio_mem_skips_busy_subblocks_and_tries_harder_in_zone_movable() {
    let mut m = machine();
    m.alloc_pages_at(0x2610, 0, PageKind::SlabUnmovable).unwrap();
    let (r, trace) = m.record("unplug", |m| m.virtio_mem_unplug(0, 1));
    let rep = r.unwrap();
    assert_eq!(rep.done, vec![2], "subblock 3 is busy, 2 goes");
    assert_eq!(rep.failed.len(), 1);
    assert_eq!(trace.steps.iter().filter(|s| s.func == KernelFn::VirtioMemFakeOffline && s.text.starts_with("try")).count(), 1);
    every_step_consistent(&mut m, &trace);

    // virtio-mem1 is ZONE_MOVABLE: a pinned page costs five tries.
    lru_page(&mut m, 0x3e10, PageKind::Anon);
    m.pin_user_page(0x3e10, false).unwrap();
    let (r, trace) = m.record("unplug", |m| m.virtio_mem_unplug(1, 1));
    assert_eq!(r.unwrap().done, vec![6]);
    assert_eq!(trace.steps.iter().filter(|s| s.func == KernelFn::VirtioMemFakeOffline && s.text.starts_with("try")).count(), 5);
    assert_eq!(m.zones()[m.zone_of(0x3e10).unwrap()].zone_type, ZoneType::Movable);
    every_step_consistent(&mut m, &trace);
    assert!(m.virtio_mem_unplug(9, 1).is_err());
}
