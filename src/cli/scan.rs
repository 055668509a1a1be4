//! `rdplay scan PLAYBOOK`: which addresses answer on the SSH port, with MAC and known hostname.

use crate::inventory::Inventory;
use crate::tasks::scan::PortState;
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

/// Prints `IP MAC HOSTNAME STATE` per address that answered (or that the inventory knows), then counts.
/// Exit 3 when a PC recorded in the inventory did not answer.
pub fn run(args: ScanArgs) -> u8 {
    use super::exit;
    let (pb, runtime) = match crate::run::load_with_runtime(&args.playbook) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let inventory = match Inventory::open_read_only(&pb.inventory.path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILURE;
        }
    };
    let addresses = pb.target.addresses();
    let timeout = crate::run::scan_timeout(&pb);
    let started = std::time::Instant::now();
    let results = runtime.block_on(crate::tasks::scan::scan(
        &addresses,
        pb.target.port,
        timeout,
        256,
    ));
    let (mut open, mut closed, mut silent, mut unreachable) = (0, 0, 0, 0);
    for r in &results {
        let known = inventory.pc_by_ip(r.ip).ok().flatten();
        let hostname = known
            .as_ref()
            .and_then(|k| k.hostname.as_deref())
            .map(|h| crate::text::inert(h, 64))
            .unwrap_or_else(|| "-".into());
        let mac = r
            .mac
            .as_ref()
            .map(|m| m.to_string())
            .or_else(|| known.as_ref().map(|k| k.mac.clone()))
            .unwrap_or_else(|| "-".into());
        let state = match r.state {
            PortState::Open => {
                open += 1;
                "open"
            }
            _ if known.is_some() => {
                unreachable += 1;
                "UNREACHABLE"
            }
            PortState::Closed => {
                closed += 1;
                "closed"
            }
            PortState::Silent => {
                silent += 1;
                "no-answer"
            }
        };
        if r.state == PortState::Open || known.is_some() || args.all || r.state == PortState::Closed
        {
            println!("{:<15} {:<17} {:<20} {state}", r.ip, mac, hostname);
        }
    }
    println!(
        "{} addresses in {:.2} s: {open} open, {closed} closed, {silent} without answer, {unreachable} recorded PCs unreachable",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    if unreachable > 0 {
        exit::SOME_FAILED
    } else {
        exit::OK
    }
}
