//! `inventory`: where the inventory lives. A SQLite file (`path`, default
//! `<state_dir>/inventory.db`), or a shared PostgreSQL database (`url`) with its password's
//! source, TLS and CA; the keys that only PostgreSQL takes are refused without a `url`.

use super::{Checker, resolve};
use crate::playbook::password_source::PasswordSource;
use crate::playbook::raw::{RawInventory, RawPasswordSource, TlsMode};
use crate::playbook::sections::{InventoryConfig, Postgres, PostgresUrl, parse_postgres_url};
use std::path::Path;

impl Checker<'_> {
    pub(super) fn inventory(&mut self, raw: &RawInventory, state_dir: &Path) -> InventoryConfig {
        InventoryConfig {
            path: raw
                .path
                .as_ref()
                .map_or_else(|| state_dir.join("inventory.db"), |p| resolve(self.dir, p)),
            history: raw.history.max(1),
            fail_on: raw.fail_on,
            postgres: self.postgres(raw),
        }
    }

    /// `inventory.url` and what goes with it: a PostgreSQL URL without a password, its password's
    /// source (file or environment, never the terminal: a run may have none), TLS and its CA.
    fn postgres(&mut self, raw: &RawInventory) -> Option<Postgres> {
        let Some(url) = &raw.url else {
            self.without_url(raw);
            return None;
        };
        if raw.path.is_some() {
            self.problem(
                "inventory.path",
                "inventory.path and inventory.url both name an inventory",
                Some(
                    "keep `url` for the shared PostgreSQL inventory, `path` for a SQLite file"
                        .into(),
                ),
            );
        }
        let parsed = self.url(url);
        let password = raw.password.as_ref().map(|p| self.database_password(p));
        let ca = self.optional_file("inventory.ca", raw.ca.as_deref(), "CA certificate");
        let on_socket = parsed.as_ref().is_some_and(|p| p.on_socket);
        let tls = self.tls(raw.tls, on_socket);
        Some(Postgres {
            url: url.clone(),
            password,
            tls,
            ca,
        })
    }

    /// Without a `url`, the keys only PostgreSQL takes are mistakes.
    fn without_url(&mut self, raw: &RawInventory) {
        for (set, key) in [
            (raw.password.is_some(), "password"),
            (raw.tls.is_some(), "tls"),
            (raw.ca.is_some(), "ca"),
        ] {
            if set {
                self.problem(
                    &format!("inventory.{key}"),
                    format!("inventory.{key} is for a PostgreSQL inventory, and no `inventory.url` names one"),
                    Some("add `url: postgres://USER@HOST/DATABASE`, or remove this key".into()),
                );
            }
        }
    }

    fn url(&mut self, url: &str) -> Option<PostgresUrl> {
        match parse_postgres_url(url) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                // The line is not shown: a mistyped URL may hold a password.
                let mut d = self.source.at_value(
                    "inventory.url",
                    format!("inventory.url: {message}"),
                    Some("e.g. `url: postgres://rdplay@db.example/rdplay`; the password goes in `inventory.password`".into()),
                );
                d.line_text = None;
                self.problems.push(d);
                None
            }
        }
    }

    /// The database's password comes from a file or the environment: a run may have no terminal.
    fn database_password(&mut self, p: &RawPasswordSource) -> PasswordSource {
        if matches!(p, RawPasswordSource::Prompt) {
            self.problem(
                "inventory.password",
                "inventory.password cannot be `prompt`",
                Some("use `{ env: NAME }` or `{ file: PATH }`".into()),
            );
        }
        self.password_source(
            "inventory.password",
            p,
            "database password file",
            "RDPLAY_DB_PASSWORD",
        )
    }

    /// TLS as asked, by default `require`; a Unix socket takes none.
    fn tls(&mut self, tls: Option<TlsMode>, on_socket: bool) -> TlsMode {
        if on_socket && tls.is_some_and(|t| t != TlsMode::Disable) {
            self.problem(
                "inventory.tls",
                "inventory.tls: a Unix socket carries no TLS",
                Some("remove `tls` (or set `disable`) for a socket URL".into()),
            );
        }
        match tls {
            Some(tls) => tls,
            None if on_socket => TlsMode::Disable,
            None => TlsMode::Require,
        }
    }
}
