//! `legion-examples NAME`: runs one of the example workflows end to end on this machine.
//!
//! Each example lives in its own folder under `examples/` (definition, README, and the Rust that
//! serves its functions and checks its results). An example starts what it needs on 127.0.0.1 (see
//! [`stack`]), runs its state machine through Legion, prints what happened and exits non-zero when
//! the result is not what the workflow promises.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

mod stack;

#[path = "../bins/example.rs"]
mod bins;
#[path = "../bucket-batches/example.rs"]
mod bucket_batches;
#[path = "../csv-fan-out/example.rs"]
mod csv_fan_out;
#[path = "../function-chaining/example.rs"]
mod function_chaining;
#[path = "../lambda-chunks/example.rs"]
mod lambda_chunks;

type Run = fn() -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// One runnable example.
struct Example {
    /// Its folder under `examples/`, and the name on the command line.
    name: &'static str,
    /// One line about it.
    about: &'static str,
    run: Run,
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "csv-fan-out",
        about: "one asynchronous OpenFaaS call per row of a CSV in S3, with a summary written back to S3",
        run: || Box::pin(csv_fan_out::run()),
    },
    Example {
        name: "function-chaining",
        about: "a picture through three OpenFaaS functions in sequence, synchronously and asynchronously",
        run: || Box::pin(function_chaining::run()),
    },
    Example {
        name: "bins",
        about: "primes below a million counted in 100 bins, split into N ranges by ASL, one OpenFaaS call per range",
        run: || Box::pin(bins::run()),
    },
    Example {
        name: "lambda-chunks",
        about: "readings split into chunks, one synchronous Lambda call per chunk, the results concatenated",
        run: || Box::pin(lambda_chunks::run()),
    },
    Example {
        name: "bucket-batches",
        about: "every image under a prefix in S3, in batches of 100 to a throttled Lambda function",
        run: || Box::pin(bucket_batches::run()),
    },
];

fn usage() -> String {
    let mut s = String::from("usage: legion-examples NAME\n\nexamples:\n");
    for e in EXAMPLES {
        s.push_str(&format!("  {:<20} {}\n", e.name, e.about));
    }
    s
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name] = args.as_slice() else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    let Some(example) = EXAMPLES.iter().find(|e| e.name == name) else {
        eprint!("unknown example {name:?}\n\n{}", usage());
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on((example.run)()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{} failed: {e:#}", example.name);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EXAMPLES;

    /// Runs example `name` end to end; it fails unless it finds what it expects.
    fn run(name: &str) {
        let example = EXAMPLES.iter().find(|e| e.name == name).expect("a listed example");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        if let Err(e) = runtime.block_on((example.run)()) {
            panic!("{name} failed: {e:#}");
        }
    }

    #[test]
    fn csv_fan_out() {
        run("csv-fan-out");
    }

    #[test]
    fn function_chaining() {
        run("function-chaining");
    }

    #[test]
    fn bins() {
        run("bins");
    }

    #[test]
    fn lambda_chunks() {
        run("lambda-chunks");
    }

    #[test]
    fn bucket_batches() {
        run("bucket-batches");
    }

    /// Every example has a definition, a README and its code, and every folder with code is listed.
    #[test]
    fn every_folder_is_an_example() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for example in EXAMPLES {
            for file in ["README.md", "definition.asl.json", "example.rs"] {
                assert!(root.join(example.name).join(file).is_file(), "{}/{file} is missing", example.name);
            }
        }
        for entry in std::fs::read_dir(root).expect("the examples folder") {
            let path = entry.expect("a folder entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if path.join("example.rs").is_file() {
                assert!(EXAMPLES.iter().any(|e| e.name == name), "{name}/example.rs is not in EXAMPLES");
            }
        }
    }
}
