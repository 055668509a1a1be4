//! `target`: which addresses to scan. The network, its ranges of hosts (the network's default
//! range when none is given), the excluded hosts and the SSH port; every address must lie in
//! the network and at least one must be left to scan.

use super::Checker;
use crate::playbook::raw::{OneOrMany, RawPlaybook};
use crate::playbook::target::{HostRange, Target, parse_hosts, parse_network};

impl Checker<'_> {
    pub(super) fn target(&mut self, raw: &RawPlaybook) -> Option<Target> {
        let t = &raw.target;
        let network = match parse_network(&t.network) {
            Ok(n) => n,
            Err(e) => {
                self.invalid("target.network", e);
                return None;
            }
        };
        let mut ranges: Vec<HostRange> = Vec::new();
        let items = t.ranges.to_vec();
        let single = matches!(t.ranges, OneOrMany::One(_));
        for (i, item) in items.iter().enumerate() {
            let path = if single {
                "target.ranges".to_string()
            } else {
                format!("target.ranges[{i}]")
            };
            match parse_hosts(item, &network) {
                Ok(r) => ranges.push(r),
                Err(e) => self.invalid(&path, e),
            }
        }
        if items.is_empty() {
            match network.default_range() {
                Some(r) => ranges.push(r),
                None => self.problem(
                    "target.network",
                    format!("target.network: {network} has no default range of hosts"),
                    Some("list the hosts under `ranges:`".into()),
                ),
            }
        }
        let mut exclude = Vec::new();
        for (i, item) in t.exclude.iter().enumerate() {
            match parse_hosts(item, &network) {
                Ok(r) => exclude
                    .extend((u32::from(r.first)..=u32::from(r.last)).map(std::net::Ipv4Addr::from)),
                Err(e) => self.invalid(&format!("target.exclude[{i}]"), e),
            }
        }
        if t.port == 0 {
            self.problem(
                "target.port",
                "target.port: 0 is not a port",
                Some("SSH's port is 22".into()),
            );
        }
        let target = Target {
            network,
            ranges,
            exclude,
            port: t.port,
        };
        if target.ranges.is_empty() {
            return None;
        }
        if target.addresses().is_empty() {
            self.problem(
                "target.exclude",
                "target: every address of the ranges is excluded: nothing to scan",
                Some("remove exclusions or widen `ranges`".into()),
            );
            return None;
        }
        Some(target)
    }
}
