//! Seeds 003 and 004 on a real machine: the region allocator and both
//! kinds of free page reporting run on an imported snapshot.

use pfnscope_core::{AllocatorPolicy, ReportingPolicy};
use pfnscope_import::{reconstruct, Snapshot};

fn imported() -> pfnscope_core::Machine {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/real-x86-64-linux-6.18");
    reconstruct(&Snapshot::from_dir(&dir).unwrap()).unwrap().machine
}

#[test]
fn the_region_allocator_and_reporting_run_on_an_imported_snapshot() {
    for (allocator, reporting) in [(AllocatorPolicy::Regions, ReportingPolicy::Mainline), (AllocatorPolicy::Mainline, ReportingPolicy::Walk)] {
        let mut m = imported();
        m.regions_register(allocator, None).unwrap();
        m.page_reporting_register(reporting, None).unwrap();
        m.check_quiescent().unwrap_or_else(|v| panic!("{allocator:?}: {v}"));
        m.advance_clock(4000);
        let s = m.reporting_status().unwrap();
        assert!(s.reported_pages > 0, "{reporting:?}: {s:?}");
        let (powerable, all) = m.powerable_regions();
        assert!(all > 0 && powerable <= all);
        if allocator == AllocatorPolicy::Regions {
            m.kmempowerd(5);
        }
        m.check_quiescent().unwrap_or_else(|v| panic!("{allocator:?} {reporting:?}: {v}"));
    }
}
