//! Arbitrary input never panics and never half-loads: every parser answers
//! with a value or an error that names its file.

use pfnscope_import::procfs::{parse_buddyinfo, parse_pagetypeinfo, parse_zoneinfo};
use pfnscope_import::{reconstruct, Snapshot};
use proptest::prelude::*;

/// Text that looks enough like /proc to get past the first checks.
fn procish() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("Node".to_string()),
        Just("0,".to_string()),
        Just("zone".to_string()),
        Just("Normal".to_string()),
        Just("DMA".to_string()),
        Just("type".to_string()),
        Just("Movable".to_string()),
        Just("spanned".to_string()),
        Just("present".to_string()),
        Just("start_pfn:".to_string()),
        Just("Page block order:".to_string()),
        Just("Number of blocks type".to_string()),
        Just("\n".to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
        "[ -~]{0,6}",
    ];
    prop::collection::vec(word, 0..60).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn text_parsers_never_panic(text in procish(), raw in "\\PC{0,200}") {
        for t in [&text, &raw] {
            if let Err(e) = parse_buddyinfo(t) { prop_assert_eq!(e.file, "buddyinfo"); }
            if let Err(e) = parse_pagetypeinfo(t) { prop_assert_eq!(e.file, "pagetypeinfo"); }
            if let Err(e) = parse_zoneinfo(t) { prop_assert_eq!(e.file, "zoneinfo"); }
        }
    }

    #[test]
    fn ftrace_text_never_panics(lines in prop::collection::vec(prop_oneof![
        Just("mm_page_alloc:".to_string()),
        Just("mm_page_free:".to_string()),
        Just("mm_page_alloc_extfrag:".to_string()),
        "pfn=(0x)?[0-9a-f]{0,8}",
        "order=[0-9]{0,4}",
        "migratetype=[0-9]{0,3}",
        "[ -~]{0,12}",
    ], 0..30)) {
        let text = lines.join(" ").replace("mm_page", "\nmm_page");
        match pfnscope_import::ftrace::parse("trace", &text) {
            Ok(t) => {
                let mut m = pfnscope_core::Machine::new(pfnscope_core::MachineSpec::teaching_16m()).unwrap();
                pfnscope_import::ftrace::replay(&mut m, &t);
                prop_assert!(m.check_quiescent().is_ok());
            }
            Err(e) => prop_assert_eq!(e.file, "trace"),
        }
    }

    #[test]
    fn snapshot_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
        let _ = Snapshot::from_bytes("fuzz", &bytes);
        // A valid snapshot cut anywhere is an error, never a partial load.
        let s = Snapshot {
            buddyinfo: "Node 0, zone Normal 1 0 0 0 0 0 0 0 0 0 0\n".into(),
            zoneinfo: Some("Node 0, zone Normal\n spanned 2048\n present 2048\n start_pfn: 0\n".into()),
            kpageflags: Some((0, vec![1 << 10; 64])),
            ..Snapshot::default()
        };
        let full = s.to_bytes();
        let cut = cut.min(full.len().saturating_sub(1));
        prop_assert!(Snapshot::from_bytes("cut", &full[..cut]).is_err());
    }

    #[test]
    fn reconstruction_of_arbitrary_counts_is_a_machine_or_an_error(counts in prop::collection::vec(0u64..40, 11), span in 1u64..64, flags in prop::collection::vec(any::<u64>(), 0..300)) {
        let buddy = format!("Node 0, zone Normal {}\n", counts.iter().map(u64::to_string).collect::<Vec<_>>().join(" "));
        let zone = format!("Node 0, zone Normal\n spanned {}\n present {0}\n start_pfn: 1024\n", span * 1024);
        let synth = Snapshot { buddyinfo: buddy.clone(), zoneinfo: Some(zone.clone()), ..Snapshot::default() };
        if let Ok(i) = reconstruct(&synth) {
            prop_assert!(i.machine.check_quiescent().is_ok());
            let got: Vec<u64> = (0..11).map(|o| i.machine.nr_free(0, o)).collect();
            prop_assert_eq!(got, counts);
        }
        let real = Snapshot { buddyinfo: buddy, zoneinfo: Some(zone), kpageflags: Some((1024, flags)), ..Snapshot::default() };
        if let Ok(i) = reconstruct(&real) {
            prop_assert!(i.machine.check_invariants().is_ok(), "{:?}", i.machine.check_invariants());
        }
    }
}
