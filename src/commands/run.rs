//! `rdplay run`: scan the range, plan every PC and apply each plan, concurrently, each PC isolated
//! (its failure, hang or timeout never stops or slows the others); `--check` is [`super::check`].

use crate::engine::apply::{RunCtx, run_pc};
use crate::engine::audit::Audit;
use crate::engine::effects::print::{Print, PrintList};
use crate::engine::effects::{Effect, escrow::Escrow, sheets::Sheets};
use crate::engine::outcome::{Outcome, PcReport};
use crate::engine::scope::Scope;
use crate::engine::{Engine, Observer, driver};
use crate::inventory::{Inventory, Store};
use crate::playbook::Playbook;
use crate::remote::openssh::{FirstContactCreds, OpenSsh};
use crate::render::Renderer;
use crate::ssh::SshSettings;
use crate::ssh::askpass::AskpassServer;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `rdplay run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The playbook to run.
    pub playbook: PathBuf,
    /// Show what would change, changing nothing (exit 2 when changes are pending).
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Only these PCs: IPs, hostnames, MACs, or `@failed` (the PCs that failed in the last run).
    /// Repeat or separate with commas.
    #[arg(short, long, value_delimiter = ',')]
    pub limit: Vec<String>,
    /// How many PCs at once (overrides the playbook's `connection.forks`).
    #[arg(short, long)]
    pub forks: Option<usize>,
    /// The first free label on the first sheet of labels (1 = top left), overriding
    /// `output.labels.start`: the labels before it were used already.
    #[arg(long, value_name = "N")]
    pub start: Option<u32>,
    /// Renew the accounts the renewal policy keeps too (`renewal.older_than`, 12 hours by
    /// default): a second run the same day renews them, and their sheets just printed are void.
    #[arg(long)]
    pub renew_recent: bool,
    /// Output format of `--check`: text, or one JSON object per PC per line.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

impl RunArgs {
    /// The playbook as these options change it: `--renew-recent` renews every account.
    pub fn overriding(&self, mut pb: crate::playbook::Playbook) -> crate::playbook::Playbook {
        if self.renew_recent {
            pb.renewal = crate::playbook::Renewal::Always;
        }
        pb
    }
}

/// Output format of `--check`.
#[derive(Debug, Clone, Copy, clap::ValueEnum, Default, PartialEq, Eq)]
pub enum PlanFormat {
    #[default]
    Text,
    Json,
}

/// A reason the run as a whole could not go on (as opposed to one PC failing).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Playbook(#[from] crate::playbook::PlaybookError),
    #[error(transparent)]
    Scope(#[from] crate::engine::scope::ScopeError),
    #[error("account.adopt: {0}")]
    Adopt(#[from] regex::Error),
    #[error(transparent)]
    Escrow(crate::escrow::EscrowError),
    #[error("{0}")]
    Start(String),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// What a run did.
pub struct RunReport {
    /// One report per PC, in address order.
    pub pcs: Vec<PcReport>,
    /// The run's number in the inventory.
    pub run: crate::inventory::RunId,
    /// What changed, as recorded in this run: PCs' facts, clones, strangers.
    pub changes: Vec<crate::inventory::EventRecord>,
    /// Whether a change reached the playbook's `inventory.fail_on`.
    pub fails_on_changes: bool,
    /// Addresses without SSH and without a PC on record.
    pub skipped: usize,
    /// What went wrong after the renewals without undoing any (a print job CUPS did not take...).
    pub warnings: Vec<String>,
    /// What the run could not record (in the inventory or the audit log), with the cause: the
    /// renewals stand, but the run ends failed.
    pub unrecorded: Vec<String>,
    pub interrupted: bool,
    pub run_dir: PathBuf,
    pub log_file: PathBuf,
    pub out_dir: PathBuf,
    pub elapsed: Duration,
}

impl RunReport {
    /// Whether every PC ended renewed or kept.
    pub fn all_ok(&self) -> bool {
        !self.interrupted
            && !self.fails_on_changes
            && self.unrecorded.is_empty()
            && !self.pcs.iter().any(|p| p.outcome.failed())
    }
}

/// Runs `rdplay run`. `start_logging` is called once the run's log file is known.
pub async fn run(
    pb: Playbook,
    args: &RunArgs,
    observer: Arc<dyn Observer>,
    start_logging: impl FnOnce(&Path),
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let mut pb = pb;
    start_labels_at(&mut pb, args.start)?;
    // Installed first: a SIGINT before the driver polls it still stops the run cleanly.
    let sigint = sigint()?;
    crate::files::private_dir(&pb.state_dir)
        .map_err(io(format!("creating {}", pb.state_dir.display())))?;
    let forks = args.forks.unwrap_or(pb.connection.forks).max(1);
    let (inventory, _lock) = Inventory::for_run(&pb.inventory, &pb.site, forks)?;
    let dirs = RunDirs::create(&pb)?;
    start_logging(&dirs.log_file);
    tracing::info!(playbook = %pb.path.display(), "run started");

    let controller_key =
        crate::ssh::controller_key(&pb.connection.identity).map_err(io(format!(
            "preparing the controller key {}",
            pb.connection.identity.display()
        )))?;
    let ssh_dir = private_tempdir("rdplay-")?;
    let settings = ssh_settings(&pb, ssh_dir.path())?;
    let run = inventory.begin_run(&pb.path, &pb.digest).await?;
    let scope = Scope::new(&pb, &inventory, &args.limit)?;
    let first_contact =
        first_contact_creds(&pb, &inventory, &scope, ssh_dir.path(), controller_key)?;
    let rc = Arc::new(RunCtx {
        run,
        reserved: Mutex::new(inventory.usernames_in_use()?),
        effects: effects(&pb, &inventory, run, &dirs)?,
        audit: Audit::create(&dirs.run_dir).map_err(io("creating the audit log"))?,
    });
    let (out_dir, fail_on) = (pb.output.dir.clone(), pb.inventory.fail_on);
    let connector = OpenSsh::new(settings, first_contact);
    let engine = Engine::new(pb, connector, inventory.clone(), observer)?;
    let driven = driver::drive(
        &engine,
        &scope,
        forks,
        sigint,
        |engine, target| {
            let rc = Arc::clone(&rc);
            async move { run_pc(&engine, &rc, target).await }
        },
        |target, stopped| {
            PcReport::new(
                target.ip,
                target.mac.clone(),
                Outcome::Failed(stopped.failure()),
            )
        },
    )
    .await;
    let ended = end_run(&inventory, &rc, driven.results).await;
    if let Some(stats) = inventory.write_stats() {
        // Group commit at work: how many transactions (each one fsync) carried the run's writes.
        tracing::info!(
            writes = stats.writes,
            commits = stats.commits,
            "inventory writes"
        );
    }
    let failed = ended.pcs.iter().filter(|o| o.outcome.failed()).count();
    tracing::info!(
        done = ended.pcs.len() - failed,
        failed,
        skipped = driven.skipped,
        "run finished"
    );
    Ok(RunReport {
        pcs: ended.pcs,
        fails_on_changes: crate::engine::fleet::fails(
            ended.changes.iter().map(|c| c.event.severity),
            fail_on,
        ),
        changes: ended.changes,
        run,
        skipped: driven.skipped,
        warnings: ended.warnings,
        unrecorded: ended.unrecorded,
        interrupted: driven.interrupted,
        run_dir: dirs.run_dir,
        log_file: dirs.log_file,
        out_dir,
        elapsed: started.elapsed(),
    })
}

/// `--start N`: the first free label on the first sheet of labels, checked against the sheet.
fn start_labels_at(pb: &mut Playbook, start: Option<u32>) -> Result<(), RunError> {
    let Some(start) = start else {
        return Ok(());
    };
    let labels = pb.output.labels.as_mut().ok_or(RunError::Start(
        "--start: the playbook writes no labels (`output.labels`)".into(),
    ))?;
    if start == 0 || start > labels.grid.per_page() {
        return Err(RunError::Start(format!(
            "--start {start}: the label sheet has labels 1 to {}",
            labels.grid.per_page()
        )));
    }
    labels.start = start;
    Ok(())
}

/// Where a run keeps what it writes: `STATE_DIR/runs/STAMP/` (private) and its log file.
struct RunDirs {
    stamp: String,
    run_dir: PathBuf,
    log_file: PathBuf,
}

impl RunDirs {
    fn create(pb: &Playbook) -> Result<RunDirs, RunError> {
        let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
        let run_dir = pb.state_dir.join("runs").join(&stamp);
        crate::files::private_dir(&run_dir)
            .map_err(io(format!("creating {}", run_dir.display())))?;
        let log_file = pb
            .logging
            .file
            .clone()
            .unwrap_or_else(|| run_dir.join("rdplay.log"));
        Ok(RunDirs {
            stamp,
            run_dir,
            log_file,
        })
    }
}

/// What first contact needs: the admin password, read once before anything is drawn, when the range
/// holds any address that is not a PC with a pinned key (`None` otherwise).
fn first_contact_creds<S: Store>(
    pb: &Playbook,
    inventory: &S,
    scope: &Scope,
    ssh_dir: &Path,
    controller_key: String,
) -> Result<Option<FirstContactCreds>, RunError> {
    let pinned: HashSet<Ipv4Addr> = inventory
        .pcs()?
        .into_iter()
        .filter(|p| p.host_key.is_some())
        .map(|p| p.ip)
        .collect();
    if scope.to_scan.iter().all(|ip| pinned.contains(ip)) {
        return Ok(None);
    }
    let password = pb.exchange.password.read()?;
    let askpass = AskpassServer::start(ssh_dir, password.clone())
        .map_err(io("starting the askpass server"))?;
    Ok(Some(FirstContactCreds {
        admin: pb.exchange.admin_user.clone(),
        password,
        askpass,
        controller_key,
    }))
}

/// The effects of a renewal, in the order they run: escrow first (a sheet is only written for a
/// password the admins can read back), the sheets, printing.
fn effects<S: Store + Clone>(
    pb: &Playbook,
    inventory: &S,
    run: crate::inventory::RunId,
    dirs: &RunDirs,
) -> Result<Vec<Box<dyn Effect>>, RunError> {
    let renderer = Arc::new(
        Renderer::new(
            pb.output.user_sheet.as_deref(),
            pb.output.pc_sheet.as_deref(),
        )?
        .with_layouts(
            pb.output
                .labels
                .as_ref()
                .and_then(|l| l.template.as_deref()),
            pb.output.slips.as_ref().and_then(|s| s.template.as_deref()),
        )?
        .with_lang(&pb.output.lang)?,
    );
    crate::files::private_dir(&pb.output.dir)
        .map_err(io(format!("creating {}", pb.output.dir.display())))?;
    // Rendering is CPU work: one sheet pair per core at a time keeps memory flat at any fleet size.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let printables = Arc::new(PrintList::default());
    let sheets =
        Sheets::new(pb, renderer, inventory.clone(), cores).printing_to(Arc::clone(&printables));
    // The audit log's second writer, for the print jobs (whole lines, appended).
    let print_audit = Audit::create(&dirs.run_dir).map_err(io("opening the audit log"))?;
    let print = Print::new(pb, dirs.stamp.clone(), print_audit, printables);
    let mut effects: Vec<Box<dyn Effect>> = Vec::new();
    if let Some(escrow) = &pb.escrow {
        effects.push(Box::new(
            Escrow::new(escrow, inventory.clone(), run).map_err(RunError::Escrow)?,
        ));
    }
    effects.push(Box::new(sheets));
    effects.push(Box::new(print));
    Ok(effects)
}

/// What the end of a run adds to the PCs' reports.
struct Ended {
    /// One report per PC, in address order.
    pcs: Vec<PcReport>,
    /// What changed, as recorded in this run.
    changes: Vec<crate::inventory::EventRecord>,
    /// What failed at the end without undoing any renewal.
    warnings: Vec<String>,
    /// What could not be recorded (inventory, audit log), with the cause.
    unrecorded: Vec<String>,
}

/// Ends a run once every PC is done: each effect's end-of-run work (a failure there leaves every
/// renewal as it is: a warning), the fleet's events recorded and audited, the run closed in the
/// inventory.
async fn end_run<S: Store>(inventory: &S, rc: &RunCtx, mut pcs: Vec<PcReport>) -> Ended {
    let mut warnings = Vec::new();
    for effect in &rc.effects {
        if let Err(e) = effect.finish().await {
            tracing::warn!(effect = effect.name(), "{e}");
            warnings.push(format!("{}: {e}", effect.name()));
        }
    }
    pcs.sort_by_key(|o| o.ip);
    let mut unrecorded = Vec::new();
    let changes = match crate::engine::fleet::events_of_run(inventory, rc.run, &pcs).await {
        Ok(changes) => changes,
        Err(e) => {
            tracing::error!("recording what changed: {e}");
            unrecorded.push(format!("recording what changed: {e}"));
            Vec::new()
        }
    };
    for change in &changes {
        rc.audit.change(change);
    }
    if let Err(e) = inventory.finish_run(rc.run).await {
        tracing::error!("closing the run in the inventory: {e}");
        unrecorded.push(format!("closing the run in the inventory: {e}"));
    }
    if let Some(lost) = rc.audit.lost() {
        tracing::error!("{lost}");
        unrecorded.push(lost);
    }
    Ended {
        pcs,
        changes,
        warnings,
        unrecorded,
    }
}

/// The SIGINT handler the driver listens to.
pub(crate) fn sigint() -> Result<tokio::signal::unix::Signal, RunError> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(io("installing the SIGINT handler"))
}

/// A private temporary directory for ssh's sockets and known_hosts, removed when dropped.
pub(crate) fn private_tempdir(prefix: &str) -> Result<tempfile::TempDir, RunError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(io("creating the private ssh directory"))
}

/// The ssh settings of a playbook, with `dir` as the private directory for sockets and known_hosts;
/// refused when the playbook names a key exchange method the local OpenSSH does not know (one clear
/// error before any PC, rather than the same failed handshake on every PC).
pub(crate) fn ssh_settings(pb: &Playbook, dir: &Path) -> Result<SshSettings, RunError> {
    let kex = &pb.connection.kex_algorithms;
    if !kex.is_empty() {
        let unknown = crate::ssh::unknown_kex(kex)
            .map_err(io("listing OpenSSH's key exchange methods (ssh -Q kex)"))?;
        if !unknown.is_empty() {
            return Err(RunError::Start(format!(
                "connection.kex_algorithms: this OpenSSH does not know {} (`ssh -Q kex` lists what it knows)",
                unknown.join(", ")
            )));
        }
    }
    Ok(SshSettings {
        user: pb.connection.user.clone(),
        port: pb.target.port,
        identity: pb.connection.identity.clone(),
        connect_timeout: pb.connection.connect_timeout,
        control_persist: pb.connection.control_persist,
        use_ssh_config: pb.connection.ssh_config,
        kex_algorithms: pb.connection.kex_algorithms.clone(),
        run_dir: dir.to_path_buf(),
    })
}
