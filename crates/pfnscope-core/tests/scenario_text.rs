//! The scenario file format under damage: any text is read or refused
//! with a line and column inside it, never a panic, and whatever is read
//! writes back to the same scenario.

use pfnscope_core::Scenario;
use proptest::prelude::*;

/// Every built-in's file, to damage.
fn texts() -> Vec<&'static str> {
    Scenario::builtins().map(|n| Scenario::builtin_text(n).expect("built in")).collect()
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match Scenario::parse(text) {
        Ok(s) => {
            let again = Scenario::parse(&s.to_text()).map_err(|e| TestCaseError::fail(format!("its own text does not read back: {e}")))?;
            prop_assert_eq!(again, s);
        }
        Err(e) => {
            let lines = text.lines().count().max(1);
            prop_assert!(e.line >= 1 && e.line <= lines, "line {} of {}", e.line, lines);
            let len = text.lines().nth(e.line - 1).map_or(0, |l| l.chars().count());
            prop_assert!(e.col >= 1 && e.col <= len + 1, "column {} on a line of {} characters: {}", e.col, len, e);
            prop_assert!(!e.message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// A built-in file with a line dropped, duplicated, or a word replaced.
    #[test]
    fn damaged_built_ins_are_read_or_refused_with_a_place(which in 0usize..64, line in 0usize..80, word in 0usize..6, with in "[-a-zA-Z0-9_#. ]{0,12}", how in 0u8..3) {
        let all = texts();
        let text = all[which % all.len()];
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let i = line % lines.len();
        match how {
            0 => { lines.remove(i); }
            1 => { let l = lines[i].clone(); lines.insert(i, l); }
            _ => {
                let mut words: Vec<String> = lines[i].split(' ').map(str::to_string).collect();
                let j = word % words.len();
                words[j] = with.clone();
                lines[i] = words.join(" ");
            }
        }
        check(&lines.join("\n"))?;
    }

    /// Any text at all.
    #[test]
    fn any_text_is_read_or_refused_with_a_place(text in "(\\PC{0,30}\n){0,8}") {
        check(&text)?;
    }
}
