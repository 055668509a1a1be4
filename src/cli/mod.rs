//! The command line: clap definitions, logging set-up and exit codes.
//!
//! Each area owns the arguments and the handler of its own subcommands; this file only
//! wires them together and turns their results into exit codes.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod output;
pub mod progress;
mod scan;
mod setup;

pub use setup::{controller_key, init_logging, private_dir};

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    /// Everything succeeded.
    pub const OK: u8 = 0;
    /// rdplay could not run (bad playbook, lock held, no state directory...).
    pub const FAILURE: u8 = 1;
    /// `run --check` found changes pending.
    pub const CHANGES_PENDING: u8 = 2;
    /// Some PCs failed (or could not be probed by `--check`).
    pub const SOME_FAILED: u8 = 3;
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok
  1  could not run (bad playbook, lock held, ...)
  2  `run --check` found pending changes
  3  some PCs failed";

/// rdplay renews the local account of every PC of a LAN from a declarative playbook.
#[derive(Debug, Parser)]
#[command(name = "rdplay", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Renew every PC of the playbook's range (or show what would change with --check).
    Run(crate::run::RunArgs),
    /// List the addresses of the range that answer on the SSH port.
    Scan(scan::ScanArgs),
    /// Validate a playbook and show what it would target.
    Validate(crate::playbook::cli::ValidateArgs),
    /// Print the playbook's JSON Schema.
    Schema(crate::playbook::cli::SchemaArgs),
    /// Write a commented starter playbook and the default sheet templates into DIR.
    Init(crate::playbook::cli::InitArgs),
    /// Inspect and export the inventory.
    #[command(subcommand)]
    Inventory(crate::inventory::cli::InventoryCommand),
    /// Render a sheet template with sample or given data.
    Preview(crate::render::cli::PreviewArgs),
    /// Print shell completions.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// Runs rdplay with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    // Started by ssh as its askpass program at first contact: answer and leave.
    if let Some(code) = crate::ssh::askpass::client_main() {
        return code;
    }
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => crate::run::command(args, &cli.log),
        Command::Scan(args) => scan::run(args),
        Command::Validate(args) => crate::playbook::cli::validate(args),
        Command::Schema(args) => crate::playbook::cli::schema(args),
        Command::Init(args) => crate::playbook::cli::init(args),
        Command::Inventory(cmd) => crate::inventory::cli::run(cmd),
        Command::Preview(args) => crate::render::cli::preview(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "rdplay", &mut std::io::stdout());
            exit::OK
        }
    };
    ExitCode::from(code)
}
