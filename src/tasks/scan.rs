//! Scan: which addresses of the range have an SSH port open, and their MACs.
//!
//! A TCP connect to the port on every address, all at once (bounded), with a short timeout; the MAC then
//! comes from the controller's neighbour (ARP) table, which the connection filled. Read-only.
//!
//! The timeout counts from the moment an address *could* be probed (the scan's start, or when a slot of
//! the concurrency bound freed up), not from the `connect` call itself: sending hundreds of probes takes
//! the kernel a while (each unknown address costs an ARP broadcast), and counting from each call would
//! add that whole sending time to the scan. Every probe still gets at least [`MIN_WAIT`] after it was
//! sent, so an address probed last is not given up before it could answer.

use crate::mac::Mac;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// What one address answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// The port accepted a connection.
    Open,
    /// The address answered but refused the port.
    Closed,
    /// Nothing answered within the timeout.
    Silent,
}

impl PortState {
    /// The word shown by `rdplay scan`.
    pub fn word(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Silent => "no-answer",
        }
    }
}

/// One address's scan result.
#[derive(Debug, Clone)]
pub struct ScanResult {
    pub ip: Ipv4Addr,
    pub state: PortState,
    pub mac: Option<Mac>,
}

/// Connects to `port` on every address (at most `concurrency` at once) and reads the MACs; results in
/// address order.
pub async fn scan(
    addresses: &[Ipv4Addr],
    port: u16,
    timeout: Duration,
    concurrency: usize,
) -> Vec<ScanResult> {
    let mut stream = scan_stream(addresses.to_vec(), port, timeout, concurrency);
    let mut results = Vec::with_capacity(addresses.len());
    while let Some(r) = stream.recv().await {
        results.push(r);
    }
    results.sort_by_key(|r| r.ip);
    results
}

/// Like [`scan`], but each result is sent as soon as its address answers (or times out), so a run can
/// start on the first PCs while the silent addresses are still being waited for.
pub fn scan_stream(
    addresses: Vec<Ipv4Addr>,
    port: u16,
    timeout: Duration,
    concurrency: usize,
) -> tokio::sync::mpsc::Receiver<ScanResult> {
    let (tx, rx) = tokio::sync::mpsc::channel(addresses.len().max(1));
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    for ip in addresses {
        let (limit, tx) = (limit.clone(), tx.clone());
        let queued = Instant::now();
        tokio::spawn(async move {
            // When this address could first be probed: now if a slot is free, else when one frees up.
            let (_permit, ready) = match limit.clone().try_acquire_owned() {
                Ok(permit) => (Ok(permit), queued),
                Err(_) => (limit.acquire_owned().await, Instant::now()),
            };
            let state = probe(ip, port, ready + timeout).await;
            // The connection just filled the neighbour table: the MAC is there now.
            let mac = match state {
                PortState::Silent => None,
                _ => neighbours().remove(&ip),
            };
            let _ = tx.send(ScanResult { ip, state, mac }).await;
        });
    }
    rx
}

/// The least time a probe waits for an answer after it was sent, whatever the scan's deadline.
pub const MIN_WAIT: Duration = Duration::from_millis(500);

async fn probe(ip: Ipv4Addr, port: u16, deadline: Instant) -> PortState {
    let addr = SocketAddr::from((ip, port));
    let deadline = deadline.max(Instant::now() + MIN_WAIT);
    match tokio::time::timeout_at(deadline.into(), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => PortState::Open,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => PortState::Closed,
        _ => PortState::Silent,
    }
}

/// The controller's IPv4 neighbour table (`/proc/net/arp` of this network namespace): complete entries only.
pub fn neighbours() -> HashMap<Ipv4Addr, Mac> {
    let text = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
    parse_arp(&text)
}

fn parse_arp(text: &str) -> HashMap<Ipv4Addr, Mac> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let ip = f.first()?.parse().ok()?;
            let flags = u32::from_str_radix(f.get(2)?.trim_start_matches("0x"), 16).ok()?;
            // 0x2: ATF_COM, the entry is complete.
            (flags & 0x2 != 0).then_some(())?;
            Some((ip, Mac::parse(f.get(3)?)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_table_complete_entries_only() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.213.0.2       0x1         0x2         6a:1f:00:aa:bb:cc     *        br0\n\
                 10.213.0.9       0x1         0x0         00:00:00:00:00:00     *        br0\n";
        let n = parse_arp(t);
        assert_eq!(n.len(), 1);
        assert_eq!(
            n[&"10.213.0.2".parse().unwrap()].as_str(),
            "6a:1f:00:aa:bb:cc"
        );
    }
}

/// A PC that answered on the SSH port, with its identity.
#[derive(Debug, Clone)]
pub struct Reachable {
    pub ip: Ipv4Addr,
    pub mac: Mac,
    /// 1-based position of the address in the playbook's range (the `index` of the naming pattern).
    pub index: u32,
}
