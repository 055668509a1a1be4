//! The command line: clap definitions, logging set-up and exit codes.
//!
//! Each area owns the arguments and the handler of its own subcommands; this file only
//! wires them together and turns their results into exit codes.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod man;
pub mod output;
pub mod progress;
mod setup;

pub use setup::init_logging;

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
    /// Logging options, accepted before or after the subcommand.
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The global logging options: `--log-level` and `-v`/`-q`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogArgs {
    /// Log level, overriding the playbook's `logging.level`.
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    pub log_level: Option<crate::playbook::LogLevel>,
    /// More detail: each -v is one level more verbose.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less detail: each -q is one level quieter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
}

impl LogArgs {
    /// The level to log at: `--log-level`, else the playbook's (or `info` without one), moved
    /// one level per `-v` (more verbose) or `-q` (quieter).
    pub fn level(
        &self,
        playbook_level: Option<crate::playbook::LogLevel>,
    ) -> crate::playbook::LogLevel {
        let base = self.log_level.or(playbook_level).unwrap_or_default();
        base.shifted(i32::from(self.verbose) - i32::from(self.quiet))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Renew every PC of the playbook's range (or show what would change with --check).
    Run(crate::commands::run::RunArgs),
    /// List the addresses of the range that answer on the SSH port.
    Scan(crate::commands::scan::ScanArgs),
    /// Validate a playbook and show what it would target.
    Validate(crate::commands::playbook::ValidateArgs),
    /// Print the playbook's JSON Schema.
    Schema(crate::commands::playbook::SchemaArgs),
    /// Write a commented starter playbook and the default sheet templates into DIR.
    Init(crate::commands::playbook::InitArgs),
    /// Inspect and export the inventory.
    #[command(subcommand)]
    Inventory(crate::commands::inventory::InventoryCommand),
    /// Reprint lost user sheets (or show a password) from escrow, with an admin's key; every read is
    /// audited.
    Reprint(crate::commands::reprint::ReprintArgs),
    /// Manage password escrow.
    #[command(subcommand)]
    Escrow(crate::commands::reprint::EscrowCommand),
    /// Render a sheet template with sample or given data, or show the sheets on a live page
    /// (--serve).
    Preview(crate::commands::preview::PreviewArgs),
    /// Print a run's sheets again through CUPS, from the files on disk.
    Print(crate::commands::print::PrintArgs),
    /// Print shell completions.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (rdplay.1 and one per subcommand) into DIR, for packaging.
    #[command(hide = true)]
    Man {
        /// The directory to write them into (created if needed).
        dir: std::path::PathBuf,
    },
}

/// Runs rdplay with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    // Started by ssh as its askpass program at first contact: answer and leave.
    if let Some(code) = crate::ssh::askpass::client_main() {
        return code;
    }
    // Usage errors exit 1 (clap's own 2 means "changes pending" here); --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::FAILURE
            } else {
                exit::OK
            });
        }
    };
    use crate::commands;
    let code = match cli.command {
        Command::Run(args) => run(args, &cli.log),
        Command::Scan(args) => match commands::scan::scan(args) {
            Ok(report) => {
                print!("{}", report.text);
                if report.unreachable > 0 {
                    exit::SOME_FAILED
                } else {
                    exit::OK
                }
            }
            Err(e) => failed(e),
        },
        Command::Validate(args) => output(commands::playbook::validate(args)),
        Command::Schema(args) => output(commands::playbook::schema(args)),
        Command::Init(args) => output(commands::playbook::init(args)),
        Command::Inventory(cmd) => output(commands::inventory::run(cmd)),
        Command::Preview(args) if args.serve => serve(args),
        Command::Preview(args) => output(commands::preview::preview(args)),
        Command::Reprint(args) => reprint(args),
        Command::Escrow(commands::reprint::EscrowCommand::Rekey(args)) => {
            match commands::reprint::rekey(&args) {
                Ok((rekeyed, unreadable)) => {
                    println!(
                        "rekeyed {rekeyed} escrowed password(s) to the playbook's recipients; \
                         {unreadable} could not be read with this identity (left as they were)"
                    );
                    if unreadable > 0 {
                        exit::SOME_FAILED
                    } else {
                        exit::OK
                    }
                }
                Err(e) => failed(e),
            }
        }
        Command::Print(args) => output(commands::print::print(args)),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "rdplay", &mut std::io::stdout());
            exit::OK
        }
        Command::Man { dir } => match man::write(&dir) {
            Ok(written) => {
                for path in written {
                    println!("wrote {}", path.display());
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::FAILURE
            }
        },
    };
    ExitCode::from(code)
}

/// `rdplay reprint`: the sheets written, or (`--show`, on a terminal only) the passwords.
fn reprint(args: crate::commands::reprint::ReprintArgs) -> u8 {
    use std::io::IsTerminal;
    if args.show && !std::io::stdout().is_terminal() {
        eprintln!(
            "error: --show prints passwords on a terminal only, never into a pipe or a file; \
             reprint the sheet instead"
        );
        return exit::FAILURE;
    }
    match crate::commands::reprint::reprint(&args) {
        Ok(done) => {
            for (user, password) in &done.shown {
                println!("{user}  {}", password.expose());
            }
            for file in &done.files {
                println!("wrote {}", file.display());
            }
            exit::OK
        }
        Err(e) => failed(e),
    }
}

/// `rdplay preview --serve`: prints the page's address, opens it in the desktop's browser (when
/// there is a desktop and not `--no-open`), and serves until Ctrl-C.
fn serve(args: crate::commands::preview::PreviewArgs) -> u8 {
    let open = !args.no_open
        && ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    let server = match crate::commands::preview::serve(args) {
        Ok(server) => server,
        Err(e) => return failed(e),
    };
    println!("{}", server.url());
    eprintln!(
        "live preview of {} sheet(s) at the address above (this computer only); each save of a \
         template draws them again. Ctrl-C stops it.",
        server.sheets()
    );
    if open {
        // Best effort: the address is printed either way. Waited for, so it leaves no zombie.
        if let Ok(mut browser) = crate::child::command("xdg-open")
            .arg(server.url())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            std::thread::spawn(move || browser.wait());
        }
    }
    match server.wait() {
        Ok(()) => exit::OK,
        Err(e) => failed(e),
    }
}

/// Prints a command's output (exit 0) or its error (exit 1).
fn output(result: Result<crate::commands::Output, crate::commands::CommandError>) -> u8 {
    match result {
        Ok(out) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(out.stdout.as_bytes()) {
                eprintln!("error: writing standard output: {e}");
                return exit::FAILURE;
            }
            for note in out.notes {
                eprintln!("{note}");
            }
            exit::OK
        }
        Err(e) => failed(e),
    }
}

fn failed(e: crate::commands::CommandError) -> u8 {
    eprintln!("{e}");
    exit::FAILURE
}

/// `rdplay run` and `rdplay run --check`: the plans or the run's table, and the exit code.
fn run(args: crate::commands::run::RunArgs, log: &LogArgs) -> u8 {
    use crate::commands::{self, CommandError, run::PlanFormat};
    let (pb, runtime) = match commands::load_with_runtime(&args.playbook) {
        Ok((pb, runtime)) => (args.overriding(pb), runtime),
        Err(e) => return failed(e),
    };
    let level = pb.logging.level;
    // The bar is hidden for scripts (`--check --format json`), and when stderr is not a terminal.
    let quiet = log.quiet > 0 || (args.check && args.format == PlanFormat::Json);
    let progress = std::sync::Arc::new(progress::Progress::new(0, quiet));
    if args.check {
        init_logging(log, level, None);
        let report = runtime.block_on(commands::check::check(pb, &args, progress.clone()));
        progress.finish();
        return match report {
            Ok(report) => {
                match args.format {
                    PlanFormat::Text => print!("{}", output::check_text(&report)),
                    PlanFormat::Json => match output::check_json(&report) {
                        Ok(lines) => print!("{lines}"),
                        Err(e) => return failed(CommandError::message(e)),
                    },
                }
                let (renew, _, blocked) = crate::engine::plan::counts(&report.plans);
                let changed = report
                    .plans
                    .iter()
                    .flat_map(|p| p.changes.iter().map(|c| c.severity));
                if blocked > 0
                    || report.interrupted
                    || crate::engine::fleet::fails(changed, report.fail_on)
                {
                    exit::SOME_FAILED
                } else if renew > 0 {
                    exit::CHANGES_PENDING
                } else {
                    exit::OK
                }
            }
            Err(e) => failed(e.into()),
        };
    }
    let report = runtime.block_on(commands::run::run(pb, &args, progress.clone(), |file| {
        init_logging(log, level, Some(file))
    }));
    progress.finish();
    match report {
        Ok(report) => {
            output::print_run(&report);
            if report.all_ok() {
                exit::OK
            } else {
                exit::SOME_FAILED
            }
        }
        Err(e) => failed(e.into()),
    }
}

/// Raises the soft limit of open files to the hard limit. Each PC in flight holds a few descriptors
/// (its master's pipes and socket, the helper's stdio): with `forks: 1000` that passes the usual soft
/// limit of 1024 long before the hard one. Best effort: the limit stays as it was if this fails.
pub fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the rlimit value passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// glibc's malloc, tuned before any thread starts. Its default mmap threshold rises to 32 MiB as large
/// buffers are freed, after which those buffers (typst's layouts, PDF bytes) come from the heap and
/// stay mapped when freed; with one arena per thread on top, a renewal of 200 PCs peaked at 128-170 MB
/// of RSS for a live heap of 43 MB. A fixed 128 KiB threshold and two arenas: 83 MB.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc parameters; called first thing in main (and in benches), before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
