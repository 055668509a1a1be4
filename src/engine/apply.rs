//! Apply: carries out one PC's plan, and nothing else. It binds last what only exists while applying
//! — the request number, the account's name drawn from the pattern, the password — and goes through
//! the steps: first contact when the plan says so (then the plan is made again by the planner, from
//! the probe over the new connection), the upload, the journal's intent, the archive of each account
//! the plan archives (recorded before anything is deleted), the helper, the journal's record, then
//! every effect in order. The PC's connection is closed on one path, whatever happens.

use super::Engine;
use super::audit::Audit;
use super::effects::{Effect, Renewed};
use super::outcome::{Outcome, PcReport};
use super::plan::{Action, Adopt, PcPlan, Renew};
use super::scope::Target;
use crate::inventory::{Archived, PcOutcome, PcSeen, RunId, Store};
use crate::playbook::{ArchiveFailure, NameVars};
use crate::remote::{Connection, Connector};
use crate::secret::{Secret, hash_password};
use crate::tasks::exec::{Change, Report};
use crate::tasks::scan::Reachable;
use crate::tasks::{StepError, StepKind, archive, exchange, exec, sftp};
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a run adds to the engine: its number, the names taken, the effects, the audit log.
pub struct RunCtx {
    pub run: RunId,
    /// Usernames held fleet-wide (inventory) or drawn in this run.
    pub reserved: Mutex<HashSet<String>>,
    pub effects: Vec<Box<dyn Effect>>,
    pub audit: Audit,
}

/// A PC's way through the steps: tells the engine (and so the observer) and logs each step's time
/// (`step done`, debug).
struct Lap<'a, C: Connector, S: Store> {
    ip: std::net::Ipv4Addr,
    engine: &'a Engine<C, S>,
    current: Option<(StepKind, Instant)>,
}

impl<C: Connector, S: Store> Lap<'_, C, S> {
    fn enter(&mut self, step: StepKind) {
        if self.current.is_some_and(|(now, _)| now == step) {
            return;
        }
        self.done();
        self.current = Some((step, Instant::now()));
        self.engine.enter(self.ip, step);
    }

    fn done(&mut self) {
        if let Some((step, since)) = self.current.take() {
            let ms = since.elapsed().as_millis() as u64;
            tracing::debug!(ip = %self.ip, step = step.name(), ms, "step done");
        }
    }
}

/// Plans one PC, writes the plan to the audit log, applies it, and records how the PC ended.
pub async fn run_pc<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    target: Target,
) -> PcReport {
    let started = Instant::now();
    let (plan, conn) = engine.plan_pc(target.clone()).await;
    if let Err(e) = rc.audit.plan(&plan) {
        // Nothing is changed on a PC whose plan is not on record.
        return unrecorded(engine, rc, target, plan, conn, started, e).await;
    }
    let mut report = PcReport {
        hostname: plan.hostname.clone(),
        ..PcReport::new(
            target.ip,
            plan.mac.clone(),
            Outcome::Kept {
                reason: String::new(),
            },
        )
    };
    let ended = match settle(&plan, &mut report) {
        ControlFlow::Break(ended) => ended,
        ControlFlow::Continue(_) => apply(engine, rc, plan, target, conn, &mut report).await,
    };
    report.outcome = ended.unwrap_or_else(Outcome::Failed);
    report.duration = started.elapsed();
    finish(engine, rc, &report).await;
    report
}

/// How a PC whose plan changes nothing ends (its account kept, or failed where it is blocked); a
/// renewal goes on.
fn settle<'p>(
    plan: &'p PcPlan,
    report: &mut PcReport,
) -> ControlFlow<Result<Outcome, StepError>, &'p Renew> {
    match &plan.action {
        Action::Keep { account, reason } => {
            report.old = vec![account.clone()];
            ControlFlow::Break(Ok(Outcome::Kept {
                reason: reason.clone(),
            }))
        }
        Action::Blocked(b) => ControlFlow::Break(Err(b.failure())),
        Action::Renew(renew) => ControlFlow::Continue(renew),
    }
}

/// A PC whose plan could not be written to the audit log: failed before any change, at the step
/// its plan would have started with.
async fn unrecorded<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    target: Target,
    plan: PcPlan,
    conn: Option<C::Conn>,
    started: Instant,
    error: std::io::Error,
) -> PcReport {
    if let Some(conn) = conn {
        conn.close().await;
    }
    let step = match &plan.action {
        Action::Blocked(b) => b.step,
        Action::Renew(_) | Action::Keep { .. } => StepKind::Scan,
    };
    let mut report = PcReport::new(
        target.ip,
        plan.mac.clone(),
        Outcome::Failed(StepError::new(step, error.to_string())),
    );
    report.hostname = plan.hostname;
    report.duration = started.elapsed();
    finish(engine, rc, &report).await;
    report
}

/// Logs, journals and audits how a PC ended.
async fn finish<C: Connector, S: Store>(engine: &Engine<C, S>, rc: &RunCtx, r: &PcReport) {
    let (ip, mac) = (r.ip, r.mac.as_ref().map_or("?", |m| m.as_str()));
    let (old, new) = (r.old.join(","), r.new.as_deref().unwrap_or("-"));
    let request = r.request.as_deref().unwrap_or("-");
    let ms = r.duration.as_millis() as u64;
    let (ok, reason) = match &r.outcome {
        Outcome::Failed(e) => {
            tracing::error!(%ip, mac, old, new, request, ms, step = e.step.name(), reason = %crate::text::inert(&e.reason(), 300), "PC failed");
            (false, Some(e.reason()))
        }
        Outcome::Kept { reason } => {
            tracing::info!(%ip, mac, old, ms, kept = reason.as_str(), "PC kept");
            (true, None)
        }
        Outcome::Renewed { .. } => {
            tracing::info!(%ip, mac, old, new, request, ms, "PC done");
            (true, None)
        }
    };
    let recorded = engine
        .store
        .outcome(
            rc.run,
            PcOutcome {
                mac: r.mac.clone(),
                ip,
                step: r.outcome.step().name().to_string(),
                ok,
                reason,
                duration: r.duration,
            },
        )
        .await;
    if let Err(e) = recorded {
        tracing::error!(%ip, "could not record the outcome: {e}");
    }
    rc.audit.outcome(r);
    engine.finished(ip, ok);
}

/// Applies a renewal. Over the probe's connection; or, for a PC met for the first time, after first
/// contact, with the plan the planner makes again from the probe over the new connection (written to
/// the audit log too). The connection is closed here.
async fn apply<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    plan: PcPlan,
    target: Target,
    conn: Option<C::Conn>,
    report: &mut PcReport,
) -> Result<Outcome, StepError> {
    let Some(mac) = plan.mac.clone() else {
        return Err(StepError::new(StepKind::Scan, "no MAC"));
    };
    let pc = Reachable {
        ip: plan.ip,
        mac,
        index: target.index,
    };
    let mut lap = Lap {
        ip: pc.ip,
        engine,
        current: None,
    };
    lap.enter(StepKind::Exchange);
    let (plan, conn, first_contact) = match conn {
        Some(conn) => (plan, conn, false),
        None => {
            let conn = contact(engine, &pc, &mut lap).await?;
            let plan = engine.replan(target, &conn).await;
            rc.audit.replan(&plan);
            (plan, conn, true)
        }
    };
    let ended = match settle(&plan, report) {
        ControlFlow::Break(ended) => ended,
        ControlFlow::Continue(renew) if renew.first_contact.is_some() => Err(StepError::new(
            StepKind::Exchange,
            "first contact pinned no host key in the inventory",
        )),
        ControlFlow::Continue(renew) => {
            let applying = Applying {
                engine,
                rc,
                pc,
                conn: &conn,
                lap,
                report,
                first_contact,
                timeout: engine.planner.playbook().connection.step_timeout,
            };
            applying.renew(&plan, renew).await
        }
    };
    conn.close().await;
    ended
}

/// First contact (the key exchange pins the PC's host key), then a managed connection with that key.
async fn contact<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    pc: &Reachable,
    lap: &mut Lap<'_, C, S>,
) -> Result<C::Conn, StepError> {
    let timeout = engine.planner.playbook().connection.step_timeout;
    let host_keys = exchange::first_contact(
        &engine.connector,
        &engine.store,
        &engine.first_contacts,
        pc,
        timeout,
    )
    .await?;
    lap.enter(StepKind::Sftp);
    engine
        .connector
        .connect(pc.ip, &host_keys)
        .await
        .map_err(|e| StepError::caused(StepKind::Sftp, "", e))
}

/// One PC's renewal while it is applied over its connection: what its steps share.
struct Applying<'a, C: Connector, S: Store> {
    engine: &'a Engine<C, S>,
    rc: &'a RunCtx,
    pc: Reachable,
    conn: &'a C::Conn,
    lap: Lap<'a, C, S>,
    report: &'a mut PcReport,
    /// Whether first contact was made in this run.
    first_contact: bool,
    timeout: Duration,
}

/// What is drawn and journalled before exec changes anything on the PC.
struct Bound {
    request: String,
    change: Change,
    password: Secret,
    vars: NameVars,
}

impl<C: Connector, S: Store> Applying<'_, C, S> {
    /// The renewal: the PC seen, the helper uploaded, what is drawn journalled, the accounts archived,
    /// the helper run, the result journalled, verified and handed to the effects.
    async fn renew(mut self, plan: &PcPlan, renew: &Renew) -> Result<Outcome, StepError> {
        let hostname = plan.hostname.clone().unwrap_or_default();
        self.report.hostname = Some(hostname.clone());
        self.seen(&hostname).await?;
        self.lap.enter(StepKind::Sftp);
        let workdir = sftp::upload(self.conn, exec::HELPER, self.timeout).await?;
        let bound = match self.prepare(plan, renew, &hostname, &workdir).await {
            Ok(bound) => bound,
            Err(e) => {
                sftp::remove(self.conn, &workdir).await;
                return Err(e);
            }
        };
        self.lap.enter(StepKind::Exec);
        let done = exec::renew(self.conn, workdir, &bound.change, self.timeout).await?;
        self.report.leftovers = Some(done.leftovers());
        self.report.reported = Some(super::outcome::Reported::of(&done));
        self.record(&bound, &done).await?;
        self.effects(&bound, &done).await
    }

    /// Records the PC as seen with its name.
    async fn seen(&self, hostname: &str) -> Result<(), StepError> {
        self.engine
            .store
            .seen(PcSeen {
                mac: self.pc.mac.clone(),
                ip: self.pc.ip,
                hostname: Some(hostname.to_string()),
            })
            .await
            .map_err(|e| StepError::caused(StepKind::Inventory, "recording the PC", e))
    }

    /// Everything before exec: the values drawn, the intent journalled, the accounts archived.
    async fn prepare(
        &mut self,
        plan: &PcPlan,
        renew: &Renew,
        hostname: &str,
        workdir: &sftp::Workdir,
    ) -> Result<Bound, StepError> {
        let adopt = match &renew.adopt {
            Adopt::Off => Vec::new(),
            Adopt::Accounts(names) => names.clone(),
            Adopt::AfterFirstContact => {
                return Err(StepError::new(
                    StepKind::Exchange,
                    "the accounts to adopt were not listed after first contact",
                ));
            }
        };
        if !adopt.is_empty() {
            tracing::info!(ip = %self.pc.ip, ?adopt, "adopting accounts that match account.adopt");
        }
        let mut bound = self.bind(plan, renew, hostname, adopt).await?;
        self.intend(&mut bound).await?;
        self.archive(renew, workdir, &bound).await?;
        Ok(bound)
    }

    /// The values drawn while applying: a request number, the new account's name (from the plan's
    /// number), its password and hash; the accounts to delete and adopt and the login shell are the
    /// plan's.
    async fn bind(
        &mut self,
        plan: &PcPlan,
        renew: &Renew,
        hostname: &str,
        adopt: Vec<String>,
    ) -> Result<Bound, StepError> {
        let (engine, pc) = (self.engine, &self.pc);
        let number = plan.number.ok_or_else(|| {
            StepError::new(StepKind::Inventory, "the plan gives this PC no number")
        })?;
        let shell = renew.create.shell.clone().ok_or_else(|| {
            StepError::new(StepKind::Exec, "the plan chose no login shell for this PC")
        })?;
        let request = engine.store.next_request(self.rc.run).await.map_err(|e| {
            StepError::caused(StepKind::Inventory, "allocating a request number", e)
        })?;
        let vars = NameVars {
            site: engine.planner.playbook().site.clone(),
            number,
            index: pc.index,
            ip: pc.ip,
            hostname: hostname.to_string(),
            mac: pc.mac.to_string(),
            request: request.clone(),
            date: jiff::Zoned::now().date(),
        };
        let delete: Vec<String> = renew.delete.iter().map(|a| a.name.clone()).collect();
        let create = reserve_name(engine, self.rc, &vars, &delete)?;
        // Above every uid rdplay gave on this PC, so a uid is never given twice (the helper also goes
        // above every uid and gid the PC shows).
        let min_uid = engine
            .store
            .highest_uid(&pc.mac)
            .map_err(|e| {
                StepError::caused(StepKind::Inventory, "reading the uids given on the PC", e)
            })?
            .map(|uid| uid.saturating_add(1));
        let password = engine
            .planner
            .playbook()
            .password
            .try_generate()
            .map_err(|e| StepError::caused(StepKind::Exec, "generating a password", e))?;
        let hash = hash_password(&password)
            .map_err(|e| StepError::caused(StepKind::Exec, "hashing the password", e))?;
        let change = Change {
            delete,
            adopt,
            create,
            hash,
            shell,
            home_base: renew.create.home_base.clone(),
            groups: renew.create.groups.clone(),
            min_uid,
        };
        self.report.request = Some(request.clone());
        self.report.old = change.delete.iter().chain(&change.adopt).cloned().collect();
        self.report.new = Some(change.create.clone());
        Ok(Bound {
            request,
            change,
            password,
            vars,
        })
    }

    /// Journals the intent. In a shared inventory another site's controller may have recorded the name
    /// since the run read the fleet's names: the database refuses it, and another name is drawn.
    async fn intend(&mut self, bound: &mut Bound) -> Result<(), StepError> {
        let mut redraws = 0;
        loop {
            let intent = crate::tasks::inventory::intend(
                &self.engine.store,
                self.rc.run,
                &self.pc,
                &bound.request,
                &bound.change.create,
                &self.report.old,
                bound.vars.number,
            )
            .await;
            match intent {
                Err(e) if redraws < MAX_REDRAWS && name_taken(&e) => {
                    redraws += 1;
                    tracing::info!(ip = %self.pc.ip, name = %bound.change.create, "name taken meanwhile: drawing another");
                    let name =
                        reserve_name(self.engine, self.rc, &bound.vars, &bound.change.delete)?;
                    self.report.new = Some(name.clone());
                    bound.change.create = name;
                }
                other => return other,
            }
        }
    }

    /// With the plan's `archive`, every account it archives (recorded and on the PC, or adopted) is
    /// archived and recorded first: a failed archive stops the PC here, before exec deletes anything
    /// — or, with `on_failure: delete`, the account is deleted without it and the outcome says why.
    async fn archive(
        &mut self,
        renew: &Renew,
        workdir: &sftp::Workdir,
        bound: &Bound,
    ) -> Result<(), StepError> {
        let Some(rule) = &renew.archive else {
            return Ok(());
        };
        self.lap.enter(StepKind::Archive);
        let recorded = renew.delete.iter().filter(|a| a.archive);
        let accounts = recorded
            .map(|a| (&a.name, false))
            .chain(bound.change.adopt.iter().map(|name| (name, true)));
        for (account, adopted) in accounts {
            let (mac, timeout, started) = (&self.pc.mac, self.timeout, Instant::now());
            let fetched =
                archive::fetch(self.conn, workdir, mac, account, adopted, rule, timeout).await;
            match (fetched, rule.on_failure) {
                (Ok(fetched), _) => {
                    let ms = started.elapsed().as_millis() as u64;
                    tracing::info!(ip = %self.pc.ip, account, bytes = fetched.bytes, ms, path = %fetched.path.display(), "archived");
                    let path = self.archived(fetched, &bound.request, rule).await?;
                    self.report.archives.push(path);
                }
                (Err(e), ArchiveFailure::Delete) => {
                    let why = e.reason();
                    tracing::warn!(ip = %self.pc.ip, account, reason = %why, "deleting without archive (account.archive.on_failure: delete)");
                    self.report.unarchived.push(format!("{account}: {why}"));
                }
                (Err(e), ArchiveFailure::Keep) => {
                    return Err(StepError::new(
                        e.step,
                        format!("{}; nothing was deleted", e.reason()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Records an archive made, then applies the retention. An archive that cannot be recorded is
    /// removed and stops the PC, whatever `on_failure` says: the account stays, so the next run
    /// archives it again.
    async fn archived(
        &self,
        fetched: archive::Fetched,
        request: &str,
        rule: &crate::playbook::Archive,
    ) -> Result<std::path::PathBuf, StepError> {
        let (ip, mac) = (self.pc.ip, &self.pc.mac);
        let account = fetched.username.clone();
        let recorded = self
            .engine
            .store
            .archived(Archived {
                run: self.rc.run,
                mac: mac.clone(),
                username: fetched.username,
                request: request.to_string(),
                path: fetched.path.clone(),
                bytes: fetched.bytes,
                sha256: fetched.sha256,
            })
            .await;
        if let Err(e) = recorded {
            let _ = std::fs::remove_file(&fetched.path);
            return Err(StepError::caused(
                StepKind::Archive,
                format!("recording the archive of {account}; nothing was deleted"),
                e,
            ));
        }
        for problem in archive::prune(&self.engine.store, rule, mac).await {
            tracing::warn!(%ip, "archive retention: {problem}");
        }
        Ok(fetched.path)
    }

    /// Journals what exec did, then proves the new password when the playbook asks.
    async fn record(&mut self, bound: &Bound, done: &Report) -> Result<(), StepError> {
        self.lap.enter(StepKind::Inventory);
        let pb = self.engine.planner.playbook();
        let (store, run) = (&self.engine.store, self.rc.run);
        let history = pb.inventory.history;
        crate::tasks::inventory::record(store, run, &self.pc, done, &bound.request, history)
            .await?;
        self.report.hostname = Some(done.facts.hostname.clone());
        if pb.account.verify_login {
            let username = done.created.as_deref().unwrap_or_default();
            verify(
                self.engine,
                &self.pc,
                self.conn,
                username,
                &bound.password,
                &bound.change.hash,
            )
            .await?;
        }
        Ok(())
    }

    /// Runs every effect, in order, for the renewed PC.
    async fn effects(mut self, bound: &Bound, done: &Report) -> Result<Outcome, StepError> {
        self.lap.enter(StepKind::Render);
        let gone = crate::tasks::inventory::gone(done);
        let renewed = Renewed {
            pc: &self.pc,
            request: &bound.request,
            username: done.created.as_deref().unwrap_or_default(),
            password: &bound.password,
            shell: &bound.change.shell,
            facts: &done.facts,
            vars: &bound.vars,
            gone: &gone,
        };
        let mut files = Vec::new();
        for effect in &self.rc.effects {
            let did = effect.apply(&renewed).await?;
            tracing::debug!(ip = %self.pc.ip, effect = effect.name(), files = did.files.len(), "effect done");
            files.extend(did.files);
        }
        self.lap.done();
        Ok(Outcome::Renewed {
            first_contact: self.first_contact,
            files,
        })
    }
}

/// Proves the new password before any sheet is written: a password login as the new account, or,
/// where the PC allows none, a check of the stored hash on the PC. A failure fails the PC (its
/// account stays pending, renewed again next run).
async fn verify<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    pc: &Reachable,
    conn: &C::Conn,
    username: &str,
    password: &Secret,
    hash: &Secret,
) -> Result<(), StepError> {
    let timeout = engine.planner.playbook().connection.step_timeout;
    let host_keys = engine
        .store
        .pc(&pc.mac)
        .map_err(|e| StepError::caused(StepKind::Inventory, "reading the pinned host key", e))?
        .and_then(|r| r.host_key)
        .ok_or_else(|| StepError::new(StepKind::Exec, "no pinned host key to verify the login"))?;
    let login = engine
        .connector
        .password_login(pc.ip, &host_keys, username, password, timeout)
        .await
        .map_err(|e| StepError::caused(StepKind::Exec, "verifying the new password", e))?;
    match login {
        crate::ssh::Login::LoggedIn => Ok(()),
        crate::ssh::Login::NotOffered => exec::check_hash(conn, username, hash, timeout).await,
    }
}

/// How many times a name refused at the intent (taken meanwhile) is drawn again.
const MAX_REDRAWS: u32 = 5;

/// Whether a step failed because the inventory refused the new account's name as taken.
fn name_taken(e: &StepError) -> bool {
    e.cause.as_ref().is_some_and(|c| {
        matches!(
            c.downcast_ref::<crate::inventory::InventoryError>(),
            Some(crate::inventory::InventoryError::UsernameInUse { .. })
        )
    })
}

/// Renders the pattern until it gives a name no other PC holds (random parts are re-drawn); a pattern
/// that keeps colliding fails this PC before any change.
fn reserve_name<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    vars: &crate::playbook::NameVars,
    own: &[String],
) -> Result<String, StepError> {
    let mut last = String::new();
    for _ in 0..20 {
        let name = engine
            .planner
            .playbook()
            .account
            .username(vars)
            .map_err(|e| StepError::caused(StepKind::Exec, "naming pattern", e))?;
        let mut reserved = rc
            .reserved
            .lock()
            .map_err(|_| StepError::new(StepKind::Exec, "name reservation lock poisoned"))?;
        if !reserved.contains(&name) && !own.contains(&name) {
            reserved.insert(name.clone());
            return Ok(name);
        }
        last = name;
    }
    Err(StepError::new(
        StepKind::Exec,
        format!(
            "the naming pattern keeps giving {last}, which another PC already has: add a per-PC variable (index, mac, hostname) or random digits"
        ),
    ))
}
