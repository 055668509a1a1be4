//! The print effect: at the end of the run, lists the files the run wrote that can be printed in the
//! audit log (`"event": "printable"`, with their digests: what `rdplay print` reads later) and, when
//! the playbook has `output.print`, sends one CUPS job per kind of file (`lp`), each job's id or
//! failure in the audit log (`"event": "print"`).
//!
//! What can be printed is one file per kind: the run's batch files (`users.pdf`, `pcs.pdf`), which
//! the sheets effect writes in its own `finish` and adds to the [`PrintList`] it shares with this
//! effect (so this one runs after it). One document per job: every printer, and the cups-pdf
//! virtual printer of the tests, prints a one-document job whole.
//!
//! Printing never fails a PC: the sheets exist already. A job CUPS did not take (no such printer,
//! CUPS down, job refused) makes `finish` return an error, which the run reports as a warning.

use super::{BoxFuture, Done, Effect, Renewed};
use crate::engine::audit::{Audit, PrintJob, PrintableFile, Printables};
use crate::playbook::{Print as PrintConfig, Printable};
use crate::tasks::StepError;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The files of this run that can be printed, added by the effects that write them.
#[derive(Debug, Default)]
pub struct PrintList(Mutex<Vec<(Printable, PathBuf)>>);

impl PrintList {
    /// Adds a file of kind `what`.
    pub fn add(&self, what: Printable, path: PathBuf) {
        if let Ok(mut files) = self.0.lock() {
            files.push((what, path));
        }
    }

    fn take(&self) -> Vec<(Printable, PathBuf)> {
        self.0
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }
}

/// Prints the run's files (or only lists them, without `output.print`).
pub struct Print {
    config: Option<PrintConfig>,
    /// The run directory's name, in job titles.
    run: String,
    audit: Audit,
    list: std::sync::Arc<PrintList>,
}

impl Print {
    /// The print effect of `pb`'s run: prints what `list` holds at the end, logging to `audit` (the
    /// run's audit log) under `run`, the run directory's name.
    pub fn new(
        pb: &crate::playbook::Playbook,
        run: String,
        audit: Audit,
        list: std::sync::Arc<PrintList>,
    ) -> Print {
        Print {
            config: pb.output.print.clone(),
            run,
            audit,
            list,
        }
    }

    async fn end(&self) -> Result<Vec<PathBuf>, String> {
        let mut by_kind = Printables::new();
        let mut failures = Vec::new();
        for (what, path) in self.list.take() {
            match PrintableFile::of(&path) {
                Ok(file) => match by_kind.iter_mut().find(|(w, _)| *w == what) {
                    Some((_, files)) => files.push(file),
                    None => by_kind.push((what, vec![file])),
                },
                Err(e) => failures.push(format!("reading {}: {e}", path.display())),
            }
        }
        by_kind.sort_by_key(|(w, _)| *w);
        for (what, files) in &by_kind {
            self.audit.printable(*what, files);
        }
        if let Some(config) = &self.config {
            for what in &config.what {
                let Some((_, files)) = by_kind.iter().find(|(w, _)| w == what) else {
                    continue;
                };
                let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
                let job = send(config, &config.printer, *what, &paths, &self.run, "run").await;
                self.audit.print(&job);
                if let Some(error) = job.error {
                    failures.push(format!(
                        "could not print {} to {}: {error}",
                        what.as_str(),
                        config.printer
                    ));
                }
            }
        }
        if failures.is_empty() {
            Ok(Vec::new())
        } else {
            Err(failures.join("; "))
        }
    }
}

/// Sends `files` as one job to `printer` with `config`'s copies and options; the job as the audit
/// log records it. `by` is `run` or `print`.
pub async fn send(
    config: &PrintConfig,
    printer: &str,
    what: Printable,
    files: &[PathBuf],
    run: &str,
    by: &'static str,
) -> PrintJob {
    let title = format!("rdplay {} {run}", what.as_str());
    let job = crate::cups::Job {
        printer,
        copies: config.copies,
        options: &config.options,
        files,
        title: &title,
    };
    let sent = crate::cups::submit(&job).await;
    match &sent {
        Ok(id) => tracing::info!(printer, job = %id, "{} printed", what.as_str()),
        Err(e) => tracing::warn!(printer, "printing {}: {e}", what.as_str()),
    }
    let (job, error) = match sent {
        Ok(id) => (Some(id), None),
        Err(e) => (None, Some(e.to_string())),
    };
    PrintJob {
        what,
        printer: printer.to_string(),
        copies: config.copies,
        files: files.iter().map(|f| display(f)).collect(),
        job,
        error,
        by,
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

impl Effect for Print {
    fn name(&self) -> &'static str {
        "print"
    }

    /// Nothing per PC: what is printed is written at the end of the run.
    fn apply<'a>(&'a self, _pc: &'a Renewed<'a>) -> BoxFuture<'a, Result<Done, StepError>> {
        Box::pin(async {
            Ok(Done {
                effect: "print",
                files: Vec::new(),
            })
        })
    }

    fn finish(&self) -> BoxFuture<'_, Result<Vec<PathBuf>, String>> {
        Box::pin(self.end())
    }
}
