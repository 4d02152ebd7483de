//! Any bytes as a snapshot file: an error or a machine, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(snap) = pfnscope_import::Snapshot::from_bytes("fuzz", data) {
        if let Ok(imported) = pfnscope_import::reconstruct(&snap) {
            assert!(imported.machine.check_invariants().is_ok());
        }
    }
});
