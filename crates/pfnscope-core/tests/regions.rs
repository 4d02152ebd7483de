//! Seed 003's region allocator: regions handed out and taken back, the
//! sorted lists, move_freepages() aware of it, evacuation, and the
//! comparison with mainline.

mod common;

use common::every_step_consistent;
use pfnscope_core::regions::timeline::{compare_regions, RegionTimelineConfig};
use pfnscope_core::{AllocatorPolicy, Gfp, KernelFn, Machine, MachineSpec, MigrateType, PageKind, RegionState, Scenario, ZoneType};

/// 8 MiB regions on the 64 MiB teaching machine.
const REGION: u64 = 2048;

fn regions_machine() -> Machine {
    let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
    m.regions_register(AllocatorPolicy::Regions, Some(REGION)).unwrap();
    m.check_quiescent().unwrap();
    m
}

fn zone(m: &Machine, t: ZoneType) -> usize {
    m.zone_index(t).unwrap()
}

#[test]
fn at_boot_every_fully_free_region_goes_to_the_region_allocator() {
    let m = regions_machine();
    let (movable, normal) = (zone(&m, ZoneType::Movable), zone(&m, ZoneType::Normal));
    assert_eq!(m.zone_regions(movable), 2);
    assert!(m.region_in_allocator(movable, 0) && m.region_in_allocator(movable, 1));
    // Normal: region 0 holds the kernel image (reserved), region 3 the CMA area.
    assert_eq!(m.zone_regions(normal), 4);
    assert!(!m.region_in_allocator(normal, 0) && m.region_in_allocator(normal, 1) && m.region_in_allocator(normal, 2) && !m.region_in_allocator(normal, 3));
    // They are free memory, but on no list.
    assert_eq!(m.zone_free_pages(movable), 4096);
    assert_eq!(m.nr_free(movable, 10), 0);
    assert!(m.free_list_pfns(movable, 10, MigrateType::Movable).is_empty());
    assert_eq!(m.region_info(movable, 1).state, RegionState::InRegionAllocator);
}

#[test]
fn a_dry_list_gets_the_lowest_region_and_a_freed_region_goes_back() {
    let mut m = regions_machine();
    let movable = zone(&m, ZoneType::Movable);
    let (r, trace) = m.record("alloc", |m| m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 0, PageKind::Anon));
    let pfn = r.unwrap();
    assert!((0x3000..0x3800).contains(&pfn), "the lowest region serves first: {pfn:#x}");
    assert!(!m.region_in_allocator(movable, 0) && m.region_in_allocator(movable, 1));
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::DelFromRegionAllocator2013));
    every_step_consistent(&mut m, &trace);

    // Freeing it (and draining the per-cpu lists) makes region 0 all free
    // MAX_ORDER blocks again: it goes back.
    m.free_pages(pfn, 0).unwrap();
    m.drain_all_pages(None);
    m.lru_add_drain_all();
    assert!(m.region_in_allocator(movable, 0), "{:?}", m.region_info(movable, 0));
    m.check_quiescent().unwrap();
}

#[test]
fn the_sorted_lists_hand_out_the_lowest_region_first() {
    // The same frees on mainline and with sorted lists: mainline puts the
    // block freed last at the head; sorted lists keep region 0's first.
    for policy in AllocatorPolicy::ALL {
        let mut m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        m.regions_register(policy, Some(REGION)).unwrap();
        let movable = zone(&m, ZoneType::Movable);
        let got: Vec<u64> = (0..3).map(|_| m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 10, PageKind::Anon).unwrap()).collect();
        assert_eq!(got, vec![0x3000, 0x3400, 0x3800], "{policy:?}");
        // Keep region 1 in use, so it stays out of the region allocator.
        m.alloc_pages_at(0x3c00, 0, PageKind::Kernel).unwrap();
        m.free_pages(0x3000, 10).unwrap();
        m.free_pages(0x3800, 10).unwrap();
        let list = m.free_list_pfns(movable, 10, MigrateType::Movable);
        let next = m.alloc_pages(Gfp::HIGHUSER_MOVABLE, 10, PageKind::Anon).unwrap();
        match policy {
            AllocatorPolicy::Mainline => assert_eq!((list, next), (vec![0x3800, 0x3000], 0x3800)),
            AllocatorPolicy::Regions => assert_eq!((list, next), (vec![0x3000, 0x3800], 0x3000)),
        }
        m.check_quiescent().unwrap();
    }
}

#[test]
fn touching_a_held_region_by_pfn_moves_it_to_the_movable_lists_first() {
    let mut m = regions_machine();
    let movable = zone(&m, ZoneType::Movable);
    let (r, trace) = m.record("grab", |m| m.alloc_contig_range(0x3a00, 0x3c00, MigrateType::Movable, false));
    r.unwrap();
    assert!(!m.region_in_allocator(movable, 1));
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::DelFromRegionAllocator2013 && s.text.contains("Movable")));
    every_step_consistent(&mut m, &trace);
    // Given back, the region is all free again and returns.
    m.free_contig_range(0x3a00, 0x200).unwrap();
    m.drain_all_pages(None);
    assert!(m.region_in_allocator(movable, 1));
    m.check_quiescent().unwrap();
}

#[test]
fn kmempowerd_empties_lightly_used_regions_but_never_region_0() {
    let s = Scenario { allocator: AllocatorPolicy::Regions, region_pages: Some(REGION), steps: 0, workload: None, play: None, setup: vec![], ..Scenario::default() };
    let mut m = s.build().unwrap();
    let movable = zone(&m, ZoneType::Movable);
    // A few movable pages in each region of ZONE_MOVABLE.
    for r in 0..2u64 {
        for i in 0..4u64 {
            common::lru_page(&mut m, 0x3000 + r * REGION + 0x100 * i + 5, PageKind::Anon);
        }
    }
    assert!(!m.region_in_allocator(movable, 0) && !m.region_in_allocator(movable, 1));
    let (stats, trace) = m.record("kmempowerd", |m| m.kmempowerd(10));
    assert!(stats.emptied >= 1, "{stats:?}");
    assert!(m.region_in_allocator(movable, 1), "region 1 was emptied into region 0");
    assert!(!m.region_in_allocator(movable, 0), "region 0 is the target, never evacuated");
    assert_eq!(m.region_free_pages(movable, 0), REGION - 8);
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::Kmempowerd2013));
    every_step_consistent(&mut m, &trace);
}

#[test]
fn an_unmovable_page_keeps_its_region_powered() {
    let s = Scenario { allocator: AllocatorPolicy::Regions, region_pages: Some(REGION), steps: 0, workload: None, play: None, setup: vec![], ..Scenario::default() };
    let mut m = s.build().unwrap();
    let normal = zone(&m, ZoneType::Normal);
    m.alloc_pages_at(0x1900, 0, PageKind::SlabUnmovable).unwrap();
    let (stats, trace) = m.record("kmempowerd", |m| m.kmempowerd(10));
    assert_eq!(stats.refused, 1, "{stats:?}");
    assert!(!m.region_in_allocator(normal, 1));
    assert!(trace.steps.iter().any(|s| s.text.contains("cannot be evacuated")));
}

#[test]
fn after_a_load_ends_the_region_allocator_leaves_more_regions_powerable_than_mainline() {
    // 4 GiB in 64 MiB regions: a desktop load rises towards 90% of memory,
    // then falls back to 20%; kmempowerd empties regions at most 25% used.
    let s = Scenario { machine: "x86-64-4g".into(), workload: Some("desktop".into()), seed: 1, ..Scenario::default() };
    let cfg = RegionTimelineConfig { steps: 200_000, sample_every: 50_000, region_pages: Some(16_384), ..RegionTimelineConfig::default() };
    let [main, regions] = compare_regions(&s, &cfg).unwrap();
    assert_eq!(main.samples.len(), 5);
    assert_eq!(main.last().regions, regions.last().regions);
    assert!(main.samples[0].powerable > main.samples[2].powerable, "the load used regions: {main:?}");
    assert!(regions.last().powerable > main.last().powerable, "regions {:?} against mainline {:?}", regions.last(), main.last());
}

#[test]
fn every_preset_boots_and_ages_with_the_region_allocator() {
    for name in MachineSpec::PRESETS {
        let s = Scenario { machine: name.into(), allocator: AllocatorPolicy::Regions, workload: Some("desktop".into()), steps: 3000, setup: vec![], play: None, ..Scenario::default() };
        let m = s.build().unwrap_or_else(|e| panic!("{name}: {e}"));
        if !name.starts_with("x86-64-64g") && !name.starts_with("x86-64-256g") {
            m.check_quiescent().unwrap_or_else(|v| panic!("{name}: {v}"));
        }
        let (free, all) = m.powerable_regions();
        assert!(all > 0 && free <= all, "{name}");
    }
}
