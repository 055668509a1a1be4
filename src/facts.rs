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
