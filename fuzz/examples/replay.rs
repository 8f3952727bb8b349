//! Replays inputs through a fuzz target without libFuzzer or sanitizers (any toolchain):
//! `cargo run --manifest-path fuzz/Cargo.toml --example replay -- TARGET FILE_OR_DIR…`.

use std::path::{Path, PathBuf};

fn inputs(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for entry in entries {
            inputs(&entry, out);
        }
    } else {
        out.push(path.to_owned());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_default();
    let run: fn(&[u8]) = match target.as_str() {
        "parse_definition" => legion_fuzz::parse_definition,
        "evaluate_expression" => legion_fuzz::evaluate_expression,
        "run_execution" => legion_fuzz::run_execution,
        "api_request" => legion_fuzz::api_request,
        _ => {
            eprintln!("usage: replay parse_definition|evaluate_expression|run_execution|api_request FILE_OR_DIR…");
            std::process::exit(2);
        }
    };
    let mut files = Vec::new();
    for path in args {
        inputs(Path::new(&path), &mut files);
    }
    for file in &files {
        let data = std::fs::read(file).unwrap_or_default();
        eprintln!("{}", file.display());
        run(&data);
    }
    println!("{target}: {} inputs replayed", files.len());
}
