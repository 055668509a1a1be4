//! Starting local programs. Every program rdplay starts — `ssh` (and, through it, the askpass helper
//! and any `ProxyCommand`), `ssh-keygen`, `lp`, `xdg-open` — is built here, by [`command`],
//! [`async_command`] or [`async_command_keeping`], so that none inherits an environment variable
//! holding a secret: the variables named by the playbook's `{ env: NAME }` password sources are
//! [`withhold`]n from every child.
//!
//! rdplay does not remove them from its own environment instead: `std::env::remove_var` is unsafe
//! while another thread may read the environment, and their names are known only once the playbook
//! is loaded, which library callers and tests do from any thread. Each child's environment is built
//! without them, and the test `every_local_program_is_started_here` fails when a program is started
//! anywhere else in `src/`.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::sync::{Mutex, PoisonError};

/// The names of the environment variables no child may inherit.
static WITHHELD: Mutex<BTreeSet<OsString>> = Mutex::new(BTreeSet::new());

/// Keeps the environment variable `name` out of every child started from now on (its value stays in
/// rdplay's own environment, for rdplay to read).
pub fn withhold(name: &str) {
    withheld().insert(name.into());
}

/// `program`, to be given its arguments and started, with none of the withheld variables.
pub fn command(program: impl AsRef<OsStr>) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    for name in withheld().iter() {
        command.env_remove(name);
    }
    command
}

/// [`command`], to be started and awaited on tokio.
pub fn async_command(program: impl AsRef<OsStr>) -> tokio::process::Command {
    command(program).into()
}

/// [`async_command`] with only the variables of `keep` taken from rdplay's environment (those that
/// are set, and never a withheld one).
pub fn async_command_keeping(program: impl AsRef<OsStr>, keep: &[&str]) -> tokio::process::Command {
    let mut command = std::process::Command::new(program);
    command.env_clear();
    let withheld = withheld();
    for name in keep {
        if let Some(value) = std::env::var_os(name)
            && !withheld.contains(OsStr::new(name))
        {
            command.env(name, value);
        }
    }
    command.into()
}

/// The withheld names (a panic elsewhere while they were held leaves them usable).
fn withheld() -> std::sync::MutexGuard<'static, BTreeSet<OsString>> {
    WITHHELD.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The environment changes a command carries, by name: `None` for a removed variable.
    fn changes(command: &std::process::Command) -> Vec<(String, Option<String>)> {
        command
            .get_envs()
            .map(|(k, v)| {
                let text = |s: &OsStr| s.to_string_lossy().into_owned();
                (text(k), v.map(text))
            })
            .collect()
    }

    #[test]
    fn a_withheld_variable_is_removed_from_every_child() {
        withhold("RDPLAY_TEST_CHILD_SECRET");
        let removed = ("RDPLAY_TEST_CHILD_SECRET".to_string(), None);
        assert!(changes(&command("ssh")).contains(&removed));
        assert!(changes(async_command("ssh").as_std()).contains(&removed));
    }

    #[test]
    fn keeping_takes_only_the_listed_variables_and_never_a_withheld_one() {
        // Cargo sets both for the tests it runs; the withheld one is listed, and still left out.
        let (kept, withheld) = ("CARGO_PKG_NAME", "CARGO_MANIFEST_DIR");
        assert!(
            std::env::var_os(kept).is_some() && std::env::var_os(withheld).is_some(),
            "run through `cargo test`: it sets {kept} and {withheld}"
        );
        withhold(withheld);
        let lp = async_command_keeping("lp", &[kept, withheld, "RDPLAY_TEST_SURELY_UNSET"]);
        let names: Vec<_> = changes(lp.as_std()).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, [kept]);
    }

    /// Every local program is started through this module: a `Command::new` (std or tokio) or an
    /// `openssh` session builder anywhere else in `src/` would start a child that inherits the
    /// withheld variables.
    #[test]
    fn every_local_program_is_started_here() {
        fn walk(dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("src/child.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("a source file is text");
                    for (n, line) in text.lines().enumerate() {
                        if ["Command::new(", "SessionBuilder", "Session::connect"]
                            .iter()
                            .any(|p| line.contains(p))
                        {
                            found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "start local programs with crate::child::command (or async_command):\n{}",
            found.join("\n")
        );
    }
}
