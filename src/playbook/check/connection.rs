//! `connection`: how rdplay's SSH connections behave. The login user, key and known_hosts
//! (default under the state directory), timeouts, forks and the key exchange methods offered.

use super::{Checker, resolve};
use crate::playbook::raw::RawPlaybook;
use crate::playbook::sections::Connection;
use std::path::Path;

impl Checker<'_> {
    pub(super) fn connection(&mut self, raw: &RawPlaybook, state_dir: &Path) -> Connection {
        let c = &raw.connection;
        self.name("connection.user", &c.user, "user name");
        if !(1..=1024).contains(&c.forks) {
            self.problem(
                "connection.forks",
                format!("connection.forks: {} is out of range", c.forks),
                Some("use 1 to 1024 (default 50)".into()),
            );
        }
        let kex = c.kex_algorithms.clone().unwrap_or_default();
        if c.kex_algorithms.as_ref().is_some_and(Vec::is_empty) {
            self.problem(
                "connection.kex_algorithms",
                "connection.kex_algorithms: the list is empty",
                Some("leave it out for OpenSSH's default, or name at least one method (`ssh -Q kex` lists them)".into()),
            );
        }
        for (i, name) in kex.iter().enumerate() {
            if !valid_kex_name(name) {
                self.problem(
                    &format!("connection.kex_algorithms[{i}]"),
                    format!("connection.kex_algorithms: `{name}` is not a key exchange method's name"),
                    Some("`ssh -Q kex` lists the methods this OpenSSH knows, e.g. `curve25519-sha256`".into()),
                );
            }
        }
        Connection {
            user: c.user.clone(),
            identity: c
                .identity
                .as_ref()
                .map_or_else(|| state_dir.join("id_ed25519"), |p| resolve(self.dir, p)),
            known_hosts: c
                .known_hosts
                .as_ref()
                .map_or_else(|| state_dir.join("known_hosts"), |p| resolve(self.dir, p)),
            connect_timeout: self.duration("connection.connect_timeout", &c.connect_timeout, 5),
            step_timeout: self.duration("connection.step_timeout", &c.step_timeout, 120),
            forks: c.forks,
            control_persist: self.duration("connection.control_persist", &c.control_persist, 60),
            ssh_config: c.ssh_config,
            kex_algorithms: kex,
        }
    }
}

/// A name OpenSSH could know as a key exchange method: lowercase letters, digits, `-`, `.`, `@`
/// (checked against the local `ssh -Q kex` when a run starts).
fn valid_kex_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.@".contains(&b))
}
