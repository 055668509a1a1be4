//! What changed since last time: a PC's facts against the ones recorded at its last renewal, in short
//! sentences with a severity. Fleet-wide identity conflicts (clones) and strangers are events of the
//! same shape, found by the inventory and the engine.

use crate::facts::{Disk, Facts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How much a change matters. `warning`: something may have walked out of the room or been swapped
/// (memory or a disk less, another board); `info`: expected life (an OS upgrade, a disk added).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
}

impl Severity {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
        }
    }

    /// The severity a stored word names.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            _ => None,
        }
    }
}

/// One change of a PC's facts: what (`kind`), how much it matters, and a short sentence
/// (`memory 8.0 GiB → 4.0 GiB`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactChange {
    pub kind: &'static str,
    pub severity: Severity,
    pub text: String,
}

/// The changes from `old` to `new`. A fact one side does not know is not a change; memory moves
/// under 5 % and disk sizes under 1 % are noise (kernels reserve differently).
pub fn diff(old: &Facts, new: &Facts) -> Vec<FactChange> {
    let mut out = Vec::new();
    let mut push = |kind, severity, text: String| {
        out.push(FactChange {
            kind,
            severity,
            text,
        })
    };
    if let (Some(a), Some(b)) = (old.memory_kib, new.memory_kib)
        && a.abs_diff(b) * 20 > a.max(b)
    {
        let severity = if b < a {
            Severity::Warning
        } else {
            Severity::Info
        };
        push(
            "memory",
            severity,
            format!("memory {} → {}", gib(a), gib(b)),
        );
    }
    if let (Some(a), Some(b)) = (&old.cpu_model, &new.cpu_model)
        && a != b
    {
        push("cpu", Severity::Warning, format!("processor {a} → {b}"));
    }
    if let (Some(a), Some(b)) = (old.cpu_cores, new.cpu_cores)
        && a != b
    {
        let severity = if b < a {
            Severity::Warning
        } else {
            Severity::Info
        };
        push("cpu", severity, format!("processor cores {a} → {b}"));
    }
    disks(&old.disks, &new.disks, &mut push);
    interfaces(old, new, &mut push);
    for (kind, what, a, b) in [
        ("dmi", "maker", &old.dmi_vendor, &new.dmi_vendor),
        ("dmi", "model", &old.dmi_model, &new.dmi_model),
        ("dmi", "serial number", &old.dmi_serial, &new.dmi_serial),
        ("dmi", "board UUID", &old.dmi_uuid, &new.dmi_uuid),
    ] {
        if let (Some(a), Some(b)) = (a, b)
            && a != b
        {
            push(
                kind,
                Severity::Warning,
                format!("{what} {a} → {b} (the board was swapped, or this is another PC)"),
            );
        }
    }
    if let (Some(a), Some(b)) = (&old.machine_id, &new.machine_id)
        && a != b
    {
        push(
            "machine_id",
            Severity::Warning,
            format!("machine-id {} → {} (reinstalled?)", short(a), short(b)),
        );
    }
    if let (Some(a), Some(b)) = (&old.os, &new.os)
        && a != b
    {
        push("os", Severity::Info, format!("system {a} → {b}"));
    }
    if let (Some(a), Some(b)) = (&old.kernel, &new.kernel)
        && a != b
    {
        push("kernel", Severity::Info, format!("kernel {a} → {b}"));
    }
    out
}

fn disks(old: &[Disk], new: &[Disk], push: &mut impl FnMut(&'static str, Severity, String)) {
    let by_name = |d: &[Disk]| -> BTreeMap<String, Disk> {
        d.iter().map(|d| (d.name.clone(), d.clone())).collect()
    };
    let (old, new) = (by_name(old), by_name(new));
    for (name, a) in &old {
        match new.get(name) {
            None => push(
                "disk",
                Severity::Warning,
                format!("disk {name} ({}) gone", gb(a.size_bytes)),
            ),
            Some(b) if a.size_bytes.abs_diff(b.size_bytes) * 100 > a.size_bytes.max(1) => push(
                "disk",
                Severity::Warning,
                format!("disk {name} {} → {}", gb(a.size_bytes), gb(b.size_bytes)),
            ),
            Some(b) if a.model.is_some() && b.model.is_some() && a.model != b.model => push(
                "disk",
                Severity::Warning,
                format!(
                    "disk {name} model {} → {}",
                    a.model.as_deref().unwrap_or("?"),
                    b.model.as_deref().unwrap_or("?")
                ),
            ),
            Some(_) => {}
        }
    }
    for (name, b) in new.iter().filter(|(n, _)| !old.contains_key(*n)) {
        push(
            "disk",
            Severity::Info,
            format!("disk {name} ({}) added", gb(b.size_bytes)),
        );
    }
}

fn interfaces(old: &Facts, new: &Facts, push: &mut impl FnMut(&'static str, Severity, String)) {
    let macs = |f: &Facts| -> BTreeMap<String, String> {
        f.interfaces
            .iter()
            .filter_map(|i| i.mac.clone().map(|m| (m, i.name.clone())))
            .collect()
    };
    let (old, new) = (macs(old), macs(new));
    for (mac, name) in old.iter().filter(|(m, _)| !new.contains_key(*m)) {
        push(
            "interface",
            Severity::Warning,
            format!("network interface {name} ({mac}) gone"),
        );
    }
    for (mac, name) in new.iter().filter(|(m, _)| !old.contains_key(*m)) {
        push(
            "interface",
            Severity::Info,
            format!("network interface {name} ({mac}) added"),
        );
    }
}

fn gib(kib: u64) -> String {
    format!("{:.1} GiB", kib as f64 / 1_048_576.0)
}

fn gb(bytes: u64) -> String {
    format!("{} GB", (bytes as f64 / 1e9).round())
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Interface;

    fn facts() -> Facts {
        Facts {
            hostname: "pc12".into(),
            os: Some("Debian GNU/Linux 12 (bookworm)".into()),
            kernel: Some("6.1.0-25-amd64".into()),
            cpu_model: Some("Intel i5-6500".into()),
            cpu_cores: Some(4),
            memory_kib: Some(8 * 1_048_576),
            disks: vec![Disk {
                name: "sda".into(),
                size_bytes: 256_060_514_304,
                model: Some("SAMSUNG".into()),
            }],
            interfaces: vec![Interface {
                name: "eth0".into(),
                mac: Some("52:54:00:00:00:0a".into()),
                addresses: vec![],
            }],
            dmi_serial: Some("5XYZ123".into()),
            machine_id: Some("0123456789abcdef".into()),
            ..Facts::default()
        }
    }

    #[test]
    fn the_same_facts_change_nothing_and_noise_is_ignored() {
        let mut after = facts();
        after.memory_kib = Some(8 * 1_048_576 - 30_000);
        after.disks[0].size_bytes += 1_000_000;
        after.uptime_seconds = Some(99);
        after.logged_in = vec!["x".into()];
        assert_eq!(diff(&facts(), &facts()), vec![]);
        assert_eq!(diff(&facts(), &after), vec![]);
        // Unknown on one side is not a change.
        let mut unknown = facts();
        unknown.dmi_serial = None;
        assert_eq!(diff(&unknown, &facts()), vec![]);
    }

    #[test]
    fn each_change_is_one_sentence_with_its_severity() {
        let mut after = facts();
        after.memory_kib = Some(4 * 1_048_576);
        after.disks.clear();
        after.os = Some("Debian GNU/Linux 13 (trixie)".into());
        after.dmi_serial = Some("9ABC".into());
        let changes = diff(&facts(), &after);
        let seen: Vec<(&str, Severity, &str)> = changes
            .iter()
            .map(|c| (c.kind, c.severity, c.text.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("memory", Severity::Warning, "memory 8.0 GiB → 4.0 GiB"),
                ("disk", Severity::Warning, "disk sda (256 GB) gone"),
                (
                    "dmi",
                    Severity::Warning,
                    "serial number 5XYZ123 → 9ABC (the board was swapped, or this is another PC)"
                ),
                (
                    "os",
                    Severity::Info,
                    "system Debian GNU/Linux 12 (bookworm) → Debian GNU/Linux 13 (trixie)"
                ),
            ]
        );
        // More memory is good news.
        let mut more = facts();
        more.memory_kib = Some(16 * 1_048_576);
        assert_eq!(diff(&facts(), &more)[0].severity, Severity::Info);
    }
}
