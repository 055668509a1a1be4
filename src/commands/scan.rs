//! `rdplay scan PLAYBOOK`: which addresses answer on the SSH port, with MAC and known hostname. The
//! same scan, triage and DHCP rule as a run: a recorded PC that does not answer is UNREACHABLE, unless
//! its MAC answered at another address (moved: the run renews it there).

use super::CommandError;
use crate::engine::scope::{Answered, Scope, Triage};
use crate::inventory::Inventory;
use crate::tasks::scan::{PortState, ScanResult};
use std::fmt::Write as _;
use std::path::PathBuf;

/// `rdplay scan` arguments.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The playbook whose range to scan.
    pub playbook: PathBuf,
    /// Also list addresses where nothing answered.
    #[arg(long)]
    pub all: bool,
}

/// What the scan found.
pub struct ScanReport {
    /// `IP MAC HOSTNAME STATE` per address that answered (or that the inventory knows), then counts.
    pub text: String,
    /// PCs recorded in the inventory that did not answer, at their address or (DHCP) another.
    pub unreachable: usize,
}

/// Why an address that answers has no MAC, and what it means (shared with `--check`'s reason).
pub use crate::engine::planner::NO_MAC;

/// Scans the playbook's range.
pub fn scan(args: ScanArgs) -> Result<ScanReport, CommandError> {
    let (pb, runtime) = super::load_with_runtime(&args.playbook)?;
    let inventory = Inventory::to_read(&pb.inventory, &pb.site).map_err(CommandError::message)?;
    let scope = Scope::new(&pb, &inventory, &[]).map_err(CommandError::message)?;
    let started = std::time::Instant::now();
    let results = runtime.block_on(crate::tasks::scan::scan(
        &scope.to_scan,
        pb.target.port,
        scope.timeout,
        256,
    ));
    let triaged: Vec<(ScanResult, Triage)> = results
        .into_iter()
        .map(|r| (r.clone(), scope.triage(&inventory, r)))
        .collect();
    let mut answered = Answered::default();
    for (_, triage) in &triaged {
        if let Triage::Target(t) = triage {
            answered.note(t);
        }
    }
    let (mut open, mut closed, mut silent, mut unreachable, mut moved) = (0, 0, 0, 0, 0);
    let mut text = String::new();
    let total = triaged.len();
    for (r, triage) in triaged {
        let (known, state) = match triage {
            Triage::Target(t) if t.state == PortState::Open => {
                open += 1;
                let state = match t.mac {
                    Some(_) => "open".to_string(),
                    None => format!("open, but {NO_MAC}"),
                };
                (t.known_by_ip, state)
            }
            Triage::Target(t) => match answered.moved(&t) {
                Some(to) => {
                    moved += 1;
                    (t.known_by_ip, format!("moved: answers at {to}"))
                }
                None => {
                    unreachable += 1;
                    (t.known_by_ip, "UNREACHABLE".to_string())
                }
            },
            Triage::Skip | Triage::Excluded if r.state == PortState::Closed => {
                closed += 1;
                (None, "closed".to_string())
            }
            Triage::Skip | Triage::Excluded => {
                silent += 1;
                if !args.all {
                    continue;
                }
                (None, "no-answer".to_string())
            }
        };
        let hostname = known
            .as_ref()
            .and_then(|k| k.hostname.as_deref())
            .map(|h| crate::text::inert(h, 64))
            .unwrap_or_else(|| "-".into());
        let mac = r
            .mac
            .map(|m| m.to_string())
            .or_else(|| known.as_ref().map(|k| k.mac.to_string()))
            .unwrap_or_else(|| "-".into());
        let ip = r.ip;
        let _ = writeln!(text, "{ip:<15} {mac:<17} {hostname:<20} {state}");
    }
    let _ = writeln!(
        text,
        "{total} addresses in {:.2} s: {open} open, {closed} closed, {silent} without answer, {unreachable} recorded PCs unreachable, {moved} moved to another address",
        started.elapsed().as_secs_f64()
    );
    Ok(ScanReport { text, unreachable })
}
