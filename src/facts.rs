//! Facts: what a PC reports about itself at the end of the exec step.
//!
//! The remote helper prints one JSON document; [`Facts`] is its validated form. Every field a
//! PC controls is untrusted: it is length-capped and stored and shown inert (never evaluated).

use serde::{Deserialize, Serialize};

/// The facts collected on one PC. Optional fields are `None` when the PC could not tell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The PC's own hostname (`uname -n`).
    pub hostname: String,
    /// `PRETTY_NAME` from /etc/os-release.
    pub os: Option<String>,
    /// Kernel release (`uname -r`).
    pub kernel: Option<String>,
    /// Machine architecture (`uname -m`).
    pub arch: Option<String>,
    /// CPU model name.
    pub cpu_model: Option<String>,
    /// Number of online CPU cores.
    pub cpu_cores: Option<u32>,
    /// Total memory in KiB.
    pub memory_kib: Option<u64>,
    /// Block devices (disks only, no partitions).
    #[serde(default)]
    pub disks: Vec<Disk>,
    /// Network interfaces other than loopback.
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    /// DMI vendor, when readable.
    pub dmi_vendor: Option<String>,
    /// DMI product name, when readable.
    pub dmi_model: Option<String>,
    /// DMI serial number, when readable (often root-only).
    pub dmi_serial: Option<String>,
    /// Seconds since boot.
    pub uptime_seconds: Option<u64>,
    /// Users with a login session or process at the time of collection.
    #[serde(default)]
    pub logged_in: Vec<String>,
    /// `/etc/machine-id`: the same on two PCs means one was cloned from the other's disk.
    #[serde(default)]
    pub machine_id: Option<String>,
    /// DMI product UUID, when readable (root only).
    #[serde(default)]
    pub dmi_uuid: Option<String>,
}

impl Facts {
    /// These facts with every NUL character replaced by U+FFFD. No real fact holds one, but a
    /// hostile PC can report one, and PostgreSQL's text cannot store it: the shared inventory
    /// would then refuse the PC's record after its account was changed. Applied where a report is
    /// read, so both inventories store the same text.
    pub fn without_nul(mut self) -> Facts {
        fn clean(s: &mut String) {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{fffd}");
            }
        }
        let Facts {
            hostname,
            os,
            kernel,
            arch,
            cpu_model,
            cpu_cores: _,
            memory_kib: _,
            disks,
            interfaces,
            dmi_vendor,
            dmi_model,
            dmi_serial,
            uptime_seconds: _,
            logged_in,
            machine_id,
            dmi_uuid,
        } = &mut self;
        clean(hostname);
        for s in [
            os, kernel, arch, cpu_model, dmi_vendor, dmi_model, dmi_serial, machine_id, dmi_uuid,
        ]
        .into_iter()
        .flatten()
        {
            clean(s);
        }
        for disk in disks {
            clean(&mut disk.name);
            disk.model.iter_mut().for_each(clean);
        }
        for interface in interfaces {
            clean(&mut interface.name);
            interface.mac.iter_mut().for_each(clean);
            interface.addresses.iter_mut().for_each(clean);
        }
        logged_in.iter_mut().for_each(clean);
        self
    }
}

/// One disk of a PC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// Kernel name, e.g. `sda`.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Model, when the kernel knows it.
    pub model: Option<String>,
}

/// One network interface of a PC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Interface name, e.g. `eth0`.
    pub name: String,
    /// MAC address in lower-case colon form.
    pub mac: Option<String>,
    /// Addresses in CIDR form.
    #[serde(default)]
    pub addresses: Vec<String>,
}
