//! `account`: the account to create. Its shell (one path, or a preference list) and home base
//! (absolute paths on the PCs), its groups, the regular expression of old accounts to adopt, the
//! archive of old homes; and the naming pattern, rendered for every address of the fleet to prove
//! each name valid and unique.

use super::{Checker, resolve};
use crate::playbook::account::{
    Account, Archive, FleetCheck, LoginShell, PATTERN_VARIABLES, PatternError, check_fleet,
};
use crate::playbook::raw::{RawArchive, RawPlaybook, RawShell};
use crate::playbook::size::{SIZE_HELP, parse_size};
use std::path::{Path, PathBuf};

impl Checker<'_> {
    pub(super) fn account(&mut self, raw: &RawPlaybook, state_dir: &Path) -> Account {
        let a = &raw.account;
        let shell = self.shell(&a.shell);
        self.absolute_unix("account.home_base", &a.home_base);
        for (i, group) in a.groups.iter().enumerate() {
            self.name(&format!("account.groups[{i}]"), group, "group name");
        }
        if let Some(adopt) = &a.adopt
            && let Err(e) = regex::Regex::new(&format!("^(?:{adopt})$"))
        {
            let first = e.to_string().lines().last().unwrap_or_default().to_string();
            self.problem(
                "account.adopt",
                format!("account.adopt is not a valid regular expression: {first}"),
                None,
            );
        }
        let archive = a.archive.as_ref().map(|r| self.archive(r, state_dir));
        Account {
            pattern: a.pattern.clone(),
            shell,
            groups: a.groups.clone(),
            home_base: PathBuf::from(&a.home_base),
            adopt: a.adopt.clone(),
            verify_login: a.verify_login,
            archive,
        }
    }

    /// `account.shell`: one absolute path, or a non-empty list of them without repeats. A path
    /// goes to the PC's helper on a line of its own and into /etc/passwd, so it holds no `:`, no
    /// white space and no control character.
    fn shell(&mut self, raw: &RawShell) -> LoginShell {
        let paths: Vec<(String, &String)> = match raw {
            RawShell::One(path) => vec![("account.shell".into(), path)],
            RawShell::Prefer(paths) => paths
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("account.shell[{i}]"), p))
                .collect(),
        };
        if paths.is_empty() {
            self.problem(
                "account.shell",
                "account.shell: the list of login shells is empty",
                Some("list one or more, the preferred first, e.g. `[/bin/bash, /bin/sh]`".into()),
            );
        }
        for (i, (at, path)) in paths.iter().enumerate() {
            self.absolute_unix(at, path);
            if path
                .chars()
                .any(|c| c == ':' || c.is_whitespace() || c.is_control())
            {
                self.problem(
                    at,
                    format!(
                        "{at}: `{}` is not a login shell's path",
                        path.escape_debug()
                    ),
                    Some(
                        "a path without `:`, spaces or control characters, e.g. `/bin/bash`".into(),
                    ),
                );
            }
            if paths[..i].iter().any(|(_, p)| p == path) {
                self.problem(at, format!("{at}: {path} is listed twice"), None);
            }
        }
        match raw {
            RawShell::One(path) => LoginShell::Path(path.clone()),
            RawShell::Prefer(paths) => LoginShell::Prefer(paths.clone()),
        }
    }

    /// `account.archive`: where old homes are archived (default `<state_dir>/archives`), how
    /// large one may be and how many are kept.
    fn archive(&mut self, r: &RawArchive, state_dir: &Path) -> Archive {
        let max_size = match parse_size(&r.max_size) {
            Ok(n) if n > 0 => n,
            Ok(_) => {
                self.problem(
                    "account.archive.max_size",
                    "account.archive.max_size must be more than 0",
                    Some(SIZE_HELP.into()),
                );
                1
            }
            Err(e) => {
                self.problem(
                    "account.archive.max_size",
                    format!("account.archive.max_size: {e}"),
                    Some(SIZE_HELP.into()),
                );
                1
            }
        };
        if r.keep == 0 {
            self.problem(
                "account.archive.keep",
                "account.archive.keep must be at least 1",
                Some("how many archives to keep per PC, e.g. `3`".into()),
            );
        }
        Archive {
            dir: r
                .dir
                .as_ref()
                .map_or_else(|| state_dir.join("archives"), |p| resolve(self.dir, p)),
            max_size,
            keep: r.keep.max(1),
            on_failure: r.on_failure,
        }
    }

    /// Checks the naming pattern over the fleet; returns an example name.
    pub(super) fn pattern(
        &mut self,
        account: &Account,
        site: &str,
        addresses: &[std::net::Ipv4Addr],
    ) -> String {
        match check_fleet(account, site, addresses) {
            FleetCheck::Unique { example } => example,
            FleetCheck::Invalid(e) => {
                self.pattern_problem("account.pattern", "account.pattern", &e, &[]);
                String::new()
            }
            FleetCheck::NotUnique { message, help } => {
                self.problem(
                    "account.pattern",
                    format!("account.pattern: {message}"),
                    Some(help),
                );
                String::new()
            }
        }
    }

    pub(super) fn pattern_problem(
        &mut self,
        path: &str,
        what: &str,
        e: &PatternError,
        extra: &[&str],
    ) {
        let help = match e {
            PatternError::UnknownVariable { suggestion: Some(s), .. } => Some(format!("did you mean `{s}`?")),
            PatternError::UnknownVariable { .. } => {
                let mut vars: Vec<&str> = PATTERN_VARIABLES.to_vec();
                vars.extend(extra);
                Some(format!("the variables are: {}", vars.join(", ")))
            }
            PatternError::InvalidName { .. } => Some(
                "user names are 1 to 32 letters, digits, `_`, `.` or `-`, beginning with a letter or `_`".into(),
            ),
            PatternError::Render(_) => Some("see docs/PLAYBOOK.md, \"Naming pattern\"".into()),
        };
        self.problem(path, format!("{what}: {e}"), help);
    }
}
