//! A real machine's /proc files (tests/fixtures/real-x86-64-linux-6.18):
//! the reconstruction must reproduce the buddyinfo read just before the
//! kpageflags copy, for the zones the copy covers.

use pfnscope_import::procfs::parse_buddyinfo;
use pfnscope_import::{reconstruct, Snapshot};

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/real-x86-64-linux-6.18")
}

#[test]
fn real_snapshot_reproduces_buddyinfo_for_the_copied_zones() {
    let snap = Snapshot::from_dir(&fixture()).unwrap();
    let (first, flags) = snap.kpageflags.as_ref().unwrap();
    assert_eq!((*first, flags.len()), (1, 0x100000 - 1), "DMA starts at PFN 1; the copy ends at 0x100000");
    let imported = reconstruct(&snap).unwrap();
    assert!(!imported.synthesized);
    let m = &imported.machine;
    m.check_quiescent().unwrap();
    let rows = parse_buddyinfo(&snap.buddyinfo).unwrap();
    for zone in ["DMA", "DMA32"] {
        let want = &rows.iter().find(|r| r.zone == zone).unwrap().free;
        let zi = m.zones().iter().position(|z| z.name() == zone).unwrap();
        let got: Vec<u64> = (0..want.len() as u8).map(|o| m.nr_free(zi, o)).collect();
        assert_eq!(&got, want, "zone {zone}");
    }
    assert!(imported.notes.iter().any(|n| n.contains("does not cover every zone")));
    // The snapshot survives the file format.
    let again = Snapshot::from_bytes("fixture", &snap.to_bytes()).unwrap();
    assert_eq!(again, snap);
}

#[test]
fn pagetypeinfo_block_counts_are_honoured() {
    let snap = Snapshot::from_dir(&fixture()).unwrap();
    let pti = pfnscope_import::procfs::parse_pagetypeinfo(snap.pagetypeinfo.as_deref().unwrap()).unwrap();
    let m = reconstruct(&snap).unwrap().machine;
    for (node, zone, counts) in &pti.blocks {
        if *node != 0 || zone == "Normal" {
            continue;
        }
        let zi = m.zones().iter().position(|z| z.name() == zone).unwrap();
        let got = m.pageblock_counts(zi);
        // ISOLATE is read as MOVABLE; the rest must match.
        for mt in [0usize, 2, 3, 4] {
            assert_eq!(got[mt], counts[mt], "zone {zone}, type {mt}");
        }
    }
}

#[test]
fn zstd_and_gzip_copies_give_the_same_snapshot() {
    let zst = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/real-zst");
    let a = Snapshot::from_dir(&zst).unwrap();
    let b = Snapshot::from_dir(&fixture()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_truncated_copy_names_the_file_and_offset() {
    let dir = std::env::temp_dir().join(format!("pfnscope-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture().join("buddyinfo"), dir.join("buddyinfo")).unwrap();
    std::fs::write(dir.join("kpageflags"), [0u8; 8 * 10 + 3]).unwrap();
    let e = Snapshot::from_dir(&dir).unwrap_err();
    assert_eq!(e.file, "kpageflags");
    assert_eq!(e.place, pfnscope_import::Place::Byte(80));
    assert!(e.message.contains("whole u64"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The contiguity map of a real machine: windows that kpageflags shows
/// entirely free are "free"; windows holding a slab page are "blocked".
#[test]
fn real_snapshot_contiguity_agrees_with_kpageflags() {
    use pfnscope_import::kpageflags::{KPF_BUDDY, KPF_SLAB};
    let bytes = std::fs::read(fixture().join("whole-machine.pfns")).unwrap();
    let snap = Snapshot::from_bytes("whole-machine.pfns", &bytes).unwrap();
    let (first, flags) = snap.kpageflags.as_ref().unwrap();
    let m = reconstruct(&snap).unwrap().machine;
    let map = m.contiguity_map(512);
    let covered = |p: u64| p >= *first && p - first < flags.len() as u64;
    let (mut free, mut slab) = (0, 0);
    for w in map.windows.iter().filter(|w| covered(w.start_pfn) && covered(w.start_pfn + 511)) {
        let pages = &flags[(w.start_pfn - first) as usize..(w.start_pfn - first + 512) as usize];
        if pages.iter().all(|f| f & (1 << KPF_BUDDY) != 0) {
            assert_eq!(w.verdict, pfnscope_core::Verdict::Free, "{:#x}", w.start_pfn);
            free += 1;
        }
        if pages.iter().any(|f| f & (1 << KPF_SLAB) != 0) {
            assert_eq!(w.verdict, pfnscope_core::Verdict::Blocked, "{:#x}", w.start_pfn);
            slab += 1;
        }
    }
    assert!(free > 1000 && slab > 100, "{free} free and {slab} slab windows checked");
}
