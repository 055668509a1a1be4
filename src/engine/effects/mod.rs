//! Effects: what follows a PC's renewal once the PC reported success and the inventory recorded it —
//! the sheets today; printing and password escrow are the same kind of thing. Each effect is one file
//! implementing [`Effect`]; the engine runs them in order for every renewed PC and reports each one's
//! outcome. Adding one touches neither the planner nor the driver: build it in `commands::run` and
//! put it in the list.

pub mod escrow;
pub mod print;
pub mod sheets;

use crate::facts::Facts;
use crate::playbook::NameVars;
use crate::secret::Secret;
use crate::tasks::StepError;
use crate::tasks::scan::Reachable;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// A renewed PC, as effects see it. Holds the new password: effects must never log it.
pub struct Renewed<'a> {
    pub pc: &'a Reachable,
    pub request: &'a str,
    pub username: &'a str,
    pub password: &'a Secret,
    /// The account's login shell (the plan's choice, as the PC reported it).
    pub shell: &'a str,
    pub facts: &'a Facts,
    /// The naming variables the account's name was drawn with.
    pub vars: &'a NameVars,
    /// The accounts the renewal removed (deleted, or recorded and already absent).
    pub gone: &'a [String],
}

/// What an effect did for one PC.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub effect: &'static str,
    /// The files it wrote.
    pub files: Vec<PathBuf>,
}

/// A boxed future, so effects can be kept in one list.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One post-renewal effect.
pub trait Effect: Send + Sync {
    /// Its name, in logs and outcomes.
    fn name(&self) -> &'static str;

    /// Does its work for one renewed PC. A failure fails the PC at the effect's step; the account
    /// stays `pending` in the inventory, so the next run renews it again.
    fn apply<'a>(&'a self, pc: &'a Renewed<'a>) -> BoxFuture<'a, Result<Done, StepError>>;

    /// Once at the end of the run (batch files, a print job...): what it wrote, or why it could not.
    fn finish(&self) -> BoxFuture<'_, Result<Vec<PathBuf>, String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
