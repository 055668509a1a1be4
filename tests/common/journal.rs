//! The journal steps the store tests make by hand, as the engine would: a PC renewed, or caught
//! after one of its three durable steps (tests/inventory.rs, tests/postgres.rs).

use rdplay::facts::{Disk, Facts, Interface};
use rdplay::inventory::{AccountState, Intent, PcSeen, Renewal, RunId, Store};
use rdplay::mac::Mac;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A MAC from its canonical text.
pub fn m(s: &str) -> Mac {
    Mac::parse(s).expect("a MAC")
}

/// What a Debian PC with one disk and one interface reports.
pub fn facts(hostname: &str, mac: &str, ip: Ipv4Addr) -> Facts {
    Facts {
        hostname: hostname.to_owned(),
        os: Some("Debian GNU/Linux 12 (bookworm)".into()),
        kernel: Some("6.1.0-25-amd64".into()),
        arch: Some("x86_64".into()),
        cpu_model: Some("Intel(R) Core(TM) i5-6500 CPU @ 3.20GHz".into()),
        cpu_cores: Some(4),
        memory_kib: Some(8_048_000),
        disks: vec![Disk {
            name: "sda".into(),
            size_bytes: 256_060_514_304,
            model: Some("SAMSUNG SSD".into()),
        }],
        interfaces: vec![Interface {
            name: "eth0".into(),
            mac: Some(mac.into()),
            addresses: vec![format!("{ip}/24"), "fe80::5054:ff:fe00:a/64".into()],
        }],
        dmi_vendor: Some("Dell Inc.".into()),
        dmi_model: Some("OptiPlex 7040".into()),
        dmi_serial: Some("5XYZ123".into()),
        uptime_seconds: Some(93_784),
        logged_in: vec!["alice".into()],
        machine_id: Some(format!("{:0>32}", mac.replace(':', ""))),
        dmi_uuid: None,
    }
}

/// The three journal steps of one PC with [`facts`] named `hostname`, stopping after `stop` of
/// them (1, 2 or 3); the request number.
pub async fn renew<S: Store>(
    inv: &S,
    run: RunId,
    mac: &str,
    ip: Ipv4Addr,
    new: &str,
    hostname: &str,
    stop: u8,
) -> String {
    renew_reporting(inv, run, mac, ip, new, facts(hostname, mac, ip), stop).await
}

/// [`renew`], the PC reporting `facts`.
pub async fn renew_reporting<S: Store>(
    inv: &S,
    run: RunId,
    mac: &str,
    ip: Ipv4Addr,
    new: &str,
    facts: Facts,
    stop: u8,
) -> String {
    let old: Vec<String> = inv
        .accounts_to_remove(&m(mac))
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    let request = inv.next_request(run).await.unwrap();
    inv.seen(PcSeen {
        mac: m(mac),
        ip,
        hostname: None,
    })
    .await
    .unwrap();
    let intent = Intent {
        run,
        mac: m(mac),
        ip,
        request: request.clone(),
        new_username: new.into(),
        old_usernames: old.clone(),
        number: None,
    };
    inv.intend(intent).await.unwrap();
    if stop == 1 {
        return request;
    }
    let renewal = Renewal {
        run,
        mac: m(mac),
        request: request.clone(),
        new_username: new.into(),
        // eleve-0003 got uid 1003.
        uid: new
            .rsplit('-')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .map(|n| 1000 + n),
        shell: Some("/bin/bash".into()),
        deleted: old,
        leftover_files: 0,
        leftover_bytes: 0,
        hostname: facts.hostname.clone(),
        facts,
        history: 3,
    };
    inv.renewed(renewal).await.unwrap();
    if stop == 2 {
        return request;
    }
    let sheet = |kind: &str| PathBuf::from(format!("/srv/rdplay/sheets/{kind}-{new}.pdf"));
    inv.sheets_written(new, vec![sheet("user")], vec![sheet("pc")])
        .await
        .unwrap();
    request
}

pub fn to_remove<S: Store>(inv: &S, mac: &str) -> Vec<(String, AccountState)> {
    inv.accounts_to_remove(&m(mac))
        .unwrap()
        .into_iter()
        .map(|a| (a.username, a.state))
        .collect()
}
