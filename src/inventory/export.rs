//! `rdplay inventory export`: the JSON document, the CSV tables, and writing export files (0600 in 0700).

use super::InventoryError;
use super::inert::csv_cell;
use super::model::{AccountRecord, AccountState, PcRecord};
use crate::facts::Facts;
use crate::mac::Mac;
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Everything an export needs, read once.
pub struct Snapshot {
    /// Every PC, by MAC.
    pub pcs: Vec<PcRecord>,
    /// Every account, oldest first.
    pub accounts: Vec<AccountRecord>,
    /// What changed, oldest first: PCs' facts, clones, strangers.
    pub events: Vec<super::EventRecord>,
    /// Every read of an escrowed password.
    pub reads: Vec<super::ReadRecord>,
    /// Each PC's site, in a shared (PostgreSQL) inventory; empty for a SQLite file (one site's).
    pub sites: std::collections::HashMap<Mac, String>,
}

impl Snapshot {
    /// The PC's managed account: its live one, else its newest pending one.
    pub fn managed_account(&self, mac: &Mac) -> Option<&AccountRecord> {
        managed_account(&self.accounts, mac)
    }

    fn hostname(&self, mac: &Mac) -> Option<&str> {
        self.pcs
            .iter()
            .find(|pc| &pc.mac == mac)
            .and_then(|pc| pc.hostname.as_deref())
    }
}

/// The PC's managed account among `accounts`: its live one, else its newest pending one.
pub fn managed_account<'a>(accounts: &'a [AccountRecord], mac: &Mac) -> Option<&'a AccountRecord> {
    let mine = || accounts.iter().rev().filter(move |a| &a.mac == mac);
    mine()
        .find(|a| a.state == AccountState::Live)
        .or_else(|| mine().find(|a| a.state == AccountState::Pending))
}

#[derive(Serialize)]
struct JsonExport<'a> {
    pcs: Vec<JsonPc<'a>>,
    accounts: Vec<JsonAccount<'a>>,
    events: &'a [super::EventRecord],
    reads: &'a [super::ReadRecord],
}

#[derive(Serialize)]
struct JsonPc<'a> {
    mac: &'a str,
    number: Option<u32>,
    ip: String,
    hostname: Option<&'a str>,
    account: Option<&'a str>,
    host_key: Option<&'a str>,
    facts: Option<&'a Facts>,
    first_seen: String,
    last_seen: String,
}

#[derive(Serialize)]
struct JsonAccount<'a> {
    username: &'a str,
    mac: &'a str,
    request: &'a str,
    uid: Option<u32>,
    shell: Option<&'a str>,
    state: &'static str,
    created_at: String,
    deleted_at: Option<String>,
    user_sheet: Vec<String>,
    pc_sheet: Vec<String>,
}

/// The JSON export: `{ "pcs": [...], "accounts": [...] }`, field names as documented in docs/INVENTORY.md.
pub fn json(snapshot: &Snapshot) -> String {
    let export = JsonExport {
        pcs: snapshot
            .pcs
            .iter()
            .map(|pc| JsonPc {
                mac: pc.mac.as_str(),
                number: pc.number,
                ip: pc.ip.to_string(),
                hostname: pc.hostname.as_deref(),
                account: snapshot
                    .managed_account(&pc.mac)
                    .map(|a| a.username.as_str()),
                host_key: pc.host_key.as_deref(),
                facts: pc.facts.as_ref(),
                first_seen: pc.first_seen.to_string(),
                last_seen: pc.last_seen.to_string(),
            })
            .collect(),
        accounts: snapshot
            .accounts
            .iter()
            .map(|a| JsonAccount {
                username: &a.username,
                mac: a.mac.as_str(),
                request: &a.request,
                uid: a.uid,
                shell: a.shell.as_deref(),
                state: a.state.as_str(),
                created_at: a.created_at.to_string(),
                deleted_at: a.deleted_at.map(|t| t.to_string()),
                user_sheet: path_texts(&a.user_sheet),
                pc_sheet: path_texts(&a.pc_sheet),
            })
            .collect(),
        events: &snapshot.events,
        reads: &snapshot.reads,
    };
    // Serializing strings, numbers and options cannot fail.
    serde_json::to_string_pretty(&export).unwrap_or_default() + "\n"
}

fn path_texts(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// `users.csv`: one row per account, past and present.
pub fn users_csv(snapshot: &Snapshot) -> String {
    let header = [
        "username",
        "mac",
        "hostname",
        "request",
        "state",
        "created_at",
        "deleted_at",
        "user_sheet",
        "pc_sheet",
    ];
    let rows = snapshot.accounts.iter().map(|a| {
        vec![
            a.username.clone(),
            a.mac.to_string(),
            snapshot.hostname(&a.mac).unwrap_or_default().to_owned(),
            a.request.clone(),
            a.state.as_str().to_owned(),
            a.created_at.to_string(),
            a.deleted_at.map(|t| t.to_string()).unwrap_or_default(),
            path_texts(&a.user_sheet).join(";"),
            path_texts(&a.pc_sheet).join(";"),
        ]
    });
    csv(&header, rows)
}

/// `pcs.csv`: one row per PC with its managed account and main facts.
pub fn pcs_csv(snapshot: &Snapshot) -> String {
    let header = [
        "mac",
        "ip",
        "hostname",
        "account",
        "os",
        "kernel",
        "cpu_model",
        "cpu_cores",
        "memory_kib",
        "vendor",
        "model",
        "serial",
        "first_seen",
        "last_seen",
    ];
    let rows = snapshot.pcs.iter().map(|pc| {
        let f = pc.facts.as_ref();
        let text =
            |get: fn(&Facts) -> Option<&String>| f.and_then(get).cloned().unwrap_or_default();
        vec![
            pc.mac.to_string(),
            pc.ip.to_string(),
            pc.hostname.clone().unwrap_or_default(),
            snapshot
                .managed_account(&pc.mac)
                .map(|a| a.username.clone())
                .unwrap_or_default(),
            text(|f| f.os.as_ref()),
            text(|f| f.kernel.as_ref()),
            text(|f| f.cpu_model.as_ref()),
            f.and_then(|f| f.cpu_cores)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            f.and_then(|f| f.memory_kib)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            text(|f| f.dmi_vendor.as_ref()),
            text(|f| f.dmi_model.as_ref()),
            text(|f| f.dmi_serial.as_ref()),
            pc.first_seen.to_string(),
            pc.last_seen.to_string(),
        ]
    });
    csv(&header, rows)
}

/// `changes.csv`: one row per recorded change (run, at, severity, kind, mac, other_mac, ip, hostname,
/// text, since).
pub fn changes_csv(snapshot: &Snapshot) -> String {
    let header = [
        "run",
        "at",
        "severity",
        "kind",
        "mac",
        "other_mac",
        "ip",
        "hostname",
        "text",
        "since",
    ];
    let rows = snapshot.events.iter().map(|e| {
        let ev = &e.event;
        let opt = |v: Option<String>| v.unwrap_or_default();
        vec![
            e.run.0.to_string(),
            e.at.to_string(),
            ev.severity.as_str().to_string(),
            ev.kind.clone(),
            opt(ev.mac.as_ref().map(|m| m.to_string())),
            opt(ev.other_mac.as_ref().map(|m| m.to_string())),
            opt(ev.ip.map(|ip| ip.to_string())),
            opt(ev.hostname.clone()),
            ev.text.clone(),
            opt(ev.since.map(|t| t.to_string())),
        ]
    });
    csv(&header, rows)
}

fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Creates `dir` (0700) when missing and writes each `(name, contents)` into it as a 0600 file.
/// Returns the paths written.
pub fn write_files(dir: &Path, files: &[(String, String)]) -> Result<Vec<PathBuf>, InventoryError> {
    if !dir.exists() {
        crate::files::private_dir(dir).map_err(|source| InventoryError::Io {
            action: "create the export directory",
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut written = Vec::with_capacity(files.len());
    for (name, contents) in files {
        let path = dir.join(name);
        let io = |source| InventoryError::Io {
            action: "write",
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
        file.write_all(contents.as_bytes()).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}
