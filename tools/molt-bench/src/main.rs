#![forbid(unsafe_code)]

use clap::Parser;
use molt_bench::config::Args;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json.clone();
    let report = match molt_bench::run::run(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("molt-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let table = report.table();
    match json.as_deref() {
        Some("-") => {
            // JSON owns stdout; the table goes to stderr.
            eprint!("{table}");
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", report.to_json());
        }
        Some(path) => {
            print!("{table}");
            if let Err(e) = std::fs::write(path, report.to_json() + "\n") {
                eprintln!("molt-bench: cannot write {path}: {e}");
                return ExitCode::from(2);
            }
        }
        None => print!("{table}"),
    }
    if report.results.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
