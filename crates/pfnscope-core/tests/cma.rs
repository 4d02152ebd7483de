//! CMA (mm/cma.c, v6.12): slots, busy retries, release, and the domain
//! brief's section 9.1 and 9.9 cases.

mod common;

use common::{every_step_consistent, machine};
use pfnscope_core::{Errno, KernelFn, MigrateType, PageKind, ZoneType};



#[test]
fn the_area_boots_as_cma_pageblocks_freed_as_cma() {
    let m = machine();
    let a = &m.cma_areas()[0];
    assert_eq!((a.name.as_str(), a.base_pfn, a.count), ("reserved", 0x2800, 0x800));
    for p in (0x2800..0x3000).step_by(512) {
        assert_eq!(m.get_pageblock_migratetype(p), MigrateType::Cma);
    }
    let zi = m.zone_index(ZoneType::Normal).unwrap();
    assert_eq!(m.free_list_pfns(zi, 10, MigrateType::Cma), vec![0x2800, 0x2c00]);
    assert_eq!(m.zone_counter(zi, pfnscope_core::ZoneCounter::FreeCmaPages), 0x800);
    assert_eq!((m.cma_used(0), m.cma_maxchunk(0)), (0, 0x800));
}

#[test]
fn cma_alloc_takes_the_first_free_aligned_slot_and_release_gives_it_back() {
    let mut m = machine();
    let ((pfn, _), trace) = {
        let (r, t) = m.record("cma", |m| m.cma_alloc(0, 512, 9));
        (r.unwrap(), t)
    };
    assert_eq!(pfn, 0x2800);
    assert_eq!(m.cma_used(0), 512);
    assert!(trace.steps.iter().any(|s| s.text == "cma_alloc_finish: name=reserved pfn=0x2800 count=512 align=9 errorno=0"));
    every_step_consistent(&mut m, &trace);
    let (pfn2, _) = m.cma_alloc(0, 512, 9).unwrap();
    assert_eq!(pfn2, 0x2a00, "the next aligned slot");
    m.cma_release(0, pfn, 512).unwrap();
    assert_eq!(m.cma_used(0), 512);
    m.check_quiescent().unwrap();
}

/// Section 9.1: a (short-term) pinned page in CMA. The allocation of its
/// slot fails at test_pages_isolated, cma_alloc clears the bits, emits
/// busy_retry and takes the next aligned slot.
#[test]
fn pinned_page_in_cma_makes_cma_alloc_retry_at_the_next_slot() {
    let mut m = machine();
    m.alloc_pages_at(0x2810, 0, PageKind::Anon).unwrap();
    m.lru_add_drain_all();
    m.pin_user_page(0x2810, false).unwrap();
    let (r, trace) = m.record("cma", |m| m.cma_alloc(0, 512, 9));
    let (pfn, _) = r.unwrap();
    assert_eq!(pfn, 0x2a00);
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::TestPagesIsolated && s.text.contains("fin_pfn=0x2810 ret=fail")));
    assert!(trace.steps.iter().any(|s| s.text == "cma_alloc_busy_retry: name=reserved pfn=0x2800 count=512 align=9"));
    assert_eq!(m.cma_used(0), 512, "the busy slot's bits were cleared");
    every_step_consistent(&mut m, &trace);
}

/// Section 9.1, every slot blocked: errorno=-16.
#[test]
fn every_slot_blocked_ends_with_errorno_ebusy() {
    let mut m = machine();
    for p in [0x2810u64, 0x2a10, 0x2c10, 0x2e10] {
        m.alloc_pages_at(p, 0, PageKind::File).unwrap();
        m.lru_add_drain_all();
        m.pin_user_page(p, false).unwrap();
    }
    let (r, trace) = m.record("cma", |m| m.cma_alloc(0, 512, 9));
    let e = r.unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert_eq!(trace.steps.iter().filter(|s| s.text.starts_with("cma_alloc_busy_retry")).count(), 4);
    assert!(trace.steps.last().unwrap().text.ends_with("errorno=-16"));
    assert_eq!(m.cma_used(0), 0);
    every_step_consistent(&mut m, &trace);
}

/// has_unmovable_pages() refuses CMA pageblocks to anyone but CMA.
#[test]
fn non_cma_contig_allocation_cannot_isolate_cma_blocks() {
    let mut m = machine();
    let e = m.alloc_contig_range(0x2800, 0x2a00, MigrateType::Movable, false).unwrap_err();
    assert_eq!((e.errno, e.pfn), (Errno::EBUSY, Some(0x2800)));
    m.alloc_contig_range(0x2800, 0x2a00, MigrateType::Cma, false).unwrap();
    m.check_quiescent().unwrap();
}

/// Section 9.9: a free CMA block and a free MOVABLE neighbour never merge
/// above pageblock_order.
#[test]
fn cma_and_movable_neighbours_stay_separate_blocks() {
    let m = machine();
    // 0x2400 (MOVABLE, order 10) and 0x2800 (CMA, order 10) are order-10
    // buddies... of an order-11 block that cannot exist; at order 9 inside
    // each they stay whole. Check the CMA/MOVABLE boundary directly:
    let zi = m.zone_index(ZoneType::Normal).unwrap();
    assert!(m.free_list_pfns(zi, 10, MigrateType::Movable).contains(&0x2400));
    assert!(m.free_list_pfns(zi, 10, MigrateType::Cma).contains(&0x2800));
    m.check_quiescent().unwrap();
}

#[test]
fn bad_cma_requests_are_errors() {
    let mut m = machine();
    assert_eq!(m.cma_alloc(7, 1, 0).unwrap_err().errno, Errno::EINVAL);
    assert_eq!(m.cma_alloc(0, 0, 0).unwrap_err().errno, Errno::EINVAL);
    assert_eq!(m.cma_alloc(0, 0x1000, 0).unwrap_err().errno, Errno::ENOMEM);
    assert_eq!(m.cma_release(0, 0x2000, 1).unwrap_err().errno, Errno::EINVAL);
    assert_eq!(m.cma_release(0, 0x2800, 1).unwrap_err().errno, Errno::EINVAL, "not allocated");
    m.check_quiescent().unwrap();
}
