//! An in-memory fleet behind the [`Connector`] seam, for fast tests of the engine's decisions and of
//! apply's cleanup. It understands the few commands rdplay sends (the helper's probe and renew modes,
//! `mktemp`, the clean-up) and keeps each PC's accounts and work directories, so a test can assert
//! what a run left behind. Test builds only; the lab tests run the real thing.

use super::{Connection, Connector, RemoteOutput, SshError, Streamed};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A local account on a fake PC.
#[derive(Debug, Clone)]
pub struct Account {
    pub uid: u32,
    pub processes: u32,
    /// Its login shell.
    pub shell: String,
}

/// A file outside the homes, by owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub uid: u32,
    pub bytes: u64,
}

/// A fake PC.
#[derive(Debug, Clone)]
pub struct Pc {
    pub hostname: String,
    pub host_key: String,
    pub accounts: BTreeMap<String, Account>,
    /// Files outside the homes (what the helper's leftover walk finds by uid).
    pub files: Vec<File>,
    /// How big the helper's archive of an account is (at least a header naming it and its files).
    pub archive_bytes: u64,
    /// Work directories that exist.
    pub workdirs: BTreeSet<String>,
    /// Commands (by their `what`) that fail on this PC.
    pub fail: BTreeSet<String>,
    /// Whether first contact with the admin password works.
    pub admin_ok: bool,
    /// The login shells installed, each with whether /etc/shells lists it.
    pub shells: BTreeMap<String, bool>,
}

impl Pc {
    /// A PC with root and a human account, reachable by first contact; /bin/bash and /bin/sh are
    /// installed and listed in its /etc/shells.
    pub fn new(hostname: &str) -> Pc {
        let mut accounts = BTreeMap::new();
        accounts.insert(
            "root".to_string(),
            Account {
                uid: 0,
                processes: 3,
                shell: "/bin/bash".into(),
            },
        );
        accounts.insert(
            "alice".to_string(),
            Account {
                uid: 1000,
                processes: 0,
                shell: "/bin/bash".into(),
            },
        );
        Pc {
            hostname: hostname.to_string(),
            host_key: format!("ssh-ed25519 KEY-{hostname}"),
            accounts,
            files: Vec::new(),
            archive_bytes: 0,
            workdirs: BTreeSet::new(),
            fail: BTreeSet::new(),
            admin_ok: true,
            shells: [("/bin/bash", true), ("/bin/sh", true)]
                .into_iter()
                .map(|(path, listed)| (path.to_string(), listed))
                .collect(),
        }
    }
}

/// The fleet: PCs by address, and how many connections are open.
#[derive(Default)]
pub struct Fleet {
    pub pcs: Mutex<HashMap<Ipv4Addr, Pc>>,
    pub open: Mutex<usize>,
}

impl Fleet {
    /// A copy of the PC at `ip`.
    pub fn pc(&self, ip: Ipv4Addr) -> Pc {
        self.pcs.lock().expect("fleet lock")[&ip].clone()
    }

    /// Changes the PC at `ip`.
    pub fn with(&self, ip: Ipv4Addr, change: impl FnOnce(&mut Pc)) {
        change(
            self.pcs
                .lock()
                .expect("fleet lock")
                .get_mut(&ip)
                .expect("a PC"),
        );
    }

    /// Connections not closed.
    pub fn open_connections(&self) -> usize {
        *self.open.lock().expect("open lock")
    }
}

/// Reaches the fake fleet.
#[derive(Clone)]
pub struct Fake(pub Arc<Fleet>);

fn remote(ip: Ipv4Addr, what: &str) -> SshError {
    SshError::Remote {
        ip,
        what: what.to_string(),
        detail: "injected failure".into(),
    }
}

impl Connector for Fake {
    type Conn = FakeConn;

    async fn first_contact(&self, ip: Ipv4Addr, _timeout: Duration) -> Result<String, SshError> {
        let pcs = self.0.pcs.lock().expect("fleet lock");
        match pcs.get(&ip) {
            Some(pc) if pc.admin_ok => Ok(pc.host_key.clone()),
            Some(_) => Err(SshError::Auth {
                ip,
                user: "tech".into(),
                detail: "Permission denied".into(),
            }),
            None => Err(SshError::Connect {
                ip,
                detail: "no route".into(),
            }),
        }
    }

    async fn password_login(
        &self,
        ip: Ipv4Addr,
        _host_keys: &str,
        user: &str,
        _password: &crate::secret::Secret,
        _timeout: Duration,
    ) -> Result<crate::ssh::Login, SshError> {
        let pcs = self.0.pcs.lock().expect("fleet lock");
        match pcs.get(&ip) {
            Some(pc) if pc.fail.contains("login") => Err(SshError::Auth {
                ip,
                user: user.into(),
                detail: "the new password does not log in (Permission denied)".into(),
            }),
            Some(pc) if pc.accounts.contains_key(user) => Ok(crate::ssh::Login::LoggedIn),
            _ => Err(SshError::Auth {
                ip,
                user: user.into(),
                detail: "no such account".into(),
            }),
        }
    }

    async fn connect(&self, ip: Ipv4Addr, host_keys: &str) -> Result<FakeConn, SshError> {
        let pcs = self.0.pcs.lock().expect("fleet lock");
        let pc = pcs.get(&ip).ok_or(SshError::Connect {
            ip,
            detail: "no route".into(),
        })?;
        if pc.host_key != host_keys {
            return Err(SshError::HostKeyChanged { ip });
        }
        if pc.fail.contains("connect") {
            return Err(remote(ip, "connect"));
        }
        *self.0.open.lock().expect("open lock") += 1;
        Ok(FakeConn {
            ip,
            fleet: Arc::clone(&self.0),
        })
    }
}

/// An open fake connection.
pub struct FakeConn {
    ip: Ipv4Addr,
    fleet: Arc<Fleet>,
}

/// `key=value` lines.
fn params(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ok(stdout: String) -> RemoteOutput {
    RemoteOutput {
        code: Some(0),
        stdout: stdout.into_bytes(),
        stderr: Vec::new(),
    }
}

impl FakeConn {
    fn answer(&self, pc: &mut Pc, what: &str, args: &[&str], stdin: &[u8]) -> RemoteOutput {
        let stdin = String::from_utf8_lossy(stdin);
        match what {
            "mktemp" => {
                let dir = format!("/tmp/rdplay.FAKE{:04}", pc.workdirs.len() + 1);
                pc.workdirs.insert(dir.clone());
                ok(format!("{dir}\n"))
            }
            "hashcheck" => ok(String::new()),
            "cleanup" => {
                if let Some(dir) = args.last() {
                    pc.workdirs.remove(*dir);
                }
                ok(String::new())
            }
            "probe" => {
                let quoted = stdin
                    .strip_prefix("RDPLAY_PARAMS='")
                    .and_then(|rest| rest.split('\'').next())
                    .unwrap_or("");
                let p = params(quoted);
                let take = |key: &str| -> Vec<String> {
                    p.iter()
                        .filter(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .collect()
                };
                let names = take("delete");
                let present = self.present(pc, &names);
                let shells: Vec<serde_json::Value> = take("shell")
                    .iter()
                    .map(|path| {
                        let listed = pc.shells.get(path);
                        json!({"path": path, "exists": listed.is_some(),
                               "listed": listed.copied().unwrap_or(false)})
                    })
                    .collect();
                let mut report = self.report(pc, "probe", &names, present, &[], &[], None);
                report["shells"] = json!(shells);
                ok(report.to_string())
            }
            _ => {
                // The helper, in renew mode: parameters on stdin; it removes its work directory.
                if let Some(dir) = args.get(1).and_then(|s| s.split("rm -rf ").nth(1)) {
                    pc.workdirs
                        .remove(dir.split(';').next().unwrap_or("").trim());
                }
                let p = params(&stdin);
                let take = |key: &str| -> Vec<String> {
                    p.iter()
                        .filter(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .collect()
                };
                let names: Vec<String> = take("delete").into_iter().chain(take("adopt")).collect();
                let present = self.present(pc, &names);
                // The helper's uid: above min_uid and every uid the PC shows, read before deleting.
                let min_uid = take("min_uid")
                    .pop()
                    .and_then(|m| m.parse::<u32>().ok())
                    .unwrap_or(0);
                let new_uid = pc
                    .accounts
                    .values()
                    .map(|a| a.uid)
                    .filter(|u| (1000..60000).contains(u))
                    .map(|u| u + 1)
                    .chain([min_uid, 1000])
                    .max()
                    .unwrap_or(1000);
                let (mut deleted, mut absent) = (Vec::new(), Vec::new());
                for name in &names {
                    match pc.accounts.get(name) {
                        Some(a) if a.uid >= 1000 => {
                            let uid = a.uid;
                            pc.files.retain(|f| f.uid != uid);
                            pc.accounts.remove(name);
                            deleted.push(name.clone());
                        }
                        Some(_) => {
                            return RemoteOutput {
                                code: Some(3),
                                stdout: Vec::new(),
                                stderr: format!(
                                    "rdplay-helper: refused: {name} is a system account\n"
                                )
                                .into_bytes(),
                            };
                        }
                        None => absent.push(name.clone()),
                    }
                }
                let shell = take("shell").pop().unwrap_or_default();
                if !pc.shells.contains_key(&shell) {
                    return RemoteOutput {
                        code: Some(3),
                        stdout: Vec::new(),
                        stderr: format!(
                            "rdplay-helper: refused: the login shell {shell} does not exist on this PC\n"
                        )
                        .into_bytes(),
                    };
                }
                let created = take("create").pop();
                if let Some(name) = &created {
                    pc.accounts.insert(
                        name.clone(),
                        Account {
                            uid: new_uid,
                            processes: 0,
                            shell: shell.clone(),
                        },
                    );
                }
                let created = created.map(|name| (name, new_uid));
                let mut report = self.report(pc, "renew", &[], present, &deleted, &absent, created);
                report["created_shell"] = json!(shell);
                ok(report.to_string())
            }
        }
    }

    fn present(&self, pc: &Pc, names: &[String]) -> Vec<serde_json::Value> {
        names
            .iter()
            .filter_map(|n| {
                pc.accounts.get(n).map(|a| {
                    let mine = pc.files.iter().filter(|f| f.uid == a.uid);
                    json!({"name": n, "home": format!("/home/{n}"), "processes": a.processes,
                           "leftover_files": mine.clone().count(),
                           "leftover_bytes": mine.map(|f| f.bytes).sum::<u64>()})
                })
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        pc: &Pc,
        mode: &str,
        probe_names: &[String],
        present: Vec<serde_json::Value>,
        deleted: &[String],
        absent: &[String],
        created: Option<(String, u32)>,
    ) -> serde_json::Value {
        let absent: Vec<String> = if mode == "probe" {
            probe_names
                .iter()
                .filter(|n| !pc.accounts.contains_key(*n))
                .cloned()
                .collect()
        } else {
            absent.to_vec()
        };
        let local: Vec<&String> = pc
            .accounts
            .iter()
            .filter(|(_, a)| (1000..60000).contains(&a.uid))
            .map(|(n, _)| n)
            .collect();
        json!({
            "mode": mode,
            "deleted": deleted,
            "absent": absent,
            "present": present,
            "created": created.as_ref().map(|(name, _)| name),
            "created_uid": created.map(|(_, uid)| uid),
            "local": local,
            "walk": ["/"],
            "tools": {"accounts": "shadow", "systemd": false},
            "facts": {"hostname": pc.hostname, "os": null, "kernel": null, "arch": null,
                      "cpu_model": null, "cpu_cores": null, "memory_kib": null, "dmi_vendor": null,
                      "dmi_model": null, "dmi_serial": null, "uptime_seconds": null, "logged_in": []},
        })
    }
}

impl Connection for FakeConn {
    async fn run(
        &self,
        what: &str,
        _program: &str,
        args: &[&str],
        stdin: &[u8],
        _stdout_cap: usize,
        _timeout: Duration,
    ) -> Result<RemoteOutput, SshError> {
        let mut pcs = self.fleet.pcs.lock().expect("fleet lock");
        let pc = pcs.get_mut(&self.ip).ok_or(SshError::Connect {
            ip: self.ip,
            detail: "gone".into(),
        })?;
        if pc.fail.contains(what) {
            return Err(remote(self.ip, what));
        }
        Ok(self.answer(pc, what, args, stdin))
    }

    async fn stream_to_file(
        &self,
        what: &str,
        _program: &str,
        _args: &[&str],
        stdin: &[u8],
        file: &std::path::Path,
        cap: u64,
        _timeout: Duration,
    ) -> Result<Streamed, SshError> {
        use sha2::Digest;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // The helper's archive mode: a "tar" of the one account named, its home and its files.
        let content = {
            let pcs = self.fleet.pcs.lock().expect("fleet lock");
            let pc = pcs.get(&self.ip).ok_or(SshError::Connect {
                ip: self.ip,
                detail: "gone".into(),
            })?;
            if pc.fail.contains(what) {
                return Err(remote(self.ip, what));
            }
            let stdin = String::from_utf8_lossy(stdin);
            let name = params(&stdin)
                .into_iter()
                .find(|(k, _)| k == "delete" || k == "adopt")
                .map(|(_, v)| v)
                .unwrap_or_default();
            let Some(account) = pc.accounts.get(&name) else {
                return Ok(Streamed {
                    code: Some(3),
                    bytes: 0,
                    sha256: String::new(),
                    over_cap: false,
                    stderr: b"rdplay-helper: refused: nothing to archive\n".to_vec(),
                });
            };
            let mut content = format!("fake tar of /home/{name}\n");
            for f in pc.files.iter().filter(|f| f.uid == account.uid) {
                content.push_str(&format!("{}\n", f.path));
            }
            let mut content = content.into_bytes();
            let size = usize::try_from(pc.archive_bytes).unwrap_or(usize::MAX);
            if content.len() < size {
                content.resize(size, 0);
            }
            content
        };
        let keep = content
            .len()
            .min(usize::try_from(cap).unwrap_or(usize::MAX));
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map_err(|source| SshError::Local {
                what: "creating the archive".into(),
                source,
            })?;
        out.write_all(&content[..keep])
            .map_err(|source| SshError::Local {
                what: "writing the archive".into(),
                source,
            })?;
        Ok(Streamed {
            code: (keep == content.len()).then_some(0),
            bytes: keep as u64,
            sha256: sha2::Sha256::digest(&content[..keep])
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            over_cap: keep < content.len(),
            stderr: Vec::new(),
        })
    }

    async fn prepare_upload(&self, _timeout: Duration) -> Result<(), SshError> {
        Ok(())
    }

    async fn upload(&self, path: &str, _bytes: &[u8], _timeout: Duration) -> Result<(), SshError> {
        let pcs = self.fleet.pcs.lock().expect("fleet lock");
        let pc = &pcs[&self.ip];
        if pc.fail.contains("upload") {
            return Err(remote(self.ip, "sftp upload"));
        }
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        if !pc.workdirs.contains(dir) {
            return Err(remote(self.ip, "sftp upload into a missing directory"));
        }
        Ok(())
    }

    fn as_root(&self) -> &'static [&'static str] {
        &[]
    }

    async fn close(self) {
        *self.fleet.open.lock().expect("open lock") -= 1;
    }
}
