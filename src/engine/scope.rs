//! Scope and triage: which addresses a command scans (the range, narrowed by `--limit`), which scan
//! answers become PCs to plan, and which recorded PCs that did not answer were moved by DHCP
//! ([`Answered::moved`]). One triage and one rule serve `run`, `--check` and `scan`.

use crate::inventory::{PcRecord, Store};
use crate::mac::Mac;
use crate::playbook::Playbook;
use crate::tasks::scan::{PortState, ScanResult};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

/// An address that matters: it answered on the SSH port, or the inventory knows a PC there.
#[derive(Debug, Clone)]
pub struct Target {
    pub ip: Ipv4Addr,
    /// 1-based position of the address in the playbook's range (the `index` of the naming pattern).
    pub index: u32,
    pub state: PortState,
    /// From the neighbour table, when the address answered.
    pub mac: Option<Mac>,
    /// The PC the inventory last saw at this address.
    pub known_by_ip: Option<PcRecord>,
}

/// What the scan of one address means.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // made and consumed once per address
pub enum Triage {
    /// A PC to plan.
    Target(Target),
    /// Nothing there, and nothing recorded there: not a PC.
    Skip,
    /// Left out by `--limit`.
    Excluded,
}

/// The addresses a command scans and how to read the answers.
pub struct Scope {
    /// Every address of the range, in order (the naming pattern's `index` is a position in it).
    pub all: Vec<Ipv4Addr>,
    /// The ones to scan.
    pub to_scan: Vec<Ipv4Addr>,
    limit: Limit,
    /// The per-address timeout of the scan.
    pub timeout: Duration,
}

/// A reason the scope could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("--limit @failed: {0}")]
    Failed(#[source] crate::inventory::InventoryError),
    #[error("--limit: reading the inventory's PCs: {0}")]
    Pcs(#[source] crate::inventory::InventoryError),
}

impl Scope {
    /// The scope of `pb`, narrowed by `--limit` items (IPs, hostnames, MACs, `@failed`).
    pub fn new<S: Store>(pb: &Playbook, store: &S, limit: &[String]) -> Result<Scope, ScopeError> {
        let limit = Limit::new(store, limit)?;
        let all = pb.target.addresses();
        let to_scan = all
            .iter()
            .copied()
            .filter(|ip| limit.may_scan(*ip))
            .collect();
        Ok(Scope {
            all,
            to_scan,
            limit,
            // A PC on the LAN answers in milliseconds: the connect timeout, at most 1.5 s.
            timeout: pb
                .connection
                .connect_timeout
                .min(Duration::from_millis(1500)),
        })
    }

    /// What the scan's answer for one address means.
    pub fn triage<S: Store>(&self, store: &S, r: ScanResult) -> Triage {
        if !self.limit.keeps(r.ip, r.mac.as_ref()) {
            return Triage::Excluded;
        }
        // An inventory that cannot be read cannot say that nobody is missing here: the address is
        // kept, and its plan (which reads the inventory again) blocks the PC rather than skip it.
        let (known_by_ip, unreadable) = match store.pc_by_ip(r.ip) {
            Ok(pc) => (pc, false),
            Err(e) => {
                tracing::error!(ip = %r.ip, "reading the inventory: {e}");
                (None, true)
            }
        };
        if r.state != PortState::Open && known_by_ip.is_none() && !unreadable {
            return Triage::Skip;
        }
        let index = self
            .all
            .iter()
            .position(|a| *a == r.ip)
            .map_or(0, |p| p as u32 + 1);
        Triage::Target(Target {
            ip: r.ip,
            index,
            state: r.state,
            mac: r.mac,
            known_by_ip,
        })
    }
}

/// The PCs that answered on the SSH port with a MAC, noted as the scan goes. Once the scan is
/// complete, it tells a recorded PC that is gone from one DHCP moved, and which PCs are numbered.
#[derive(Debug, Default)]
pub struct Answered(HashMap<Mac, Ipv4Addr>);

impl Answered {
    /// Notes a target: kept when it answered on the SSH port with a MAC.
    pub fn note(&mut self, target: &Target) {
        if let (PortState::Open, Some(mac)) = (target.state, &target.mac) {
            self.0.insert(mac.clone(), target.ip);
        }
    }

    /// Where the PC recorded at a silent target's address answered instead, once the scan is
    /// complete: its MAC answered at another address, so DHCP moved it. It is that PC, planned there,
    /// not a missing one here: `scan` says so, `run` and `--check` skip the old address.
    pub fn moved(&self, silent: &Target) -> Option<Ipv4Addr> {
        if silent.state == PortState::Open {
            return None;
        }
        let recorded = silent.known_by_ip.as_ref()?;
        self.0
            .get(&recorded.mac)
            .copied()
            .filter(|ip| *ip != silent.ip)
    }

    /// The MACs that answered, in address order (the order new PCs are numbered in).
    pub fn macs(&self) -> Vec<Mac> {
        let mut by_ip: Vec<(&Ipv4Addr, &Mac)> = self.0.iter().map(|(m, ip)| (ip, m)).collect();
        by_ip.sort();
        by_ip.into_iter().map(|(_, m)| m.clone()).collect()
    }
}

/// Which addresses `--limit` keeps; hostnames and MACs are matched through the inventory and the scan.
struct Limit {
    ips: HashSet<Ipv4Addr>,
    macs: HashSet<Mac>,
    names: HashSet<String>,
    active: bool,
}

impl Limit {
    fn new<S: Store>(store: &S, items: &[String]) -> Result<Limit, ScopeError> {
        let mut limit = Limit {
            ips: HashSet::new(),
            macs: HashSet::new(),
            names: HashSet::new(),
            active: !items.is_empty(),
        };
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if item == "@failed" {
                for pc in store.failed_in_last_run().map_err(ScopeError::Failed)? {
                    if let Some(mac) = pc.mac {
                        limit.macs.insert(mac);
                    }
                    limit.ips.insert(pc.ip);
                }
            } else if let Ok(ip) = item.parse::<Ipv4Addr>() {
                limit.ips.insert(ip);
            } else if let Some(mac) = Mac::parse(item) {
                limit.macs.insert(mac);
            } else {
                limit.names.insert(item.to_string());
            }
        }
        if !limit.active {
            return Ok(limit);
        }
        // Hostnames and MACs recorded in the inventory name their last address too.
        for pc in store.pcs().map_err(ScopeError::Pcs)? {
            if limit.macs.contains(&pc.mac)
                || pc
                    .hostname
                    .as_ref()
                    .is_some_and(|h| limit.names.contains(h))
            {
                limit.ips.insert(pc.ip);
                limit.macs.insert(pc.mac);
            }
        }
        Ok(limit)
    }

    /// Whether scanning `ip` can matter.
    fn may_scan(&self, ip: Ipv4Addr) -> bool {
        !self.active || self.ips.contains(&ip) || !self.macs.is_empty() || !self.names.is_empty()
    }

    /// Whether a scanned PC is selected.
    fn keeps(&self, ip: Ipv4Addr, mac: Option<&Mac>) -> bool {
        !self.active || self.ips.contains(&ip) || mac.is_some_and(|m| self.macs.contains(m))
    }
}
