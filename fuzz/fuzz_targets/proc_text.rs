//! Any text as /proc files and ftrace: values or errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = pfnscope_import::procfs::parse_buddyinfo(text);
    let _ = pfnscope_import::procfs::parse_pagetypeinfo(text);
    let _ = pfnscope_import::procfs::parse_zoneinfo(text);
    let _ = pfnscope_import::ftrace::parse("fuzz", text);
});
