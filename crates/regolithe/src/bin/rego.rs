//! `rego`: check a spec set, or generate Rust, OpenAPI or Markdown from it.

use std::process::ExitCode;

const USAGE: &str = "usage:
  rego check DIR           check a spec set; lists every problem
  rego gen rust DIR        print the generated Rust models
  rego gen openapi DIR     print the OpenAPI 3.1 document (JSON)
  rego gen doc DIR         print the Markdown documentation";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (what, dir) = match args.as_slice() {
        ["check", dir] => ("check", *dir),
        ["gen", what @ ("rust" | "openapi" | "doc"), dir] => (*what, *dir),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let set = match regolithe::load_and_check(dir) {
        Ok(set) => set,
        Err(problems) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            eprintln!("{dir}: {} problem(s)", problems.0.len());
            return ExitCode::FAILURE;
        }
    };
    let output = match what {
        "check" => {
            eprintln!("{dir}: ok ({} models)", set.specs.len());
            return ExitCode::SUCCESS;
        }
        "rust" => regolithe::generate_rust(&set),
        "openapi" => Ok(regolithe::openapi::generate_openapi(&set)),
        _ => Ok(regolithe::markdown::generate_markdown(&set)),
    };
    match output {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            ExitCode::FAILURE
        }
    }
}
