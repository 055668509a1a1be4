//! `rdplay print RUN|--last`: prints a run's files again, later, from the disk.
//!
//! A run lists what it wrote that can be printed in its audit log (`"event": "printable"` lines, in
//! `<state_dir>/runs/<RUN>/audit.jsonl`: the batch files `users.pdf` and `pcs.pdf`, with their
//! sha256); this command reads that list, sends one CUPS job per kind of file, and appends each job
//! (its id, or why it could not be sent) to the same audit log. A file a later run rewrote (its
//! digest differs) is not printed: it holds that run's sheets, not this one's. The
//! printer is the playbook's `output.print.printer`, or with `--printer` one of its
//! `output.print.printers`: never a queue the playbook does not name, as user sheets hold passwords.

use super::{CommandError, Output};
use crate::engine::audit::{Audit, Printables};
use crate::engine::effects::print::send;
use crate::playbook::Printable;
use std::path::{Path, PathBuf};

/// `rdplay print` arguments.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["run", "last"])))]
pub struct PrintArgs {
    /// The run whose files to print: its directory's name under `<state_dir>/runs/`
    /// (e.g. `20261130-083500`, as the run printed it).
    pub run: Option<String>,
    /// The latest run that wrote files to print.
    #[arg(long)]
    pub last: bool,
    /// What to print (default: the playbook's `output.print.what`). Repeat or separate with commas.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub what: Vec<Printable>,
    /// Another printer named by the playbook (`output.print.printers`).
    #[arg(long)]
    pub printer: Option<String>,
    /// The playbook of the run.
    #[arg(long)]
    pub playbook: PathBuf,
}

/// Runs `rdplay print`.
pub fn print(args: PrintArgs) -> Result<Output, CommandError> {
    let (pb, runtime) = super::load_with_runtime(&args.playbook)?;
    let config = pb.output.print.as_ref().ok_or_else(|| {
        CommandError::Message(
            "the playbook names no printer: add `output.print: { printer: QUEUE }` (docs/PLAYBOOK.md)"
                .into(),
        )
    })?;
    let printer = match &args.printer {
        Some(queue) if !config.names(queue) => {
            return Err(CommandError::Message(format!(
                "{} is not a printer of the playbook: the sheets hold passwords, so only `output.print.printer` ({}) and `output.print.printers` may print them",
                crate::text::inert(queue, 64),
                config.printer
            )));
        }
        Some(queue) => queue.clone(),
        None => config.printer.clone(),
    };
    let runs = pb.state_dir.join("runs");
    let (name, printables) = match (&args.run, args.last) {
        (Some(run), _) => {
            let dir = run_dir(&runs, run)?;
            (run.clone(), read_printables(&dir)?)
        }
        (None, _) => last_run(&runs)?,
    };
    let dir = runs.join(&name);
    let what = if args.what.is_empty() {
        config.what.clone()
    } else {
        args.what.clone()
    };
    let audit = Audit::create(&dir).map_err(|e| {
        CommandError::Message(format!(
            "opening {}: {e}",
            dir.join("audit.jsonl").display()
        ))
    })?;
    let mut out = Output::default();
    let mut problems = Vec::new();
    for kind in what {
        let files = printables
            .iter()
            .find(|(w, _)| *w == kind)
            .map(|(_, f)| f.clone())
            .unwrap_or_default();
        let (present, changed): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.unchanged());
        for file in &changed {
            out.notes.push(format!(
                "note: {} is no longer the file run {name} wrote (a later run rewrote it, or it was removed): not printed",
                file.path.display()
            ));
        }
        if present.is_empty() {
            out.notes.push(format!(
                "note: run {name} has no {} to print",
                kind.as_str()
            ));
            continue;
        }
        let present: Vec<PathBuf> = present.into_iter().map(|f| f.path).collect();
        let job = runtime.block_on(send(config, &printer, kind, &present, &name, "print"));
        audit.print(&job);
        match (&job.job, &job.error) {
            (Some(id), _) => out.stdout.push_str(&format!(
                "{}: run {name} sent to {printer}, job {id}\n",
                kind.as_str(),
            )),
            (None, error) => problems.push(format!(
                "{}: could not print to {printer}: {}",
                kind.as_str(),
                error.as_deref().unwrap_or("unknown error")
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(CommandError::Problems(problems))
    }
}

/// The directory of run `name` under `runs`: a plain name, an existing directory.
fn run_dir(runs: &Path, name: &str) -> Result<PathBuf, CommandError> {
    let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\0']);
    let dir = runs.join(name);
    if !plain || !dir.is_dir() {
        return Err(CommandError::Message(format!(
            "no run {} in {} (the run's directory name, e.g. `rdplay print --last`)",
            crate::text::inert(name, 64),
            runs.display()
        )));
    }
    Ok(dir)
}

fn read_printables(dir: &Path) -> Result<Printables, CommandError> {
    let log = dir.join("audit.jsonl");
    crate::engine::audit::printables(&log)
        .map_err(|e| CommandError::Message(format!("reading {}: {e}", log.display())))
}

/// The latest run (by its directory's name, a timestamp) that listed files to print.
fn last_run(runs: &Path) -> Result<(String, Printables), CommandError> {
    let mut names: Vec<String> = std::fs::read_dir(runs)
        .map_err(|e| CommandError::Message(format!("reading {}: {e}", runs.display())))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    for name in names {
        let log = runs.join(&name).join("audit.jsonl");
        if let Ok(found) = crate::engine::audit::printables(&log)
            && found.iter().any(|(_, files)| !files.is_empty())
        {
            return Ok((name, found));
        }
    }
    Err(CommandError::Message(format!(
        "no run in {} wrote anything to print",
        runs.display()
    )))
}
