//! Printing through the system's CUPS, with its own client `lp`, as rdplay reaches PCs through the
//! system's OpenSSH: the admin's CUPS configuration (`/etc/cups/client.conf`, `~/.cups/`, the
//! `CUPS_SERVER` variable) decides which server a job goes to.
//!
//! `lp` is given only the queue, the copies, the job options and absolute file paths: never a
//! file's contents, so a password on a sheet never reaches a command line or an environment; and
//! only the environment the CUPS client reads ([`LP_ENVIRONMENT`]).
//! This module knows nothing of playbooks or runs: a queue, files in, a job id out.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The environment `lp` keeps: what the CUPS client reads (its server, user, encryption), the
/// locale and the paths. Nothing else of rdplay's, and never a variable the playbook names as a
/// password's source ([`crate::child`]).
const LP_ENVIRONMENT: [&str; 14] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_MESSAGES",
    "TMPDIR",
    "CUPS_SERVER",
    "CUPS_USER",
    "CUPS_ENCRYPTION",
    "CUPS_GSSSERVICENAME",
    "IPP_PORT",
    "CUPS_ANYROOT",
];

/// How long `lp` may take to hand a job to CUPS.
pub const LP_TIMEOUT: Duration = Duration::from_secs(60);

/// One print job to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job<'a> {
    /// The CUPS queue.
    pub printer: &'a str,
    /// Copies of the whole job.
    pub copies: u32,
    /// `lp -o NAME=VALUE` options.
    pub options: &'a [(String, String)],
    /// The files, in order, each an absolute path (so none reads as an option).
    pub files: &'a [PathBuf],
    /// The job's title in the queue (no secret: e.g. `rdplay user_sheets 20261130-083500`).
    pub title: &'a str,
}

/// Why a job could not be handed to CUPS.
#[derive(Debug, thiserror::Error)]
pub enum CupsError {
    #[error("nothing to print")]
    NoFiles,
    #[error("{0} is not an absolute path")]
    Relative(PathBuf),
    #[error(
        "could not start `lp` (is the CUPS client installed? apt-get install cups-client): {0}"
    )]
    Start(#[source] std::io::Error),
    #[error("`lp` did not answer within {} s", LP_TIMEOUT.as_secs())]
    Timeout,
    #[error("waiting for `lp`: {0}")]
    Wait(#[source] std::io::Error),
    #[error(
        "`lp` refused the job ({status}): {message} (check the queue with `lpstat -p`, and that CUPS answers with `lpstat -r`)"
    )]
    Refused { status: String, message: String },
    #[error("`lp` said nothing of a job id: {0:?}")]
    NoJobId(String),
}

/// Submits `job` with `lp` and returns the job id CUPS gave it (e.g. `office-laser-123`).
pub async fn submit(job: &Job<'_>) -> Result<String, CupsError> {
    let mut lp = crate::child::async_command_keeping("lp", &LP_ENVIRONMENT);
    lp.args(arguments(job)?)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = lp.spawn().map_err(CupsError::Start)?;
    let output = tokio::time::timeout(LP_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| CupsError::Timeout)?
        .map_err(CupsError::Wait)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = crate::text::inert(stderr.trim(), 300);
        return Err(CupsError::Refused {
            status: output.status.to_string(),
            message,
        });
    }
    job_id(&stdout).ok_or_else(|| CupsError::NoJobId(crate::text::inert(stdout.trim(), 200)))
}

/// `lp`'s arguments for `job`: `-d QUEUE -n COPIES -t TITLE [-o NAME=VALUE]... FILE...`.
fn arguments(job: &Job<'_>) -> Result<Vec<String>, CupsError> {
    if job.files.is_empty() {
        return Err(CupsError::NoFiles);
    }
    let mut args = vec![
        "-d".to_string(),
        job.printer.to_string(),
        "-n".into(),
        job.copies.to_string(),
        "-t".into(),
        job.title.to_string(),
    ];
    for (name, value) in job.options {
        args.push("-o".into());
        args.push(format!("{name}={value}"));
    }
    for file in job.files {
        if !file.is_absolute() {
            return Err(CupsError::Relative(file.clone()));
        }
        args.push(path_arg(file));
    }
    Ok(args)
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The job id in `lp`'s answer, `request id is QUEUE-123 (1 file(s))`.
pub fn job_id(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("request id is ")?;
        let id = rest.split_whitespace().next()?;
        (!id.is_empty()).then(|| id.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_id_is_read_from_lp_s_answer() {
        assert_eq!(
            job_id("request id is office-laser-123 (2 file(s))\n").as_deref(),
            Some("office-laser-123")
        );
        assert_eq!(job_id("lp: Error - no default destination\n"), None);
        assert_eq!(job_id(""), None);
    }

    #[test]
    fn lp_gets_the_queue_copies_options_and_absolute_paths_only() {
        let options = vec![("media".to_string(), "A4".to_string())];
        let files = vec![PathBuf::from("/out/users/U1.pdf")];
        let job = Job {
            printer: "rdtest",
            copies: 2,
            options: &options,
            files: &files,
            title: "rdplay user_sheets",
        };
        assert_eq!(
            arguments(&job).expect("arguments"),
            [
                "-d",
                "rdtest",
                "-n",
                "2",
                "-t",
                "rdplay user_sheets",
                "-o",
                "media=A4",
                "/out/users/U1.pdf"
            ]
        );
        let relative = vec![PathBuf::from("-o.pdf")];
        let job = Job {
            files: &relative,
            ..job
        };
        assert!(matches!(arguments(&job), Err(CupsError::Relative(_))));
        let job = Job { files: &[], ..job };
        assert!(matches!(arguments(&job), Err(CupsError::NoFiles)));
    }
}
