//! Contiguous allocation: the failure modes of the domain brief (section 9)
//! as named tests asserting the kernel's outcome, and `check_invariants()`
//! after every step of every trace.

mod common;

use common::{every_step_consistent, lru_page, machine};
use pfnscope_core::{Errno, Gfp, IsolFlags, KernelFn, Machine, MachineSpec, MigrateType, PageFlags, PageKind, StepKind, Tag, Trace, ZoneType};


/// Steps taken in `f` itself.
fn calls(trace: &Trace, f: KernelFn) -> usize {
    trace.steps.iter().filter(|s| s.func == f).count()
}

/// Steps inside `f` or anything it called.
fn within(trace: &Trace, f: KernelFn) -> usize {
    trace.steps.iter().filter(|s| s.func == f || s.stack.contains(&f)).count()
}



#[test]
fn success_after_migrating_movable_pages_and_dropping_clean_cache() {
    let mut m = machine();
    lru_page(&mut m, 0x2010, PageKind::Anon);
    lru_page(&mut m, 0x2020, PageKind::File);
    lru_page(&mut m, 0x2030, PageKind::File);
    m.set_page_flags(0x2030, PageFlags::DIRTY, PageFlags::empty()).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    let stats = r.unwrap();
    assert_eq!(stats.migration.migrated, 2, "the anon page and the dirty file page move");
    assert_eq!(stats.migration.reclaimed, 1, "the clean file page is dropped");
    for p in 0x2000..0x2200 {
        assert_eq!(m.page(p).as_in_use().map(|u| u.kind), Some(PageKind::Contig), "{p:#x}");
    }
    assert_eq!(m.get_pageblock_migratetype(0x2000), MigrateType::Movable);
    assert_eq!(calls(&trace, KernelFn::LruCacheDisable), 1);
    assert!(within(&trace, KernelFn::UndoIsolatePageRange) >= 1);
    every_step_consistent(&mut m, &trace);
    // And back.
    let (r, trace) = m.record("free", |m| m.free_contig_range(0x2000, 0x200));
    r.unwrap();
    every_step_consistent(&mut m, &trace);
    m.drain_all_pages(None);
    assert!(m.page(0x2000).is_buddy());
}

/// Section 9.1: a pinned page. Isolation passes (it is LRU), migration
/// fails it 10 passes x 5 tries and that -EBUSY is ignored, then
/// test_pages_isolated() fails at the pinned PFN.
#[test]
fn pinned_page_fails_fifty_migrations_then_test_pages_isolated_names_it() {
    let mut m = machine();
    lru_page(&mut m, 0x2010, PageKind::File);
    m.set_page_flags(0x2010, PageFlags::DIRTY, PageFlags::empty()).unwrap();
    m.pin_user_page(0x2010, false).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    let e = r.unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x2010)));
    let passes = trace.steps.iter().filter(|s| s.stack.contains(&KernelFn::MigratePages) && s.text.contains("-EAGAIN")).count();
    assert_eq!(passes, 50, "NR_MAX_MIGRATE_PAGES_RETRY x 5 tries");
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::TestPagesIsolated && s.text.contains("fin_pfn=0x2010 ret=fail")));
    assert_eq!(m.page(0x2010).as_in_use().unwrap().pincount, 1, "the page never left");
    every_step_consistent(&mut m, &trace);
}

/// A pinned anon page is not even isolated (refcount > mapcount + 1).
#[test]
fn pinned_anon_page_is_skipped_at_isolation() {
    let mut m = machine();
    lru_page(&mut m, 0x2010, PageKind::Anon);
    m.pin_user_page(0x2010, false).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    assert_eq!(r.unwrap_err().pfn, Some(0x2010));
    assert!(trace.steps.iter().any(|s| s.text.contains("skipped 1 pinned anon")));
    assert_eq!(within(&trace, KernelFn::MigratePages), 0);
    every_step_consistent(&mut m, &trace);
}

/// Section 9.2: an unmovable slab page. set_migratetype_isolate() fails,
/// the range is unisolated, -EBUSY, with no drain and no migration.
#[test]
fn unmovable_slab_page_fails_isolation_without_drain_or_migration() {
    let mut m = machine();
    m.alloc_pages_at(0x2100, 0, PageKind::SlabUnmovable).unwrap();
    let before = (m.buddyinfo(), m.pageblock_flags().to_vec());
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    let e = r.unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x2100)));
    assert_eq!(within(&trace, KernelFn::DrainAllPages), 0);
    assert_eq!(within(&trace, KernelFn::AllocContigMigrateRange), 0);
    assert_eq!((m.buddyinfo(), m.pageblock_flags().to_vec()), before);
    every_step_consistent(&mut m, &trace);
}

/// Section 9.3: a free order-10 block straddling `start` (6.10+):
/// find_large_buddy + split_large_buddy make two order-9 halves, only one
/// isolated; [outer_start, start) goes back at the end.
#[test]
fn free_max_order_block_straddling_start_is_split_and_the_head_given_back() {
    let mut m = machine();
    assert_eq!(m.page(0x2000).order(), 10);
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2200, 0x2400, MigrateType::Movable, false));
    r.unwrap();
    assert!(within(&trace, KernelFn::SplitLargeBuddy) >= 1);
    assert!(m.page(0x2000).is_buddy() && m.page(0x2000).order() == 9);
    assert!(m.free_list_pfns(m.zone_index(ZoneType::Normal).unwrap(), 9, MigrateType::Movable).contains(&0x2000));
    assert!((0x2200..0x2400).all(|p| m.page(p).as_in_use().is_some_and(|u| u.kind == PageKind::Contig)));
    every_step_consistent(&mut m, &trace);
}

/// An unaligned range inside a free block: outer_start lies before start
/// and the overhang on both sides is freed back.
#[test]
fn unaligned_range_frees_the_overhang_on_both_sides() {
    let mut m = machine();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2105, 0x2107, MigrateType::Movable, false));
    r.unwrap();
    assert!(trace.steps.iter().any(|s| s.text.contains("outer_start = 0x2000")));
    assert!(m.is_free(0x2104) && m.is_free(0x2107));
    assert_eq!(m.page(0x2105).as_in_use().unwrap().kind, PageKind::Contig);
    every_step_consistent(&mut m, &trace);
    m.free_contig_range(0x2105, 2).unwrap();
    m.drain_all_pages(None);
    m.check_quiescent().unwrap();
    assert_eq!(m.page(0x2000).order(), 10, "everything merged back");
}

/// Section 9.4: a page on another CPU's pcp list is neither free nor
/// allocated; drain_all_pages() is what makes the test pass.
#[test]
fn page_on_another_cpus_pcp_list_is_drained() {
    let mut m = machine();
    m.set_cpu(1).unwrap();
    m.alloc_pages_at(0x2050, 0, PageKind::Kernel).unwrap();
    m.free_pages(0x2050, 0).unwrap();
    assert_eq!(m.page(0x2050).tag(), Tag::Pcp);
    m.set_cpu(0).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    r.unwrap();
    assert!(within(&trace, KernelFn::DrainPagesZone) >= 1);
    assert_eq!(m.pcp_count(m.zone_index(ZoneType::Normal).unwrap(), 1), 0);
    every_step_consistent(&mut m, &trace);
}

/// Section 9.5: a page still in a per-cpu LRU batch is not PageLRU, so
/// isolation sees it as unmovable; once the batch drains it migrates.
#[test]
fn page_in_a_per_cpu_lru_batch_looks_unmovable_until_drained() {
    let mut m = machine();
    m.alloc_pages_at(0x2060, 0, PageKind::Anon).unwrap();
    assert!(m.page(0x2060).as_in_use().unwrap().flags.contains(PageFlags::LRU_BATCH));
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false));
    assert_eq!(r.unwrap_err().pfn, Some(0x2060));
    every_step_consistent(&mut m, &trace);
    m.lru_add_drain_all();
    let stats = m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false).unwrap();
    assert_eq!(stats.migration.migrated, 1);
    m.check_quiescent().unwrap();
}

/// Section 9.10: isolated free memory leaves MemFree (NR_FREE_PAGES) but
/// stays in buddyinfo and shows in pagetypeinfo's Isolate column.
#[test]
fn isolated_free_memory_leaves_memfree_but_stays_in_buddyinfo() {
    let mut m = machine();
    let zi = m.zone_index(ZoneType::Normal).unwrap();
    let free_in_buddyinfo = |m: &Machine| (0..=10u8).map(|o| m.nr_free(zi, o) << o).sum::<u64>();
    let (free, listed) = (m.zone_free_pages(zi), free_in_buddyinfo(&m));
    m.start_isolate_page_range(0x2400, 0x2800, MigrateType::Movable, IsolFlags::default()).unwrap();
    assert_eq!(m.zone_free_pages(zi), free - 0x400);
    assert_eq!(free_in_buddyinfo(&m), listed);
    // 6.10+: isolating half of the free order-10 block split it in two.
    assert_eq!(m.page(0x2400).order(), 9);
    assert_eq!(m.pageblock_counts(zi)[MigrateType::Isolate.index()], 2);
    m.check_invariants().unwrap();
    m.undo_isolate_page_range(0x2400, 0x2800, MigrateType::Movable);
    assert_eq!(m.zone_free_pages(zi), free);
    // unset_migratetype_isolate() re-freed the second half: merged again.
    assert_eq!(m.page(0x2400).order(), 10);
    m.check_quiescent().unwrap();
}

/// Section 9.11: an overlapping request finds ISOLATE blocks: -EBUSY.
/// In 6.12 the failed request then takes `goto done` to
/// `undo_isolate_page_range(start, end)`, which unisolates every isolated
/// pageblock its range touches, the other caller's included: callers must
/// serialize themselves (CMA holds `cma_mutex`). The model does the same.
#[test]
fn overlapping_contig_requests_get_ebusy() {
    let mut m = machine();
    m.start_isolate_page_range(0x2000, 0x2200, MigrateType::Movable, IsolFlags::default()).unwrap();
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x2100, 0x2400, MigrateType::Movable, false));
    let e = r.unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x2000)));
    assert!(trace.steps.iter().any(|s| s.text.contains("already isolated")));
    assert_eq!(m.get_pageblock_migratetype(0x2000), MigrateType::Movable, "6.12's goto done undid it");
    m.check_quiescent().unwrap();
}

/// Section 9.15: -ENOMEM from migrate_pages() aborts at once.
#[test]
fn no_migration_target_aborts_with_enomem_at_once() {
    let mut m = Machine::new(MachineSpec::teaching_16m()).unwrap();
    while m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::Anon).is_ok() {}
    m.lru_add_drain_all();
    m.drain_all_pages(None);
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x400, 0x600, MigrateType::Movable, false));
    assert_eq!(r.unwrap_err().errno, Errno::ENOMEM);
    let gave_up = trace.steps.iter().filter(|s| s.stack.contains(&KernelFn::MigratePages) && s.text.contains("-ENOMEM, give up at once")).count();
    assert_eq!(gave_up, 1, "no second try after -ENOMEM");
    assert!(!trace.steps.iter().any(|s| s.text.contains("-EAGAIN")));
    every_step_consistent(&mut m, &trace);
}

/// A fatal signal stops migration with -EINTR.
#[test]
fn fatal_signal_gives_eintr() {
    let mut m = machine();
    lru_page(&mut m, 0x2010, PageKind::Anon);
    m.fatal_signal_pending = true;
    let e = m.alloc_contig_range(0x2000, 0x2200, MigrateType::Movable, false).unwrap_err();
    assert_eq!(e.errno, Errno::EINTR);
    m.check_quiescent().unwrap();
}

/// Bad requests get errors, never panics, and change nothing.
#[test]
fn bad_requests_are_einval() {
    let mut m = machine();
    let before = m.fingerprint();
    for (s, e) in [(0x2200, 0x2000), (0x2000, 0x2000), (0x2f00, 0x3100), (0x9_0000, 0x9_0200)] {
        assert_eq!(m.alloc_contig_range(s, e, MigrateType::Movable, false).unwrap_err().errno, Errno::EINVAL, "{s:#x}-{e:#x}");
    }
    assert_eq!(m.alloc_contig_range(0x2000, 0x2200, MigrateType::Unmovable, false).unwrap_err().errno, Errno::EINVAL);
    assert_eq!(m.free_contig_range(0x2000, 0).unwrap_err().errno, Errno::EINVAL);
    assert_eq!(m.free_contig_range(0x2000, 4).unwrap_err().errno, Errno::EINVAL, "free memory is not a contig allocation");
    assert_eq!(m.alloc_contig_pages(0, Gfp::KERNEL).unwrap_err().errno, Errno::EINVAL);
    assert_eq!(m.fingerprint(), before);
    // __GFP_COMP on a range that is not an exact power of two: -EINVAL.
    let e = m.alloc_contig_range(0x2000, 0x2003, MigrateType::Movable, true).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    m.check_quiescent().unwrap();
    // ...and on one that is, a single compound page.
    m.alloc_contig_range(0x2400, 0x2800, MigrateType::Movable, true).unwrap();
    assert_eq!(m.allocation_at(0x2500), Some((0x2400, 10)));
    m.free_contig_range(0x2400, 0x400).unwrap();
    m.check_quiescent().unwrap();
}

/// Section 9.12: alloc_contig_pages() tries only aligned windows and skips
/// ones with reserved pages cheaply.
#[test]
fn alloc_contig_pages_skips_reserved_windows_and_takes_the_next_aligned_one() {
    let mut m = machine();
    // GFP_KERNEL: Normal first. 0x1000 holds reserved pages; 0x1400 is free.
    let ((pfn, stats), trace) = {
        let (r, t) = m.record("acp", |m| m.alloc_contig_pages(0x400, Gfp::KERNEL));
        (r.unwrap(), t)
    };
    assert_eq!(pfn, 0x1400);
    assert_eq!(stats.attempts, 1);
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::PfnRangeValidContig && s.text.contains("window 0x1000 skipped")));
    every_step_consistent(&mut m, &trace);
}

/// A long-term pin of a ZONE_MOVABLE page migrates it out first.
#[test]
fn longterm_pin_of_a_movable_zone_page_migrates_it_to_normal() {
    let mut m = machine();
    lru_page(&mut m, 0x3010, PageKind::Anon);
    let at = m.pin_user_page(0x3010, true).unwrap();
    assert_ne!(at, 0x3010);
    assert_eq!(m.zones()[m.zone_of(at).unwrap()].zone_type, ZoneType::Normal);
    assert!(m.page(at).as_in_use().unwrap().flags.contains(PageFlags::LONGTERM_PIN));
    assert!(m.is_free(0x3010));
    m.check_quiescent().unwrap();
    let _ = StepKind::Action;
}

/// A big range is given back page by page, as 6.12 does, but traced in at
/// most 64 steps of its own with each page's merges and drains folded into
/// them; the journal holds far fewer entries than pages, and every step
/// still seeks back and forth exactly.
#[test]
fn a_large_free_contig_range_is_a_few_folded_steps_that_seek_exactly() {
    let mut m = Machine::new(MachineSpec::x86_64_pc(4)).unwrap();
    let start = m.zones().last().unwrap().span.end - (1 << 16);
    let nr = 1u64 << 16;
    m.alloc_contig_range(start, start + nr, MigrateType::Movable, false).unwrap();
    let before = m.fingerprint();
    let from = m.store().position();
    let ((), trace) = m.record("free", |m| {
        m.free_contig_range(start, nr).unwrap();
        m.drain_all_pages(None);
    });
    let chunks = trace.steps.iter().filter(|s| s.func == KernelFn::FreeContigRange).count();
    assert_eq!(chunks, 1 + 64, "the call, then 64 chunks of {} pages", nr / 64);
    assert_eq!(calls(&trace, KernelFn::FreeOnePage), 0, "merges are inside the chunks and batches, not steps");
    assert!(calls(&trace, KernelFn::FreePcppagesBulk) >= 1, "each drained batch is one step");
    let entries = m.store().position() - from;
    assert!((entries as u64) < nr / 4, "{entries} journal entries for {nr} pages");
    let after = m.fingerprint();
    every_step_consistent(&mut m, &trace);
    m.seek(trace.position_after(None));
    assert_eq!(m.fingerprint(), before);
    m.seek(trace.position_after(Some(trace.steps.len() - 1)));
    assert_eq!(m.fingerprint(), after);
    assert!(m.free_block_at(start).is_some());
}
