//! Which addresses to scan: a network, host ranges inside it, exclusions, a port.

use super::raw::RawHosts;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The smallest prefix accepted: a /16 is already 65,534 PCs.
pub const MIN_PREFIX: u8 = 16;

/// An IPv4 network: its address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// The network's address, e.g. `192.168.122.0`.
    pub address: Ipv4Addr,
    /// The prefix length, from [`MIN_PREFIX`] to 32.
    pub prefix: u8,
}

/// An inclusive range of addresses inside the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRange {
    /// The first address.
    pub first: Ipv4Addr,
    /// The last address (may equal `first`).
    pub last: Ipv4Addr,
}

/// Which addresses to scan for PCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The network the ranges live in.
    pub network: Network,
    /// The ranges to scan (never empty once validated).
    pub ranges: Vec<HostRange>,
    /// Addresses never touched.
    pub exclude: Vec<Ipv4Addr>,
    /// The PCs' SSH port.
    pub port: u16,
}

impl Target {
    /// Every address to scan, sorted, each once, exclusions removed.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        let excluded: BTreeSet<u32> = self.exclude.iter().map(|a| u32::from(*a)).collect();
        let mut all = BTreeSet::new();
        for r in &self.ranges {
            for a in u32::from(r.first)..=u32::from(r.last) {
                if !excluded.contains(&a) {
                    all.insert(a);
                }
            }
        }
        all.into_iter().map(Ipv4Addr::from).collect()
    }
}

impl Network {
    /// Number of addresses in the network, network and broadcast addresses included.
    pub fn size(&self) -> u32 {
        1u32 << (32 - u32::from(self.prefix))
    }

    /// The address at `offset` from the network's address, if inside the network.
    pub fn host(&self, offset: u32) -> Option<Ipv4Addr> {
        (offset < self.size()).then(|| Ipv4Addr::from(u32::from(self.address) + offset))
    }

    /// Whether `address` is inside the network.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        u32::from(address) & mask == u32::from(self.address)
    }

    /// The default range: from host 2 (host 1 is usually the gateway) to the last host before
    /// broadcast: `2-254` in a /24.
    pub fn default_range(&self) -> Option<HostRange> {
        let size = self.size();
        (size >= 4 && size - 2 >= 2).then(|| HostRange {
            first: Ipv4Addr::from(u32::from(self.address) + 2),
            last: Ipv4Addr::from(u32::from(self.address) + size - 2),
        })
    }

    /// Whether `address` is the network's own address or its broadcast (only for /30 and wider).
    fn is_reserved(&self, address: Ipv4Addr) -> bool {
        let offset = u32::from(address) - u32::from(self.address);
        self.prefix <= 30 && (offset == 0 || offset == self.size() - 1)
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl std::fmt::Display for HostRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// A problem with one value: what is wrong, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub message: String,
    pub help: Option<String>,
}

impl Invalid {
    fn new(message: impl Into<String>, help: impl Into<Option<String>>) -> Invalid {
        Invalid {
            message: message.into(),
            help: help.into(),
        }
    }
}

fn octet(text: &str) -> Option<u8> {
    // "010" would be octal to some tools and decimal to others: refuse it.
    if text.is_empty() || text.len() > 3 || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn address(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut o = [0u8; 4];
    for (slot, part) in o.iter_mut().zip(&parts) {
        *slot = octet(part)?;
    }
    Some(Ipv4Addr::from(o))
}

/// Parses `192.168.122.0/24` or the short form of a /24, `192.168.122`.
pub(crate) fn parse_network(text: &str) -> Result<Network, Invalid> {
    let text = text.trim();
    let forms = "write a CIDR such as `192.168.122.0/24`, or `192.168.122` for a /24".to_string();
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => {
            let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32).ok_or_else(|| {
                Invalid::new(
                    format!("`{text}` has an invalid prefix length"),
                    forms.clone(),
                )
            })?;
            (address(addr), prefix)
        }
        None if text.split('.').count() == 3 => (address(&format!("{text}.0")), 24),
        None if address(text).is_some() => {
            return Err(Invalid::new(
                format!("`{text}` is an address, not a network"),
                format!("add the prefix length, e.g. `{text}/24`"),
            ));
        }
        None => (None, 0),
    };
    let Some(addr) = addr else {
        return Err(Invalid::new(
            format!("`{text}` is not an IPv4 network"),
            forms,
        ));
    };
    if prefix < MIN_PREFIX {
        return Err(Invalid::new(
            format!("/{prefix} is too large a network (at most /{MIN_PREFIX}, 65,536 addresses)"),
            "split the fleet into several playbooks, one per subnet".to_string(),
        ));
    }
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    let base = Ipv4Addr::from(u32::from(addr) & mask);
    if base != addr {
        return Err(Invalid::new(
            format!("`{text}` has host bits set"),
            format!("did you mean `{base}/{prefix}`?"),
        ));
    }
    Ok(Network {
        address: base,
        prefix,
    })
}

/// Parses one item of `ranges` or `exclude` against `network`.
pub(crate) fn parse_hosts(item: &RawHosts, network: &Network) -> Result<HostRange, Invalid> {
    let text = match item {
        RawHosts::Number(n) => n.to_string(),
        RawHosts::Text(t) => t.trim().to_string(),
    };
    let (a, b) = match text.split_once(['-', ',']) {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (text.as_str(), text.as_str()),
    };
    let forms = "write a host number (`7`), a range (`2-254` or `2,254`), an address \
                 (`192.168.122.7`) or a range of addresses (`192.168.122.2-192.168.122.40`)";
    let resolve = |part: &str| -> Result<Ipv4Addr, Invalid> {
        if part.contains('.') {
            let addr = address(part).ok_or_else(|| {
                Invalid::new(
                    format!("`{part}` is not an IPv4 address"),
                    forms.to_string(),
                )
            })?;
            if !network.contains(addr) {
                return Err(Invalid::new(
                    format!("{addr} is outside the network {network}"),
                    format!("use an address of {network}, or change `target.network`"),
                ));
            }
            Ok(addr)
        } else {
            let n: u32 = part.parse().map_err(|_| {
                Invalid::new(format!("`{text}` is not a host range"), forms.to_string())
            })?;
            network.host(n).ok_or_else(|| {
                Invalid::new(
                    format!(
                        "host {n} is outside the network {network} (hosts 0 to {})",
                        network.size() - 1
                    ),
                    format!("use host numbers below {}", network.size()),
                )
            })
        }
    };
    let (first, last) = (resolve(a)?, resolve(b)?);
    if a.contains('.') != b.contains('.') {
        return Err(Invalid::new(
            format!("`{text}` mixes an address and a host number"),
            "write both ends the same way: `2-40` or `192.168.122.2-192.168.122.40`".to_string(),
        ));
    }
    if first > last {
        return Err(Invalid::new(
            format!("the range `{text}` goes backwards"),
            format!("write `{b}-{a}`"),
        ));
    }
    for end in [first, last] {
        if network.is_reserved(end) {
            let what = if u32::from(end) == u32::from(network.address) {
                "network"
            } else {
                "broadcast"
            };
            return Err(Invalid::new(
                format!("`{text}` includes {end}, the {what} address of {network}"),
                "PCs use the addresses between the two; the default range is `2-254` in a /24"
                    .to_string(),
            ));
        }
    }
    Ok(HostRange { first, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Network {
        parse_network(s).unwrap()
    }
    fn text(s: &str) -> RawHosts {
        RawHosts::Text(s.into())
    }

    #[test]
    fn networks_in_both_forms() {
        assert_eq!(net("192.168.122"), net("192.168.122.0/24"));
        assert_eq!(net("10.213.0.0/16").size(), 65_536);
        assert_eq!(
            net("10.0.0.8/29").default_range().unwrap().to_string(),
            "10.0.0.10-10.0.0.14"
        );
        assert_eq!(
            parse_network("192.168.122.5/24").unwrap_err().help.unwrap(),
            "did you mean `192.168.122.0/24`?"
        );
        for bad in [
            "",
            "192.168",
            "192.168.122.0/33",
            "10.0.0.0/8",
            "300.1.1",
            "01.2.3",
            "1.2.3.4",
        ] {
            assert!(parse_network(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_in_every_form() {
        let n = net("192.168.122");
        let r = |h: RawHosts| parse_hosts(&h, &n).map(|r| r.to_string());
        assert_eq!(r(text("3-10")).unwrap(), "192.168.122.3-192.168.122.10");
        assert_eq!(r(text("3,10")).unwrap(), "192.168.122.3-192.168.122.10");
        assert_eq!(r(RawHosts::Number(7)).unwrap(), "192.168.122.7");
        assert_eq!(r(text("192.168.122.9")).unwrap(), "192.168.122.9");
        assert_eq!(
            r(text("192.168.122.2-192.168.122.4")).unwrap(),
            "192.168.122.2-192.168.122.4"
        );
        assert!(r(text("10-3")).unwrap_err().message.contains("backwards"));
        assert!(r(text("3-256")).unwrap_err().message.contains("outside"));
        assert!(
            r(text("192.168.123.4"))
                .unwrap_err()
                .message
                .contains("outside the network")
        );
        assert!(
            r(text("0-10"))
                .unwrap_err()
                .message
                .contains("network address")
        );
        assert!(r(text("2-255")).unwrap_err().message.contains("broadcast"));
        assert!(
            r(text("2-192.168.122.9"))
                .unwrap_err()
                .message
                .contains("mixes")
        );
        assert!(r(text("a-b")).is_err());
    }

    #[test]
    fn addresses_are_sorted_unique_and_exclusions_removed() {
        let n = net("10.0.0.0/24");
        let t = Target {
            network: n,
            ranges: vec![
                parse_hosts(&text("8-10"), &n).unwrap(),
                parse_hosts(&text("2-4"), &n).unwrap(),
                parse_hosts(&text("3-5"), &n).unwrap(),
            ],
            exclude: vec![Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 9)],
            port: 22,
        };
        let got: Vec<String> = t.addresses().iter().map(|a| a.to_string()).collect();
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.8", "10.0.0.10"]
        );
    }
}
