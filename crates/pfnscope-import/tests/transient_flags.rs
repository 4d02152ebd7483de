//! kpageflags' LOCKED and WRITEBACK bits are carried into the model, and
//! they are transient: 6.12's sync migration waits for them, so an
//! imported machine does not treat them as permanent obstacles.

use pfnscope_core::{KernelFn, MigrateType, PageFlags};
use pfnscope_import::kpageflags::{KPF_BUDDY, KPF_LOCKED, KPF_LRU, KPF_MMAP, KPF_WRITEBACK};
use pfnscope_import::{reconstruct, Snapshot};

/// A 32 MiB Normal zone, all free but for two LRU pages: one locked and
/// mapped, one under writeback.
fn snapshot() -> Snapshot {
    let mut flags = vec![1u64 << KPF_BUDDY; 8192];
    flags[0x810] = (1 << KPF_LRU) | (1 << KPF_MMAP) | (1 << KPF_LOCKED);
    flags[0x820] = (1 << KPF_LRU) | (1 << KPF_WRITEBACK);
    Snapshot {
        buddyinfo: "Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      0 \n".into(),
        zoneinfo: Some("Node 0, zone   Normal\n  pages free     8190\n        min      128\n        low      160\n        high     192\n  spanned 8192\n  present 8192\n  managed 8192\n  start_pfn: 0\n".into()),
        kpageflags: Some((0, flags)),
        ..Snapshot::default()
    }
}

#[test]
fn locked_and_writeback_pages_are_imported_and_waited_for() {
    let imported = reconstruct(&snapshot()).unwrap();
    let mut m = imported.machine;
    assert!(m.page(0x810).as_in_use().unwrap().flags.contains(PageFlags::LOCKED));
    assert!(m.page(0x820).as_in_use().unwrap().flags.contains(PageFlags::WRITEBACK));
    let (r, trace) = m.record("acr", |m| m.alloc_contig_range(0x800, 0xa00, MigrateType::Movable, false));
    let stats = r.unwrap();
    assert_eq!(stats.migration.migrated + stats.migration.reclaimed, 2);
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::FolioLock));
    assert!(trace.steps.iter().any(|s| s.func == KernelFn::FolioWaitWriteback));
    m.check_quiescent().unwrap();
}
