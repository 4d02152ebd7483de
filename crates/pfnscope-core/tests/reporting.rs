//! Free page reporting: seed 004's walk and its contract, mainline's
//! threshold, delay, zone gate, batches, budget, put-back and re-reporting,
//! and both designs compared over time and in a live migration.

mod common;

use common::{every_step_consistent, machine};
use pfnscope_core::reporting::live_migration::{compare_live_migration, MigrationConfig};
use pfnscope_core::reporting::timeline::{compare_reporting, TimelineConfig};
use pfnscope_core::reporting::PAGE_REPORTING_CAPACITY;
use pfnscope_core::{
    Gfp, IsolFlags, KernelFn, Machine, MigrateType, PageKind, ReportingPolicy, ReportingState,
    Scenario, ZoneType,
};

const MOVABLE_ZONE: std::ops::Range<u64> = 0x3000..0x4000;

fn mainline(order: u8) -> Machine {
    let mut m = machine();
    m.page_reporting_register(ReportingPolicy::Mainline, Some(order))
        .unwrap();
    m
}

fn aged(steps: u64) -> Machine {
    Scenario {
        steps,
        ..Scenario::default()
    }
    .build()
    .unwrap()
}

fn reported_heads(m: &Machine, range: std::ops::Range<u64>) -> Vec<(u64, u8)> {
    range
        .filter(|&p| m.page(p).reported())
        .map(|p| (p, m.page(p).order()))
        .collect()
}

// ----- seed 004: walk_free_mem_block ----------------------------------------

#[test]
fn the_walk_visits_zones_then_orders_high_to_low_then_types_in_numeric_order_in_list_order() {
    let mut m = aged(4000);
    let before = m.fingerprint();
    let mut seen = Vec::new();
    assert_eq!(
        m.walk_free_mem_block(2, |pfn, nr| {
            seen.push((pfn, nr));
            0
        }),
        0
    );
    assert_eq!(m.fingerprint(), before, "the walk changes nothing");
    let mut expected = Vec::new();
    for zi in 0..m.zones().len() {
        for order in (2..=m.geometry().max_order).rev() {
            for mt in MigrateType::ALL {
                expected.extend(
                    m.free_list_pfns(zi, order, mt)
                        .into_iter()
                        .map(|p| (p, 1u64 << order)),
                );
            }
        }
    }
    assert_eq!(seen, expected);
    // Zones in order, and within a zone sizes never grow.
    let zone_of = |p: u64| m.zone_of(p).unwrap();
    for pair in seen.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(zone_of(a.0) <= zone_of(b.0));
        if zone_of(a.0) == zone_of(b.0) {
            assert!(a.1 >= b.1, "{a:x?} before {b:x?}");
        }
    }
    // Every free buddy page of order 2 or more, and nothing below.
    let free_big: u64 = (0..m.zones().len())
        .flat_map(|zi| (2..=10u8).map(move |o| (zi, o)))
        .map(|(zi, o)| m.nr_free(zi, o) << o)
        .sum();
    assert_eq!(seen.iter().map(|s| s.1).sum::<u64>(), free_big);
    assert!(seen.iter().all(|s| s.1 >= 4));
}

#[test]
fn a_non_zero_return_ends_the_walk_and_is_returned() {
    let mut m = aged(4000);
    let mut calls = 0;
    let r = m.walk_free_mem_block(0, |_, _| {
        calls += 1;
        if calls == 5 {
            7
        } else {
            0
        }
    });
    assert_eq!((r, calls), (7, 5));
}

#[test]
fn the_walk_reports_isolated_blocks_too() {
    let mut m = machine();
    m.start_isolate_page_range(0x3400, 0x3600, MigrateType::Movable, IsolFlags::default())
        .unwrap();
    let mut seen = Vec::new();
    m.walk_free_mem_block(9, |pfn, nr| {
        seen.push((pfn, nr));
        0
    });
    assert!(m
        .free_list_pfns(m.zone_of(0x3400).unwrap(), 9, MigrateType::Isolate)
        .contains(&0x3400));
    assert!(seen.contains(&(0x3400, 512)), "{seen:x?}");
}

#[test]
fn the_walk_promises_nothing_about_reporting_once_and_so_reports_again() {
    let mut m = machine();
    m.page_reporting_register(ReportingPolicy::Walk, Some(9))
        .unwrap();
    let first = m.free_page_hint_walk(9).unwrap();
    assert!(first.reported_pages > 0);
    assert_eq!(first.rereported_pages, 0);
    let second = m.free_page_hint_walk(9).unwrap();
    assert_eq!(second.reported_pages, 2 * first.reported_pages);
    assert_eq!(
        second.rereported_pages, first.reported_pages,
        "nothing changed, so everything is reported again"
    );
    assert!(
        reported_heads(&m, 0..0x4000).is_empty(),
        "the walk keeps no state in the guest"
    );
}

// ----- mainline: threshold, delay, gate -------------------------------------

#[test]
fn frees_below_page_reporting_order_request_nothing_and_frees_at_it_queue_work_2_s_out() {
    let mut m = mainline(6);
    assert_eq!(
        m.reporting_status().unwrap().due_ms,
        Some(2000),
        "registering requests an initial flush"
    );
    m.advance_clock(2000);
    let s = m.reporting_status().unwrap();
    assert_eq!(
        (s.state, s.due_ms, s.passes),
        (ReportingState::Idle, None, 1)
    );

    m.alloc_pages_at(0x3000, 4, PageKind::Kernel).unwrap();
    m.alloc_pages_at(0x3010, 4, PageKind::Kernel).unwrap();
    m.advance_clock(5000);
    let t = m.reporting_status().unwrap().clock_ms;
    assert!(m.free_pages(0x3000, 4).unwrap());
    let s = m.reporting_status().unwrap();
    assert_eq!(
        (s.state, s.due_ms),
        (ReportingState::Idle, None),
        "an order-4 free is below order 6"
    );

    assert!(m.free_pages(0x3010, 4).unwrap());
    let s = m.reporting_status().unwrap();
    assert_eq!(
        (s.state, s.due_ms),
        (ReportingState::Requested, Some(t + 2000)),
        "it merged to order 10"
    );
    assert_eq!(m.advance_clock(1999), 0);
    assert_eq!(m.advance_clock(1), 1);
    m.check_quiescent().unwrap();
}

#[test]
fn a_zone_below_low_watermark_plus_a_batch_is_skipped() {
    // Order 7: a batch is 32 << 7 = 4096 pages. ZONE_MOVABLE has exactly
    // 4096 free pages, not above low + 4096; Normal has 7808.
    let mut m = mainline(7);
    let ((), trace) = m.record("wait", |m| {
        m.advance_clock(2000);
    });
    assert!(reported_heads(&m, MOVABLE_ZONE).is_empty());
    assert!(!reported_heads(&m, 0x1000..0x3000).is_empty());
    assert!(trace
        .steps
        .iter()
        .any(|s| s.func == KernelFn::PageReportingProcessZone
            && s.text.contains("zone Movable")
            && s.text.contains("skipped")));
    every_step_consistent(&mut m, &trace);
}

// ----- mainline: batches, budget, put-back ----------------------------------

/// ZONE_MOVABLE cut into 256 free order-3 blocks that cannot merge.
fn order3_comb(m: &mut Machine) {
    for p in MOVABLE_ZONE.step_by(16) {
        m.alloc_pages_at(p, 3, PageKind::Kernel).unwrap();
    }
}

#[test]
fn reports_go_in_batches_of_32_and_a_list_gets_its_budget_plus_one() {
    let mut m = mainline(3);
    order3_comb(&mut m);
    let zi = m.zone_index(ZoneType::Movable).unwrap();
    assert_eq!(m.nr_free(zi, 3), 256);
    let ((), trace) = m.record("wait", |m| {
        m.advance_clock(2000);
    });
    // ⌈256 / 512⌉ = 1 call, plus one: 64 blocks, then the budget is spent.
    let heads = reported_heads(&m, MOVABLE_ZONE);
    assert_eq!(heads.len(), 2 * PAGE_REPORTING_CAPACITY as usize);
    assert!(heads.iter().all(|h| h.1 == 3));
    let s = m.reporting_status().unwrap();
    assert_eq!(s.state, ReportingState::Requested);
    assert_eq!(
        s.due_ms,
        Some(2000 + 2000),
        "the spent budget queues another pass"
    );
    assert!(trace
        .steps
        .iter()
        .any(|st| st.text.contains("budget spent")));
    for st in trace
        .steps
        .iter()
        .filter(|st| st.func == KernelFn::VirtballoonFreePageReport)
    {
        let n: u64 = st
            .text
            .split("report(): ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(n <= PAGE_REPORTING_CAPACITY, "{}", st.text);
    }
    every_step_consistent(&mut m, &trace);

    // Put back at the tail: every reported block after every unreported one.
    let list = m.free_list_pfns(zi, 3, MigrateType::Movable);
    let first_reported = list.iter().position(|&p| m.page(p).reported()).unwrap();
    assert!(
        list[first_reported..].iter().all(|&p| m.page(p).reported()),
        "reported blocks sit at the tail"
    );
    assert!(!m.page(list[0]).reported());

    // The next passes report the rest: 256 blocks in all, each once.
    m.advance_clock(3 * 2000);
    assert_eq!(reported_heads(&m, MOVABLE_ZONE).len(), 256);
    let s = m.reporting_status().unwrap();
    assert_eq!(s.rereported_pages, 0);
    m.check_quiescent().unwrap();
}

#[test]
fn a_reported_block_that_merges_is_reported_again_at_the_higher_order() {
    let mut m = mainline(4);
    m.alloc_pages_at(0x3000, 4, PageKind::Kernel).unwrap();
    m.alloc_pages_at(0x3010, 4, PageKind::Kernel).unwrap();
    m.free_pages(0x3000, 4).unwrap();
    m.advance_clock(2000);
    assert!(m.page(0x3000).reported() && m.page(0x3000).order() == 4);
    assert!(m.host_holds(0x3000) && !m.host_holds(0x3010));
    let before = m.reporting_status().unwrap();

    m.free_pages(0x3010, 4).unwrap();
    assert_eq!(m.page(0x3000).order(), 10);
    assert!(
        !m.page(0x3000).reported(),
        "leaving the free list to merge clears PageReported"
    );
    m.advance_clock(2000);
    let after = m.reporting_status().unwrap();
    assert!(m.page(0x3000).reported());
    assert!(after.reported_pages - before.reported_pages >= 1024);
    assert_eq!(
        after.rereported_pages - before.rereported_pages,
        1024 - 16,
        "all but the 16 pages just freed were given already"
    );
}

#[test]
fn allocating_a_reported_page_takes_it_back_from_the_host() {
    let mut m = mainline(6);
    m.advance_clock(2000);
    let pfn = MOVABLE_ZONE.clone().find(|&p| m.host_holds(p)).unwrap();
    let held = m.reporting_status().unwrap().host_pages;
    m.alloc_pages_at(pfn, 0, PageKind::Kernel).unwrap();
    assert!(!m.host_holds(pfn));
    assert_eq!(m.reporting_status().unwrap().host_pages, held - 1);
    m.check_quiescent().unwrap();
}

#[test]
fn isolating_half_a_pageblock_or_more_resets_mergeable_pageblocks_to_movable() {
    // 4 GiB: big enough for Normal to pass the gate at order 8.
    let mut m = Machine::new(pfnscope_core::MachineSpec::preset("x86-64-4g").unwrap()).unwrap();
    m.page_reporting_register(ReportingPolicy::Mainline, Some(8))
        .unwrap();
    // An unmovable request at boot steals a whole MOVABLE block in Normal.
    let pfn = m.alloc_pages(Gfp::KERNEL, 0, PageKind::Kernel).unwrap();
    let block = m.pageblock_start_pfn(pfn);
    assert_eq!(m.get_pageblock_migratetype(block), MigrateType::Unmovable);
    let ((), trace) = m.record("wait", |m| {
        m.advance_clock(2000);
    });
    assert_eq!(
        m.get_pageblock_migratetype(block),
        MigrateType::Movable,
        "the pageblock holding the unmovable page is MOVABLE again"
    );
    assert!(trace
        .steps
        .iter()
        .any(|s| s.func == KernelFn::IsolateFreePage
            && s.text.contains("resets Unmovable pageblock")));
    every_step_consistent(&mut m, &trace);
}

#[test]
fn traced_passes_step_back_exactly() {
    for policy in [ReportingPolicy::Mainline, ReportingPolicy::Walk] {
        let mut m = Scenario {
            steps: 6000,
            reporting: policy,
            reporting_order: Some(3),
            ..Scenario::default()
        }
        .build()
        .unwrap();
        let before = m.fingerprint();
        let ((), trace) = m.record("wait", |m| {
            m.advance_clock(4000);
        });
        assert!(
            m.reporting_status().unwrap().reported_pages > 0,
            "{policy:?}"
        );
        every_step_consistent(&mut m, &trace);
        let end = m.store().position();
        m.seek(trace.position_after(None));
        assert_eq!(m.fingerprint(), before);
        m.seek(end);
        m.check_quiescent().unwrap();
    }
}

// ----- the two designs compared ---------------------------------------------

#[test]
fn over_the_same_workload_the_walk_reports_again_what_mainline_reports_once() {
    let base = aged(6000);
    let cfg = TimelineConfig {
        seconds: 12,
        steps_per_second: 100,
        sample_ms: 1000,
        order: Some(3),
        ..TimelineConfig::default()
    };
    let [main, walk] = compare_reporting(&base, &cfg).unwrap();
    assert_eq!(main.samples.len(), 13);
    let (a, b) = (main.last(), walk.last());
    assert!(a.reported_pages > 0 && b.reported_pages > 0);
    assert!(
        b.rereported_pages > a.rereported_pages * 2,
        "walk {b:?} against mainline {a:?}"
    );
    assert!(
        b.report_calls > a.report_calls,
        "one callback per block against one call per 32 blocks"
    );
    for t in [&main, &walk] {
        assert!(t
            .samples
            .windows(2)
            .all(|w| w[0].reported_pages <= w[1].reported_pages && w[0].t_ms < w[1].t_ms));
    }
}

#[test]
fn hints_let_a_live_migration_skip_free_pages_but_pages_written_after_the_report_are_sent() {
    let base = aged(6000);
    let cfg = MigrationConfig {
        min_order: Some(0),
        pages_per_ms: 100,
        ..MigrationConfig::default()
    };
    let c = compare_live_migration(&base, &cfg).unwrap();
    let (with, without) = (&c.with, &c.without);
    assert_eq!(without.hinted_pages, 0);
    assert_eq!(
        without.rounds[0].sent, without.guest_pages,
        "round 1 sends everything"
    );
    assert!(with.hinted_pages > 1000, "{with:?}");
    assert_eq!(
        with.rounds[0].sent,
        with.guest_pages - with.hinted_pages,
        "round 1 skips every hinted page"
    );
    assert!(
        with.hinted_then_written > 0,
        "the workload reused hinted pages; they were sent after all"
    );
    assert!(c.saved_pages() > 0, "{c:?}");
}

#[test]
fn reporting_runs_on_every_machine_preset() {
    for name in pfnscope_core::MachineSpec::PRESETS {
        for policy in [ReportingPolicy::Mainline, ReportingPolicy::Walk] {
            let mut m = Machine::new(pfnscope_core::MachineSpec::preset(name).unwrap()).unwrap();
            m.page_reporting_register(policy, None).unwrap();
            m.advance_clock(2000);
            let s = m.reporting_status().unwrap();
            assert_eq!(s.passes, 1);
            if name.starts_with("teaching") && policy == ReportingPolicy::Mainline {
                // No zone has more than 8192 pages: never above low + 32 << 9.
                assert_eq!(
                    s.reported_pages, 0,
                    "the zone gate keeps a teaching machine from reporting at pageblock_order"
                );
            } else {
                assert!(s.reported_pages > 0, "{name} {policy:?}: {s:?}");
            }
            if name == "arm64-64k-8g" && policy == ReportingPolicy::Mainline {
                assert_eq!(
                    s.order, 5,
                    "virtio-balloon asks for order 5 with 64 KiB pages"
                );
            }
        }
    }
}

#[test]
fn a_machine_that_already_reports_can_start_a_comparison() {
    let mut m = mainline(3);
    m.advance_clock(2000);
    assert!(m.zone_reported_pages(m.zone_index(ZoneType::Movable).unwrap()) > 0);
    let bare = m.without_reporting();
    assert!(bare.reporting_status().is_none());
    assert!(reported_heads(&bare, 0..0x4000).is_empty());
    bare.check_quiescent().unwrap();
    let cfg = TimelineConfig {
        seconds: 4,
        order: Some(3),
        ..TimelineConfig::default()
    };
    let [main, _] = compare_reporting(&m, &cfg).unwrap();
    assert!(main.last().reported_pages > 0);
}

#[test]
fn the_seed_built_ins_play_their_seed() {
    for (name, f) in [("free-page-reporting", KernelFn::VirtballoonFreePageReport), ("walk-free-mem-block", KernelFn::WalkFreePageList), ("region-allocator", KernelFn::Kmempowerd2013)] {
        let s = Scenario::builtin(name).unwrap();
        let mut m = s.build().unwrap();
        let play = s.play.clone().unwrap();
        let (r, trace) = m.record(play.title(), |m| play.run(m));
        assert!(r.is_ok(), "{name}: {r:?}");
        assert!(trace.steps.iter().any(|st| st.func == f || st.stack.contains(&f)), "{name} names {f}");
        every_step_consistent(&mut m, &trace);
    }
}

#[test]
fn bad_requests_are_clear_errors_that_change_nothing() {
    let mut m = machine();
    let print = m.fingerprint();
    assert!(m.free_page_hint_walk(3).unwrap_err().to_string().contains("has none"));
    assert!(m.page_reporting_register(ReportingPolicy::Mainline, Some(11)).is_err(), "order above MAX_PAGE_ORDER");
    assert!(m.regions_register(pfnscope_core::AllocatorPolicy::Regions, Some(100)).unwrap_err().to_string().contains("whole number of MAX_ORDER blocks"));
    assert_eq!(m.fingerprint(), print, "refused requests change nothing");
    m.page_reporting_register(ReportingPolicy::Walk, None).unwrap();
    assert!(m.page_reporting_register(ReportingPolicy::Mainline, None).unwrap_err().to_string().contains("already registered"));
    let cfg = TimelineConfig { seconds: 0, ..TimelineConfig::default() };
    assert!(compare_reporting(&m, &cfg).unwrap_err().to_string().contains("positive duration"));
    let cfg = TimelineConfig { workload: "spreadsheet".into(), ..TimelineConfig::default() };
    assert!(compare_reporting(&m, &cfg).unwrap_err().to_string().contains("unknown workload"));
    let cfg = MigrationConfig { pages_per_ms: 0, ..MigrationConfig::default() };
    assert!(compare_live_migration(&m, &cfg).unwrap_err().to_string().contains("positive bandwidth"));
}
