//! `export --format glpi`: one JSON document per PC in the GLPI agent's native inventory format
//! (glpi-project/inventory_format, `inventory.schema.json`), so a GLPI server can import the fleet.
//! `tests/inventory.rs` validates every exported document against a vendored copy of that schema
//! (`tests/schemas/`), whose top level allows no key but its own: `action`, not the old XML `query`.
//!
//! rdplay knows less than the GLPI agent: sizes and memory come from the facts, memory is one entry for
//! the total (rdplay does not read DIMMs), and `content.users` lists the managed account then the users
//! logged in when the facts were gathered.

use super::export::managed_account;
use super::model::{AccountRecord, AccountState, PcRecord};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use std::net::Ipv4Addr;

/// The file a PC's document is written to: its MAC with `-` separators (a validated MAC is safe as a name).
pub fn file_name(pc: &PcRecord) -> String {
    format!("{}.json", pc.mac.as_str().replace(':', "-"))
}

/// The GLPI inventory document of one PC.
pub fn document(pc: &PcRecord, accounts: &[AccountRecord]) -> Value {
    let facts = pc.facts.clone().unwrap_or_default();
    let hostname = pc
        .hostname
        .clone()
        .or_else(|| Some(facts.hostname.clone()).filter(|h| !h.is_empty()));

    let mut hardware = Map::new();
    put(&mut hardware, "name", hostname.clone());
    put(&mut hardware, "memory", facts.memory_kib.map(|k| k / 1024));
    put(&mut hardware, "ipaddr", Some(pc.ip.to_string()));
    put(
        &mut hardware,
        "lastloggeduser",
        facts.logged_in.first().cloned(),
    );
    // GLPI matches a computer on its serial, this UUID and its MACs: the DMI UUID, or else the
    // machine-id written as a UUID.
    put(
        &mut hardware,
        "uuid",
        facts
            .dmi_uuid
            .clone()
            .or_else(|| facts.machine_id.as_deref().and_then(machine_id_uuid)),
    );

    let mut bios = Map::new();
    put(&mut bios, "smanufacturer", facts.dmi_vendor.clone());
    put(&mut bios, "smodel", facts.dmi_model.clone());
    put(&mut bios, "ssn", facts.dmi_serial.clone());

    let mut os = Map::new();
    put(&mut os, "full_name", facts.os.clone());
    put(
        &mut os,
        "name",
        facts
            .os
            .as_deref()
            .and_then(|o| o.split_whitespace().next())
            .map(str::to_owned),
    );
    put(&mut os, "kernel_name", Some("linux".to_owned()));
    put(&mut os, "kernel_version", facts.kernel.clone());
    put(&mut os, "arch", facts.arch.clone());
    put(&mut os, "fqdn", hostname.clone());
    put(
        &mut os,
        "ssh_key",
        pc.host_key
            .as_deref()
            .and_then(|k| k.lines().next())
            .map(str::to_owned),
    );
    put(
        &mut os,
        "boot_time",
        boot_time(pc.last_seen, facts.uptime_seconds),
    );

    let mut cpus = Vec::new();
    if facts.cpu_model.is_some() || facts.cpu_cores.is_some() {
        let mut cpu = Map::new();
        put(&mut cpu, "name", facts.cpu_model.clone());
        put(&mut cpu, "core", facts.cpu_cores);
        put(
            &mut cpu,
            "arch",
            facts.arch.clone().filter(|a| glpi_cpu_arch(a)),
        );
        cpus.push(Value::Object(cpu));
    }

    let memories: Vec<Value> = facts
        .memory_kib
        .map(|k| json!({ "capacity": k / 1024, "caption": "System memory (total)", "description": "Total" }))
        .into_iter()
        .collect();

    let storages: Vec<Value> = facts
        .disks
        .iter()
        .map(|d| {
            let mut s = Map::new();
            put(&mut s, "name", Some(d.name.clone()));
            put(&mut s, "disksize", Some(d.size_bytes / 1_000_000));
            put(&mut s, "model", d.model.clone());
            put(&mut s, "type", Some("disk".to_owned()));
            Value::Object(s)
        })
        .collect();

    let mut networks = Vec::new();
    for iface in &facts.interfaces {
        let status = if iface.addresses.is_empty() {
            "down"
        } else {
            "up"
        };
        let base = |extra: Map<String, Value>| {
            let mut n = Map::new();
            put(&mut n, "description", Some(iface.name.clone()));
            put(&mut n, "mac", iface.mac.clone());
            put(&mut n, "status", Some(status.to_owned()));
            n.extend(extra);
            Value::Object(n)
        };
        if iface.addresses.is_empty() {
            networks.push(base(Map::new()));
        }
        for cidr in &iface.addresses {
            networks.push(base(address_fields(cidr)));
        }
    }
    let lists_pc_mac = facts
        .interfaces
        .iter()
        .any(|i| i.mac.as_deref() == Some(pc.mac.as_str()));
    if !lists_pc_mac {
        // The address rdplay reached the PC at, with the MAC it is known by.
        networks.push(json!({
            "description": "rdplay", "mac": pc.mac, "ipaddress": pc.ip.to_string(), "status": "up"
        }));
    }

    let mut users: Vec<String> = Vec::new();
    let managed = managed_account(accounts, &pc.mac).filter(|a| a.state != AccountState::Deleted);
    users.extend(managed.map(|a| a.username.clone()));
    for login in &facts.logged_in {
        if !users.contains(login) {
            users.push(login.clone());
        }
    }

    json!({
        "deviceid": device_id(pc, hostname.as_deref()),
        "action": "inventory",
        "itemtype": "Computer",
        "content": {
            "versionclient": format!("rdplay_v{}", env!("CARGO_PKG_VERSION")),
            "accesslog": { "logdate": glpi_datetime(pc.last_seen) },
            "hardware": hardware,
            "bios": bios,
            "operatingsystem": os,
            "cpus": cpus,
            "memories": memories,
            "storages": storages,
            "networks": networks,
            "users": users.into_iter().map(|login| json!({ "login": login })).collect::<Vec<_>>(),
        }
    })
}

fn put<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}

/// The agent's device id: `<hostname>-<YYYY-MM-DD-HH-MM-SS>` of first contact, the hostname reduced to
/// `[A-Za-z0-9._-]` (PC-supplied text) and the MAC used when there is none.
fn device_id(pc: &PcRecord, hostname: Option<&str>) -> String {
    let name: String = match hostname {
        Some(h) if !h.is_empty() => h
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
        _ => pc.mac.bare(),
    };
    format!("{name}-{}", pc.first_seen.strftime("%Y-%m-%d-%H-%M-%S"))
}

fn glpi_datetime(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn boot_time(last_seen: Timestamp, uptime: Option<u64>) -> Option<String> {
    let seconds = i64::try_from(uptime?).ok()?;
    last_seen
        .checked_sub(SignedDuration::from_secs(seconds))
        .ok()
        .map(glpi_datetime)
}

/// The schema restricts `cpus[].arch` to these.
fn glpi_cpu_arch(arch: &str) -> bool {
    matches!(
        arch,
        "mips"
            | "mips64"
            | "alpha"
            | "sparc"
            | "sparc64"
            | "m68k"
            | "i386"
            | "x86_64"
            | "powerpc"
            | "powerpc64"
            | "aarch64"
    ) || arch.starts_with("arm")
}

/// `10.0.0.5/24` → ipaddress, ipmask, ipsubnet; an IPv6 CIDR → ipaddress6, ipmask6, ipsubnet6.
fn address_fields(cidr: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let (addr, prefix) = cidr.split_once('/').unwrap_or((cidr, ""));
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        m.insert("ipaddress".into(), v4.to_string().into());
        if let Ok(bits) = prefix.parse::<u32>().map(|b| b.min(32)) {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            m.insert("ipmask".into(), Ipv4Addr::from(mask).to_string().into());
            m.insert(
                "ipsubnet".into(),
                Ipv4Addr::from(u32::from(v4) & mask).to_string().into(),
            );
        }
    } else if let Ok(v6) = addr.parse::<std::net::Ipv6Addr>() {
        m.insert("ipaddress6".into(), v6.to_string().into());
        if let Ok(bits) = prefix.parse::<u32>().map(|b| b.min(128)) {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            m.insert(
                "ipmask6".into(),
                std::net::Ipv6Addr::from(mask).to_string().into(),
            );
            m.insert(
                "ipsubnet6".into(),
                std::net::Ipv6Addr::from(u128::from(v6) & mask)
                    .to_string()
                    .into(),
            );
        }
    }
    m
}

/// A machine-id (32 hex digits, /etc/machine-id) written as a UUID: the PC's UUID when its firmware
/// gives none (DMI unreadable: VMs, containers, some thin clients).
fn machine_id_uuid(id: &str) -> Option<String> {
    let id = id.trim();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
        let id = id.to_ascii_lowercase();
        format!(
            "{}-{}-{}-{}-{}",
            &id[..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_id_becomes_a_uuid_and_anything_else_none() {
        assert_eq!(
            machine_id_uuid("0123456789ABCDEF0123456789abcdef\n").as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(machine_id_uuid("uninitialized"), None);
        assert_eq!(machine_id_uuid("0123456789abcdef0123456789abcdeg"), None);
    }

    #[test]
    fn splits_cidrs_like_the_agent() {
        let v4 = address_fields("10.1.2.3/24");
        assert_eq!(v4["ipaddress"], "10.1.2.3");
        assert_eq!(v4["ipmask"], "255.255.255.0");
        assert_eq!(v4["ipsubnet"], "10.1.2.0");
        let v6 = address_fields("fe80::1:2/64");
        assert_eq!(v6["ipaddress6"], "fe80::1:2");
        assert_eq!(v6["ipmask6"], "ffff:ffff:ffff:ffff::");
        assert_eq!(v6["ipsubnet6"], "fe80::");
        assert!(address_fields("garbage").is_empty());
    }

    #[test]
    fn cpu_arch_follows_the_schema_pattern() {
        assert!(glpi_cpu_arch("x86_64") && glpi_cpu_arch("armv7l") && glpi_cpu_arch("aarch64"));
        assert!(!glpi_cpu_arch("riscv64"));
    }
}
