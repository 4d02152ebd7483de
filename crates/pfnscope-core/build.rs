//! Compiles the repository's `scenarios/*.scenario` files in as the
//! built-in scenarios: a new case is a new file, not code. Every name is
//! compiled in; the texts only with the `builtins` feature (the web app
//! fetches them as files), but for `default`, which is always there.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let all_texts = std::env::var_os("CARGO_FEATURE_BUILTINS").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the scenarios folder")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".scenario")).map(str::to_string))
        .collect();
    names.sort();
    let mut out = String::from("&[\n");
    for n in &names {
        let path = dir.join(format!("{n}.scenario"));
        println!("cargo:rerun-if-changed={}", path.display());
        let text = if all_texts || n == "default" {
            format!("Some(include_str!({:?}))", path.canonicalize().expect("scenario file").display().to_string())
        } else {
            "None".to_string()
        };
        let _ = writeln!(out, "    ({n:?}, {text}),");
    }
    out.push(']');
    std::fs::write(Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("builtins.rs"), out).expect("write builtins.rs");
}
