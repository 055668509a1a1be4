//! Apply: carries out one PC's plan. It binds last what only exists while applying — the request
//! number, the account's name drawn from the pattern, the password — and goes through the steps:
//! first contact when the plan says so, the upload, the journal's intent, the archive of each account
//! to delete (`account.archive`: recorded before anything is deleted), the helper, the journal's
//! record, then every effect in order. The PC's connection is closed on one path, whatever happens.

use super::Engine;
use super::audit::Audit;
use super::effects::{Effect, Renewed};
use super::outcome::{Outcome, PcReport};
use super::plan::{Action, Adopt, PcPlan, Renew};
use super::scope::Target;
use crate::inventory::{Archived, PcOutcome, PcSeen, RunId, Store};
use crate::playbook::ArchiveFailure;
use crate::remote::{Connection, Connector};
use crate::secret::{Secret, hash_password};
use crate::tasks::exec::{Change, Report};
use crate::tasks::scan::Reachable;
use crate::tasks::{StepError, StepKind, archive, exchange, exec, sftp};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

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
    report.outcome = match &plan.action {
        Action::Keep { account, reason } => {
            report.old = vec![account.clone()];
            Outcome::Kept {
                reason: reason.clone(),
            }
        }
        Action::Blocked(b) => Outcome::Failed(b.failure()),
        Action::Renew(renew) => {
            let outcome = apply(engine, rc, &plan, renew, target.index, conn, &mut report).await;
            match outcome {
                Ok(outcome) => outcome,
                Err(e) => Outcome::Failed(e),
            }
        }
    };
    report.duration = started.elapsed();
    finish(engine, rc, &report).await;
    report
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

/// Applies a renewal. The connection (opened by the probe, or after first contact) is closed here.
async fn apply<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    plan: &PcPlan,
    renew: &Renew,
    index: u32,
    conn: Option<C::Conn>,
    report: &mut PcReport,
) -> Result<Outcome, StepError> {
    let Some(mac) = plan.mac.clone() else {
        return Err(StepError::new(StepKind::Scan, "no MAC"));
    };
    let pc = Reachable {
        ip: plan.ip,
        mac,
        index,
    };
    let timeout = engine.planner.playbook().connection.step_timeout;
    let mut lap = Lap {
        ip: pc.ip,
        engine,
        current: None,
    };
    lap.enter(StepKind::Exchange);
    let conn = match conn {
        Some(conn) => conn,
        None => {
            let host_keys =
                exchange::first_contact(&engine.connector, &engine.store, &pc, timeout).await?;
            lap.enter(StepKind::Sftp);
            engine
                .connector
                .connect(pc.ip, &host_keys)
                .await
                .map_err(|e| StepError::caused(StepKind::Sftp, "", e))?
        }
    };
    let result = renew_over(engine, rc, &pc, plan, renew, &conn, report, &mut lap).await;
    conn.close().await;
    if result.is_ok() {
        lap.done();
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn renew_over<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    pc: &Reachable,
    plan: &PcPlan,
    renew: &Renew,
    conn: &C::Conn,
    report: &mut PcReport,
    lap: &mut Lap<'_, C, S>,
) -> Result<Outcome, StepError> {
    let pb = engine.planner.playbook();
    let timeout = pb.connection.step_timeout;
    let delete: Vec<String> = renew.delete.iter().map(|a| a.name.clone()).collect();
    // After first contact, the PC is probed now: its name, the accounts on it, those to adopt.
    let (hostname, adopt, on_pc) = if renew.first_contact.is_some() {
        let probed = exec::probe(conn, &delete, &pb.account.shell, timeout).await?;
        let taken = if engine.planner.needs_taken() {
            engine.store.usernames_in_use().map_err(|e| e.to_string())
        } else {
            Ok(HashSet::new())
        };
        let on_pc = probed.present.iter().map(|p| p.name.clone());
        match engine.planner.adoptable(&probed, &delete, &taken) {
            Ok(Adopt::Accounts(names)) => {
                let on_pc: Vec<String> = on_pc.chain(names.iter().cloned()).collect();
                (probed.facts.hostname, names, on_pc)
            }
            Ok(_) => (probed.facts.hostname, Vec::new(), on_pc.collect()),
            Err(e) => {
                return Err(StepError::new(
                    StepKind::Inventory,
                    format!("reading the fleet's accounts: {e}"),
                ));
            }
        }
    } else {
        let adopt = match &renew.adopt {
            Adopt::Accounts(names) => names.clone(),
            _ => Vec::new(),
        };
        let on_pc = renew
            .delete
            .iter()
            .filter(|a| a.on_pc == Some(true))
            .map(|a| a.name.clone())
            .chain(adopt.iter().cloned())
            .collect();
        (plan.hostname.clone().unwrap_or_default(), adopt, on_pc)
    };
    report.hostname = Some(hostname.clone());
    if !adopt.is_empty() {
        tracing::info!(ip = %pc.ip, ?adopt, "adopting accounts that match account.adopt");
    }
    engine
        .store
        .seen(PcSeen {
            mac: pc.mac.clone(),
            ip: pc.ip,
            hostname: Some(hostname.clone()),
        })
        .await
        .map_err(|e| StepError::caused(StepKind::Inventory, "recording the PC", e))?;

    lap.enter(StepKind::Sftp);
    let workdir = sftp::upload(conn, exec::HELPER, timeout).await?;

    // Bind what only exists now: the request number, the name, the password.
    let bound = bind(engine, rc, pc, plan.number, &hostname, delete, adopt).await;
    let (request, change, password, vars) = match bound {
        Ok(b) => b,
        Err(e) => {
            sftp::remove(conn, &workdir).await;
            return Err(e);
        }
    };
    report.request = Some(request.clone());
    report.old = change.delete.iter().chain(&change.adopt).cloned().collect();
    report.new = Some(change.create.clone());
    let mut change = change;
    let mut redraws = 0;
    let intent = loop {
        let intent = crate::tasks::inventory::intend(
            &engine.store,
            rc.run,
            pc,
            &request,
            &change.create,
            &report.old,
            vars.number,
        )
        .await;
        // In a shared inventory another site's controller may have recorded this name since the
        // run read the fleet's names: the database refuses it, and another name is drawn.
        match intent {
            Err(e) if redraws < MAX_REDRAWS && name_taken(&e) => {
                redraws += 1;
                tracing::info!(ip = %pc.ip, name = %change.create, "name taken meanwhile: drawing another");
                match reserve_name(engine, rc, &vars, &change.delete) {
                    Ok(name) => {
                        report.new = Some(name.clone());
                        change.create = name;
                    }
                    Err(e) => break Err(e),
                }
            }
            other => break other,
        }
    };
    if let Err(e) = intent {
        sftp::remove(conn, &workdir).await;
        return Err(e);
    }

    // With `account.archive`, every account about to be deleted is archived and recorded first: a
    // failed archive stops the PC here, before exec deletes anything — or, with `on_failure:
    // delete`, the account is deleted without it and the outcome says why.
    if let Some(archive) = &pb.account.archive {
        lap.enter(StepKind::Archive);
        for account in &on_pc {
            let adopted = change.adopt.contains(account);
            let started = Instant::now();
            let fetched =
                archive::fetch(conn, &workdir, &pc.mac, account, adopted, archive, timeout).await;
            let archived = match (fetched, archive.on_failure) {
                (Ok(fetched), _) => {
                    let ms = started.elapsed().as_millis() as u64;
                    tracing::info!(ip = %pc.ip, account, bytes = fetched.bytes, ms, path = %fetched.path.display(), "archived");
                    record_archive(engine, rc, pc, fetched, &request, archive)
                        .await
                        .map(|path| report.archives.push(path))
                }
                (Err(e), ArchiveFailure::Delete) => {
                    let why = e.reason();
                    tracing::warn!(ip = %pc.ip, account, reason = %why, "deleting without archive (account.archive.on_failure: delete)");
                    report.unarchived.push(format!("{account}: {why}"));
                    Ok(())
                }
                (Err(e), ArchiveFailure::Keep) => Err(StepError::new(
                    e.step,
                    format!("{}; nothing was deleted", e.reason()),
                )),
            };
            if let Err(e) = archived {
                sftp::remove(conn, &workdir).await;
                return Err(e);
            }
        }
    }

    lap.enter(StepKind::Exec);
    let done: Report = exec::renew(conn, workdir, &change, timeout).await?;
    let hash = change.hash.clone();
    drop(change);
    report.leftovers = Some(done.leftovers());
    report.reported = Some(super::outcome::Reported::of(&done));

    lap.enter(StepKind::Inventory);
    let history = engine.planner.playbook().inventory.history;
    crate::tasks::inventory::record(&engine.store, rc.run, pc, &done, &request, history).await?;
    report.hostname = Some(done.facts.hostname.clone());
    let username = done.created.clone().unwrap_or_default();
    if pb.account.verify_login {
        verify(engine, pc, conn, &username, &password, &hash).await?;
    }
    drop(hash);

    lap.enter(StepKind::Render);
    let gone = crate::tasks::inventory::gone(&done);
    let renewed = Renewed {
        pc,
        request: &request,
        username: &username,
        password: &password,
        facts: &done.facts,
        vars: &vars,
        gone: &gone,
    };
    let mut files = Vec::new();
    for effect in &rc.effects {
        let did = effect.apply(&renewed).await?;
        tracing::debug!(ip = %pc.ip, effect = effect.name(), files = did.files.len(), "effect done");
        files.extend(did.files);
    }
    Ok(Outcome::Renewed {
        first_contact: renew.first_contact.is_some(),
        files,
    })
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

/// Records an archive made, then applies the retention. An archive that cannot be recorded is removed
/// and stops the PC, whatever `on_failure` says: the account stays, so the next run archives it again.
async fn record_archive<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    pc: &Reachable,
    fetched: archive::Fetched,
    request: &str,
    archive: &crate::playbook::Archive,
) -> Result<std::path::PathBuf, StepError> {
    let account = fetched.username.clone();
    let recorded = engine
        .store
        .archived(Archived {
            run: rc.run,
            mac: pc.mac.clone(),
            username: fetched.username.clone(),
            request: request.to_string(),
            path: fetched.path.clone(),
            bytes: fetched.bytes,
            sha256: fetched.sha256.clone(),
        })
        .await;
    if let Err(e) = recorded {
        // Unrecorded, the file would be an orphan.
        let _ = std::fs::remove_file(&fetched.path);
        return Err(StepError::caused(
            StepKind::Archive,
            format!("recording the archive of {account}; nothing was deleted"),
            e,
        ));
    }
    for problem in archive::prune(&engine.store, archive, &pc.mac).await {
        tracing::warn!(ip = %pc.ip, "archive retention: {problem}");
    }
    Ok(fetched.path)
}

/// The values drawn while applying: a request number, the new account's name, its password and hash.
#[allow(clippy::too_many_arguments)]
async fn bind<C: Connector, S: Store>(
    engine: &Engine<C, S>,
    rc: &RunCtx,
    pc: &Reachable,
    number: Option<u32>,
    hostname: &str,
    delete: Vec<String>,
    adopt: Vec<String>,
) -> Result<(String, Change, Secret, crate::playbook::NameVars), StepError> {
    let pb = engine.planner.playbook();
    let number = number
        .ok_or_else(|| StepError::new(StepKind::Inventory, "the plan gives this PC no number"))?;
    let request =
        engine.store.next_request(rc.run).await.map_err(|e| {
            StepError::caused(StepKind::Inventory, "allocating a request number", e)
        })?;
    let vars = crate::playbook::NameVars {
        site: pb.site.clone(),
        number,
        index: pc.index,
        ip: pc.ip,
        hostname: hostname.to_string(),
        mac: pc.mac.to_string(),
        request: request.clone(),
        date: jiff::Zoned::now().date(),
    };
    let create = reserve_name(engine, rc, &vars, &delete)?;
    // Above every uid rdplay gave on this PC, so a uid is never given twice (the helper also goes
    // above every uid and gid the PC shows).
    let min_uid = engine
        .store
        .highest_uid(&pc.mac)
        .map_err(|e| StepError::caused(StepKind::Inventory, "reading the uids given on the PC", e))?
        .map(|uid| uid.saturating_add(1));
    let password = pb
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
        shell: pb.account.shell.clone(),
        home_base: pb.account.home_base.display().to_string(),
        groups: pb.account.groups.clone(),
        min_uid,
    };
    Ok((request, change, password, vars))
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
