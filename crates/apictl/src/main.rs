//! # apictl
//!
//! A command line client of bahamut servers, generated from the model at run time: gaia's
//! model is built in, and `--specs DIR` loads any regolithe spec set instead. Every identity
//! gets `list`, `get`, `create`, `update`, `delete`, `count` and `listen`, with one flag per
//! attribute, checked locally with the rules of the specs before anything is sent.
//!
//! ```text
//! apictl externalnetwork create --name web --entries 10.0.0.0/8
//! apictl extnet list --filter 'name == web' -o yaml
//! ```

#![forbid(unsafe_code)]

mod catalog;
mod cli;
mod commands;
mod output;
mod settings;
mod values;

use std::process::ExitCode;

use std::io::Write;

use anyhow::Context;

use crate::catalog::Catalog;
use crate::settings::Settings;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`apictl ... | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run() -> anyhow::Result<()> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let catalog = match settings::specs_folder(&args)? {
        Some(dir) => Catalog::load(&dir)?,
        None => Catalog::builtin(),
    };
    let mut command = cli::command(&catalog);
    let matches = command.clone().get_matches_from(args);
    let (name, sub) = matches.subcommand().context("a command is needed")?;
    if name == "completions" {
        let shell = *sub
            .get_one::<clap_complete::Shell>("shell")
            .context("a shell is needed")?;
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "apictl", &mut script);
        return Ok(std::io::stdout().write_all(&script)?);
    }
    let kind = catalog.kind(name)?;
    let (operation, op_matches) = sub.subcommand().context("an operation is needed")?;
    let settings = Settings::new(op_matches)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(commands::run(
        &catalog, kind, operation, op_matches, &settings,
    ))
}
