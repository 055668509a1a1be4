//! `rdplay run`: load the playbook, scan, and renew every reachable PC concurrently, each PC isolated
//! (its failure, hang or timeout never stops or slows the others), then print the outcome.

use crate::inventory::{Inventory, PcOutcome, RunId};
use crate::playbook::Playbook;
use crate::render::{PcSheet, Renderer, UserSheet};
use crate::secret::{Secret, hash_password};
use crate::ssh::SshSettings;
use crate::ssh::askpass::AskpassServer;
use crate::tasks::exchange::Admin;
use crate::tasks::exec::Change;
use crate::tasks::scan::{PortState, Reachable};
use crate::tasks::{StepError, StepKind, exchange, exec, render, sftp};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How one PC ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ip: Ipv4Addr,
    pub mac: Option<String>,
    pub hostname: Option<String>,
    pub request: Option<String>,
    pub old: Vec<String>,
    pub new: Option<String>,
    pub result: Result<Done, StepError>,
    pub duration: Duration,
}

impl Outcome {
    /// A PC that stopped with `error` before any account change was known.
    fn failed(ip: Ipv4Addr, mac: Option<String>, error: StepError) -> Outcome {
        Outcome {
            ip,
            mac,
            hostname: None,
            request: None,
            old: Vec::new(),
            new: None,
            result: Err(error),
            duration: Duration::ZERO,
        }
    }
}

/// A PC renewed.
#[derive(Debug, Clone)]
pub struct Done {
    /// Why the PC was left as it is (renewal policy), when it was.
    pub kept: Option<String>,
    pub first_contact: bool,
    pub sheets: Vec<PathBuf>,
}

/// What every PC's pipeline shares.
pub(crate) struct Ctx {
    pub pb: Playbook,
    pub inventory: Inventory,
    pub run: RunId,
    pub ssh: SshSettings,
    pub admin_password: Option<Secret>,
    pub askpass: Option<AskpassServer>,
    pub controller_key: String,
    pub renderer: Arc<Renderer>,
    /// Usernames taken fleet-wide (inventory) or chosen in this run.
    pub reserved: Mutex<HashSet<String>>,
    pub progress: crate::cli::progress::Progress,
    /// One permit per core for rendering.
    pub render_slots: tokio::sync::Semaphore,
    /// `account.adopt`, compiled (full match).
    pub adopt: Option<regex::Regex>,
    /// Sheets rendered in this run, for the batch files.
    pub sheets: Mutex<Vec<(UserSheet, PcSheet)>>,
}

/// Renews one PC through every step; never panics, never blocks another PC.
pub(crate) async fn renew_pc(ctx: Arc<Ctx>, pc: Reachable) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome::failed(
        pc.ip,
        Some(pc.mac.to_string()),
        StepError::new(StepKind::Exchange, "not started"),
    );
    outcome.result = renew_steps(&ctx, pc, &mut outcome).await;
    outcome.duration = started.elapsed();
    record_outcome(&ctx.inventory, ctx.run, &outcome).await;
    let (ip, mac) = (outcome.ip, outcome.mac.as_deref().unwrap_or("?"));
    let (old, new) = (outcome.old.join(","), outcome.new.as_deref().unwrap_or("-"));
    let request = outcome.request.as_deref().unwrap_or("-");
    let ms = outcome.duration.as_millis() as u64;
    match &outcome.result {
        Ok(done) => {
            tracing::info!(%ip, mac, old, new, request, ms, kept = done.kept.as_deref(), "PC done")
        }
        Err(e) => {
            tracing::error!(%ip, mac, old, new, request, ms, step = e.step.name(), reason = %crate::text::inert(&e.reason, 300), "PC failed")
        }
    }
    ctx.progress.finished(outcome.ip, outcome.result.is_ok());
    outcome
}

/// Records how a PC ended in the run's outcomes (what `--limit @failed` reads).
async fn record_outcome(inventory: &Inventory, run: RunId, outcome: &Outcome) {
    let (ok, step, reason) = match &outcome.result {
        Ok(_) => (true, "render".to_string(), None),
        Err(e) => (false, e.step.name().to_string(), Some(e.reason.clone())),
    };
    if let Err(e) = inventory
        .outcome(
            run,
            PcOutcome {
                mac: outcome.mac.clone(),
                ip: outcome.ip,
                step,
                ok,
                reason,
                duration: outcome.duration,
            },
        )
        .await
    {
        tracing::error!(ip = %outcome.ip, "could not record the outcome: {e}");
    }
}

async fn renew_steps(ctx: &Ctx, pc: Reachable, outcome: &mut Outcome) -> Result<Done, StepError> {
    let pb = &ctx.pb;
    let timeout = pb.connection.step_timeout;
    let known = ctx
        .inventory
        .pc(pc.mac.as_str())
        .map_err(|e| inv_err("reading the PC", e))?;
    outcome.hostname = known.as_ref().and_then(|k| k.hostname.clone());
    let recorded = ctx
        .inventory
        .accounts_to_remove(pc.mac.as_str())
        .map_err(|e| inv_err("reading the recorded accounts", e))?;
    if let Some(reason) = crate::plan::keep_reason(&pb.renewal, &recorded, jiff::Timestamp::now()) {
        outcome.old = recorded.iter().map(|a| a.username.clone()).collect();
        return Ok(Done {
            kept: Some(reason),
            first_contact: false,
            sheets: Vec::new(),
        });
    }

    // exchange
    let pc_ip = pc.ip;
    let mut clock = Instant::now();
    ctx.progress.enter(pc_ip, StepKind::Exchange);
    let admin = Admin {
        user: &pb.exchange.admin_user,
        password: ctx.admin_password.as_ref(),
        askpass: ctx.askpass.as_ref(),
        controller_key: &ctx.controller_key,
    };
    let pinned = known.as_ref().and_then(|k| k.host_key.clone());
    let trusted = exchange::exchange(&ctx.ssh, &admin, &ctx.inventory, pc, pinned, timeout).await?;
    let first_contact = trusted.first_contact;

    // sftp
    let mut lap = |step: StepKind, ip: Ipv4Addr| {
        tracing::debug!(%ip, step = step.name(), ms = clock.elapsed().as_millis() as u64, "step done");
        clock = Instant::now();
    };
    lap(StepKind::Exchange, pc_ip);
    ctx.progress.enter(pc_ip, StepKind::Sftp);
    let uploaded = sftp::upload(&ctx.ssh, trusted, exec::HELPER, timeout).await?;
    outcome.hostname = Some(uploaded.hostname.clone());
    let pc = uploaded.trusted.pc.clone();
    ctx.inventory
        .seen(crate::inventory::PcSeen {
            mac: pc.mac.as_str().to_string(),
            ip: pc.ip,
            hostname: Some(uploaded.hostname.clone()),
        })
        .await
        .map_err(|e| inv_err("recording the PC", e))?;

    lap(StepKind::Sftp, pc_ip);
    // plan the change: request number, accounts to delete, new name, password
    let planned = plan_change(ctx, &uploaded).await;
    let (request, change, password, vars) = match planned {
        Ok(p) => p,
        Err(e) => {
            uploaded.cleanup().await;
            uploaded.master.close().await;
            return Err(e);
        }
    };
    outcome.request = Some(request.clone());
    outcome.old = change.delete.iter().chain(&change.adopt).cloned().collect();
    outcome.new = Some(change.create.clone());
    if let Err(e) = crate::tasks::inventory::intend(
        &ctx.inventory,
        ctx.run,
        &uploaded,
        &request,
        &change.create,
        &outcome.old,
    )
    .await
    {
        uploaded.cleanup().await;
        uploaded.master.close().await;
        return Err(e);
    }

    // exec
    lap(StepKind::Inventory, pc_ip);
    ctx.progress.enter(pc_ip, StepKind::Exec);
    let renewed = match exec::renew(uploaded, &change, timeout).await {
        Ok(r) => r,
        Err((up, e)) => {
            up.master.close().await;
            return Err(e);
        }
    };
    drop(change);

    // inventory
    lap(StepKind::Exec, pc_ip);
    ctx.progress.enter(pc_ip, StepKind::Inventory);
    let recorded =
        crate::tasks::inventory::record(&ctx.inventory, ctx.run, &renewed, &request).await;
    let report = renewed.report.clone();
    renewed.uploaded.master.close().await;
    recorded?;
    outcome.hostname = Some(report.facts.hostname.clone());

    // render
    lap(StepKind::Inventory, pc_ip);
    ctx.progress.enter(pc_ip, StepKind::Render);
    let date = jiff::Zoned::now().date().to_string();
    let user = UserSheet {
        username: report.created.clone().unwrap_or_default(),
        password,
        request: request.clone(),
        date: date.clone(),
        site: pb.site.clone(),
        hostname: report.facts.hostname.clone(),
        ip: pc.ip.to_string(),
        mac: pc.mac.to_string(),
        shell: pb.account.shell.clone(),
        facts: report.facts.clone(),
    };
    let qr = pb
        .output
        .qr_content(&vars, &user.username)
        .map_err(|e| StepError::new(StepKind::Render, format!("QR content: {e}")))?;
    let pc_sheet = PcSheet {
        hostname: report.facts.hostname.clone(),
        ip: pc.ip.to_string(),
        mac: pc.mac.to_string(),
        qr,
        request: request.clone(),
        date,
        site: pb.site.clone(),
        username: user.username.clone(),
        facts: report.facts.clone(),
    };
    let formats = render_formats(&pb.output.formats);
    let mut deleted = report.deleted.clone();
    deleted.extend(report.absent.iter().cloned());
    // Rendering is CPU work: one sheet pair per core at a time keeps memory flat at any fleet size.
    let _core = ctx
        .render_slots
        .acquire()
        .await
        .map_err(|_| StepError::new(StepKind::Render, "render slots closed"))?;
    let (user, pc_sheet, sheets) = render::render(
        Arc::clone(&ctx.renderer),
        &ctx.inventory,
        &pb.output.dir,
        &formats,
        user,
        pc_sheet,
        &deleted,
    )
    .await?;
    lap(StepKind::Render, pc_ip);
    if pb.output.batch
        && let Ok(mut all) = ctx.sheets.lock()
    {
        all.push((user, pc_sheet));
    }
    Ok(Done {
        kept: None,
        first_contact,
        sheets,
    })
}

/// Chooses what exec will do: the accounts recorded for this PC, a new unique name, a fresh password.
async fn plan_change(
    ctx: &Ctx,
    up: &sftp::Uploaded,
) -> Result<(String, Change, Secret, crate::playbook::NameVars), StepError> {
    let pb = &ctx.pb;
    let pc = &up.trusted.pc;
    let records = ctx
        .inventory
        .accounts_to_remove(pc.mac.as_str())
        .map_err(|e| inv_err("reading the recorded accounts", e))?;
    let delete: Vec<String> = records.iter().map(|a| a.username.clone()).collect();
    // Opt-in: pre-existing accounts matching `account.adopt` are deleted too (read first, then renewed).
    let mut adopt = Vec::new();
    if let Some(pattern) = &ctx.adopt {
        let probe = exec::probe(&up.master, &[], pb.connection.step_timeout).await?;
        let taken = ctx
            .inventory
            .usernames_in_use()
            .map_err(|e| inv_err("reading the fleet's accounts", e))?;
        adopt = exec::adoptable(&probe, pattern, &delete, &taken);
        if !adopt.is_empty() {
            tracing::info!(ip = %pc.ip, ?adopt, "adopting accounts that match account.adopt");
        }
    }
    let request = ctx
        .inventory
        .next_request(ctx.run)
        .await
        .map_err(|e| inv_err("allocating a request number", e))?;
    let vars = crate::playbook::NameVars {
        site: pb.site.clone(),
        index: pc.index,
        ip: pc.ip,
        hostname: up.hostname.clone(),
        mac: pc.mac.to_string(),
        request: request.clone(),
        date: jiff::Zoned::now().date(),
    };
    let create = reserve_name(ctx, &vars, &delete)?;
    let password = pb
        .password
        .try_generate()
        .map_err(|e| StepError::new(StepKind::Exec, format!("generating a password: {e}")))?;
    let hash =
        hash_password(&password).map_err(|e| StepError::new(StepKind::Exec, e.to_string()))?;
    let change = Change {
        delete,
        adopt,
        create,
        hash,
        shell: pb.account.shell.clone(),
        home_base: pb.account.home_base.display().to_string(),
        groups: pb.account.groups.clone(),
    };
    Ok((request, change, password, vars))
}

/// Renders the pattern until it gives a name no other PC holds (random parts are re-drawn); a pattern that
/// keeps colliding fails this PC before any change.
fn reserve_name(
    ctx: &Ctx,
    vars: &crate::playbook::NameVars,
    own: &[String],
) -> Result<String, StepError> {
    let mut last = String::new();
    for _ in 0..20 {
        let name = ctx
            .pb
            .account
            .username(vars)
            .map_err(|e| StepError::new(StepKind::Exec, format!("naming pattern: {e}")))?;
        let mut reserved = ctx
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

/// Maps scan results to the PCs to renew and the outcomes of the addresses that cannot be renewed.
pub(crate) fn triage(
    inventory: &Inventory,
    addresses: &[Ipv4Addr],
    results: Vec<crate::tasks::scan::ScanResult>,
) -> (Vec<Reachable>, Vec<Outcome>, usize) {
    let mut reachable = Vec::new();
    let mut failed = Vec::new();
    let mut skipped = 0;
    for r in results {
        let index = addresses
            .iter()
            .position(|a| *a == r.ip)
            .map_or(0, |p| p as u32 + 1);
        let known = inventory.pc_by_ip(r.ip).ok().flatten();
        let fail = |reason: String| Outcome {
            hostname: known.as_ref().and_then(|k| k.hostname.clone()),
            ..Outcome::failed(
                r.ip,
                known.as_ref().map(|k| k.mac.clone()),
                StepError::new(StepKind::Scan, reason),
            )
        };
        match (r.state, r.mac) {
            (PortState::Open, Some(mac)) => reachable.push(Reachable {
                ip: r.ip,
                mac,
                index,
            }),
            (PortState::Open, None) => failed.push(fail(
                "port open but no MAC in the neighbour table (is the PC on this LAN?)".into(),
            )),
            (state, _) if known.is_some() => failed.push(fail(format!(
                "unreachable: a PC recorded at this address did not answer ({})",
                state.word()
            ))),
            _ => skipped += 1,
        }
    }
    (reachable, failed, skipped)
}

/// `rdplay run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The playbook to run.
    pub playbook: PathBuf,
    /// Show what would change, changing nothing (exit 2 when changes are pending).
    #[arg(long)]
    pub check: bool,
    /// Only these PCs: IPs, hostnames, MACs, or `@failed` (the PCs that failed in the last run).
    /// Repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub limit: Vec<String>,
    /// How many PCs at once (overrides the playbook's `connection.forks`).
    #[arg(long)]
    pub forks: Option<usize>,
    /// Output format of `--check`.
    #[arg(long, value_enum, default_value_t = crate::plan::PlanFormat::Text)]
    pub format: crate::plan::PlanFormat,
}

/// Which addresses `--limit` keeps; hostnames and MACs are matched through the inventory and the scan.
pub(crate) struct Limit {
    ips: HashSet<Ipv4Addr>,
    macs: HashSet<String>,
    names: HashSet<String>,
    active: bool,
}

impl Limit {
    pub(crate) fn new(inventory: &Inventory, items: &[String]) -> Result<Limit, String> {
        let mut limit = Limit {
            ips: HashSet::new(),
            macs: HashSet::new(),
            names: HashSet::new(),
            active: !items.is_empty(),
        };
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if item == "@failed" {
                for pc in inventory.failed_in_last_run().map_err(|e| e.to_string())? {
                    if let Some(mac) = pc.mac {
                        limit.macs.insert(mac);
                    }
                    limit.ips.insert(pc.ip);
                }
            } else if let Ok(ip) = item.parse::<Ipv4Addr>() {
                limit.ips.insert(ip);
            } else if let Some(mac) = crate::tasks::scan::Mac::parse(item) {
                limit.macs.insert(mac.to_string());
            } else {
                limit.names.insert(item.to_string());
            }
        }
        // Hostnames and MACs recorded in the inventory name their last address too.
        for pc in inventory.pcs().map_err(|e| e.to_string())? {
            if limit.macs.contains(&pc.mac)
                || pc
                    .hostname
                    .as_ref()
                    .is_some_and(|h| limit.names.contains(h))
            {
                limit.ips.insert(pc.ip);
                limit.macs.insert(pc.mac.clone());
            }
        }
        Ok(limit)
    }

    /// Whether scanning `ip` can matter.
    pub(crate) fn may_scan(&self, ip: Ipv4Addr) -> bool {
        !self.active || self.ips.contains(&ip) || !self.macs.is_empty() || !self.names.is_empty()
    }

    /// Whether a scanned PC is selected.
    pub(crate) fn keeps(&self, ip: Ipv4Addr, mac: Option<&str>) -> bool {
        !self.active || self.ips.contains(&ip) || mac.is_some_and(|m| self.macs.contains(m))
    }
}

/// Runs `rdplay run` (or `--check`) and returns the exit code.
pub fn command(args: RunArgs, log: &crate::cli::LogArgs) -> u8 {
    use crate::cli::exit;
    let (pb, runtime) = match load_with_runtime(&args.playbook) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if args.check {
        crate::cli::init_logging(log, pb.logging.level, None);
        return runtime.block_on(crate::plan::check(pb, args));
    }
    match runtime.block_on(execute(pb, args, log)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILURE
        }
    }
}

/// A reason the run as a whole could not go on (as opposed to one PC failing).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Render(#[from] crate::render::RenderError),
    #[error("{0}")]
    Playbook(#[from] crate::playbook::PlaybookError),
    #[error("--limit: {0}")]
    Limit(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

async fn execute(pb: Playbook, args: RunArgs, log: &crate::cli::LogArgs) -> Result<u8, RunError> {
    use crate::cli::exit;
    let started = Instant::now();
    // Installed now, not when the PCs' loop first polls it: a SIGINT before that would kill the run
    // without the clean stop (seen on a loaded machine, where PCs finished steps before the loop ran).
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(io("installing the SIGINT handler"))?;
    crate::files::private_dir(&pb.state_dir)
        .map_err(io(format!("creating {}", pb.state_dir.display())))?;
    let (inventory, _lock) = Inventory::open_for_run(&pb.inventory.path)?;
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
    let run_dir = pb.state_dir.join("runs").join(&stamp);
    crate::files::private_dir(&run_dir).map_err(io(format!("creating {}", run_dir.display())))?;
    let log_file = pb
        .logging
        .file
        .clone()
        .unwrap_or_else(|| run_dir.join("rdplay.log"));
    crate::cli::init_logging(log, pb.logging.level, Some(&log_file));
    tracing::info!(playbook = %pb.path.display(), "run started");

    let controller_key =
        crate::cli::controller_key(&pb.connection.identity).map_err(io(format!(
            "preparing the controller key {}",
            pb.connection.identity.display()
        )))?;
    let ssh_dir = tempfile::Builder::new()
        .prefix("rdplay-")
        .tempdir()
        .map_err(io("creating the private ssh directory"))?;
    let ssh = ssh_settings(&pb, ssh_dir.path());
    let run = inventory.begin_run(&pb.path, &pb.digest).await?;

    // scan
    let Scope {
        all,
        to_scan,
        limit,
        timeout: scan_timeout,
    } = Scope::new(&pb, &inventory, &args.limit)?;

    // First contact needs the admin password: read it once, before anything is drawn, when the range
    // holds any address that is not a PC with a pinned key.
    let pinned: HashSet<Ipv4Addr> = inventory
        .pcs()?
        .into_iter()
        .filter(|p| p.host_key.as_ref().is_some_and(|k| !k.trim().is_empty()))
        .map(|p| p.ip)
        .collect();
    let (admin_password, askpass) = if to_scan.iter().any(|ip| !pinned.contains(ip)) {
        let password = pb.exchange.password.read()?;
        let server = AskpassServer::start(ssh_dir.path(), password.clone())
            .map_err(io("starting the askpass server"))?;
        (Some(password), Some(server))
    } else {
        (None, None)
    };

    let renderer = Arc::new(Renderer::new(
        pb.output.user_sheet.as_deref(),
        pb.output.pc_sheet.as_deref(),
    )?);
    crate::files::private_dir(&pb.output.dir)
        .map_err(io(format!("creating {}", pb.output.dir.display())))?;
    let reserved = inventory.usernames_in_use()?;
    let forks = args.forks.unwrap_or(pb.connection.forks).max(1);
    let pb_adopt = pb.account.adopt.clone();
    let ctx = Arc::new(Ctx {
        progress: crate::cli::progress::Progress::new(0, log.quiet > 0),
        pb,
        inventory: inventory.clone(),
        run,
        ssh,
        admin_password,
        askpass,
        controller_key,
        renderer,
        reserved: Mutex::new(reserved),
        adopt: compile_adopt(&pb_adopt)?,
        render_slots: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        sheets: Mutex::new(Vec::new()),
    });

    // Scan and renew at once: each PC starts as soon as its SSH port answers, on its own task, at most
    // `forks` at once; silent addresses are still being waited for meanwhile.
    let mut found = crate::tasks::scan::scan_stream(to_scan, ctx.pb.target.port, scan_timeout, 256);
    let slots = Arc::new(tokio::sync::Semaphore::new(forks));
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending: std::collections::HashMap<tokio::task::Id, Reachable> = Default::default();
    let mut outcomes = Vec::new();
    let mut skipped = 0;
    let mut scanning = true;
    let mut interrupted = false;
    loop {
        tokio::select! {
            result = found.recv(), if scanning && !interrupted => match result {
                Some(r) if limit.keeps(r.ip, r.mac.as_ref().map(|m| m.as_str())) => {
                    let (reachable, failed, skip) = triage(&inventory, &all, vec![r]);
                    skipped += skip;
                    for f in failed {
                        record_outcome(&inventory, run, &f).await;
                        outcomes.push(f);
                    }
                    for pc in reachable {
                        ctx.progress.found();
                        let (ctx, slots, this) = (Arc::clone(&ctx), Arc::clone(&slots), pc.clone());
                        let handle = tasks.spawn(async move {
                            let _slot = slots.acquire_owned().await;
                            renew_pc(ctx, pc).await
                        });
                        pending.insert(handle.id(), this);
                    }
                }
                Some(_) => {}
                None => {
                    scanning = false;
                    tracing::info!(pcs = pending.len() + outcomes.len(), skipped, "scan done");
                }
            },
            joined = tasks.join_next_with_id(), if !tasks.is_empty() => match joined {
                Some(Ok((id, outcome))) => { pending.remove(&id); outcomes.push(outcome); }
                Some(Err(e)) => {
                    if let Some(pc) = pending.remove(&e.id()) {
                        outcomes.push(stopped(&pc, if e.is_panic() { "internal error (panic): please report it" } else { "interrupted" }));
                    }
                }
                None => {}
            },
            _ = sigint.recv(), if !interrupted => {
                interrupted = true;
                tracing::warn!("interrupted: stopping every PC (the journal keeps what was begun)");
                tasks.abort_all();
            }
        }
        if (!scanning || interrupted) && tasks.is_empty() {
            break;
        }
    }
    ctx.progress.finish();

    // batch files for printing
    let batch = ctx.sheets.lock().map(|s| s.clone()).unwrap_or_default();
    let out_dir = ctx.pb.output.dir.clone();
    if ctx.pb.output.batch && !batch.is_empty() {
        let renderer = Arc::clone(&ctx.renderer);
        let dir = out_dir.clone();
        let result = tokio::task::spawn_blocking(move || {
            let (users, pcs): (Vec<UserSheet>, Vec<PcSheet>) = batch.into_iter().unzip();
            renderer.user_batch(&users, &dir.join("users.pdf"))?;
            renderer.pc_batch(&pcs, &dir.join("pcs.pdf"))
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("batch files: {e}"),
            Err(e) => tracing::error!("batch files: {e}"),
        }
    }
    let summary = inventory.finish_run(run).await;
    if let Err(e) = &summary {
        tracing::error!("closing the run in the inventory: {e}");
    }
    outcomes.sort_by_key(|o| o.ip);
    crate::cli::output::print_run(
        &outcomes,
        skipped,
        &run_dir,
        &log_file,
        &out_dir,
        started.elapsed(),
    );
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let done = outcomes.len() - failed;
    tracing::info!(done, failed, skipped, "run finished");
    Ok(if interrupted || failed > 0 {
        exit::SOME_FAILED
    } else {
        exit::OK
    })
}

fn stopped(pc: &Reachable, reason: &str) -> Outcome {
    Outcome::failed(
        pc.ip,
        Some(pc.mac.to_string()),
        StepError::new(StepKind::Exec, reason),
    )
}

/// An inventory failure as the step error of the PC it stopped.
fn inv_err(what: &str, e: crate::inventory::InventoryError) -> StepError {
    StepError::new(StepKind::Inventory, format!("{what}: {e}"))
}

/// `account.adopt` as a full-match regex (the playbook validated it already).
pub(crate) fn compile_adopt(adopt: &Option<String>) -> Result<Option<regex::Regex>, RunError> {
    adopt
        .as_ref()
        .map(|re| regex::Regex::new(&format!("^(?:{re})$")))
        .transpose()
        .map_err(|e| RunError::Limit(format!("account.adopt: {e}")))
}

/// The playbook's sheet formats as the renderer names them.
pub(crate) fn render_formats(formats: &[crate::playbook::Format]) -> Vec<crate::render::Format> {
    formats
        .iter()
        .map(|f| match f {
            crate::playbook::Format::Pdf => crate::render::Format::Pdf,
            crate::playbook::Format::Png => crate::render::Format::Png,
        })
        .collect()
}

/// Loads the playbook and starts the async runtime, printing why when either fails (exit code 1).
pub(crate) fn load_with_runtime(
    path: &std::path::Path,
) -> Result<(Playbook, tokio::runtime::Runtime), u8> {
    use crate::cli::exit;
    let pb = Playbook::load(path).map_err(|e| {
        eprintln!("{e}");
        exit::FAILURE
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: could not start the async runtime: {e}");
            exit::FAILURE
        })?;
    Ok((pb, runtime))
}

/// What `run` and `--check` scan: every address of the range, those `--limit` leaves, and the
/// per-address timeout (short: a PC on the LAN answers in milliseconds).
pub(crate) struct Scope {
    pub all: Vec<Ipv4Addr>,
    pub to_scan: Vec<Ipv4Addr>,
    pub limit: Limit,
    pub timeout: Duration,
}

impl Scope {
    pub(crate) fn new(
        pb: &Playbook,
        inventory: &Inventory,
        limit: &[String],
    ) -> Result<Scope, RunError> {
        let limit = Limit::new(inventory, limit).map_err(RunError::Limit)?;
        let all = pb.target.addresses();
        let to_scan = all
            .iter()
            .copied()
            .filter(|ip| limit.may_scan(*ip))
            .collect();
        Ok(Scope {
            all,
            to_scan,
            limit,
            timeout: scan_timeout(pb),
        })
    }
}

/// The scan's per-address timeout: the playbook's connect timeout, at most 1.5 s.
pub(crate) fn scan_timeout(pb: &Playbook) -> Duration {
    pb.connection
        .connect_timeout
        .min(Duration::from_millis(1500))
}

/// The ssh settings of a playbook, with `dir` as the private directory for sockets and known_hosts.
pub(crate) fn ssh_settings(pb: &Playbook, dir: &std::path::Path) -> SshSettings {
    SshSettings {
        user: pb.connection.user.clone(),
        port: pb.target.port,
        identity: pb.connection.identity.clone(),
        connect_timeout: pb.connection.connect_timeout,
        control_persist: pb.connection.control_persist,
        use_ssh_config: pb.connection.ssh_config,
        run_dir: dir.to_path_buf(),
    }
}
