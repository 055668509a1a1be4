//! Where a password comes from, for `exchange.password` and `inventory.password`: a file that
//! exists, the *name* of an environment variable (never the password itself), or the terminal.

use super::{Checker, resolve};
use crate::playbook::password_source::{PasswordSource, is_env_name};
use crate::playbook::raw::RawPasswordSource;

impl Checker<'_> {
    /// A password source: a file that exists, or the *name* of an environment variable (withheld
    /// from every child rdplay starts, [`crate::child::withhold`]).
    pub(super) fn password_source(
        &mut self,
        at: &str,
        raw: &RawPasswordSource,
        what: &str,
        example_env: &str,
    ) -> PasswordSource {
        match raw {
            RawPasswordSource::File(p) => {
                let file = resolve(self.dir, p);
                self.existing_file(&format!("{at}.file"), &file, what);
                PasswordSource::File(file)
            }
            RawPasswordSource::Env(name) => {
                if !is_env_name(name) {
                    // Never echo the value, nor its line: it may be the password itself.
                    let mut d = self.source.at_value(
                        &format!("{at}.env"),
                        format!(
                            "{at}.env must be the *name* of an environment variable \
                             (letters, digits and `_`)"
                        ),
                        Some(format!("e.g. `env: {example_env}`; never put the password itself in the playbook")),
                    );
                    d.line_text = None;
                    self.problems.push(d);
                } else {
                    // From now on no program rdplay starts inherits it (ssh, its askpass and
                    // ProxyCommand, ssh-keygen, lp).
                    crate::child::withhold(name);
                }
                PasswordSource::Env(name.clone())
            }
            RawPasswordSource::Prompt => PasswordSource::Prompt,
        }
    }
}
