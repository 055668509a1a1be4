//! `rdplay inventory list|show|export`: read-only views of the inventory; `migrate` and `copy` for
//! a shared PostgreSQL one.
//!
//! Every text a PC supplied goes through [`for_terminal`] before it reaches the terminal.

use super::{CommandError, Output};
use crate::inventory::export::{self, Snapshot};
use crate::inventory::inert::for_terminal;
use crate::inventory::{
    AccountRecord, AccountState, Inventory, InventoryError, Lock, PcRecord, Store, glpi,
};
use jiff::Timestamp;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `rdplay inventory ...`
#[derive(Debug, clap::Subcommand)]
pub enum InventoryCommand {
    /// List PCs: MAC, IP, hostname, managed account, last seen (and site, in a shared inventory).
    List(ListArgs),
    /// Show everything about one PC: its facts, account history, archives and recent outcomes.
    Show(ShowArgs),
    /// Export the inventory as JSON, CSV (users and PCs) or GLPI inventory files.
    Export(ExportArgs),
    /// Forget a PC's pinned host key (after a reinstall): the next run makes first contact again.
    Forget(ShowArgs),
    /// Set a PC's number by hand (the naming pattern's `number`, on its label); numbers are unique.
    Renumber(RenumberArgs),
    /// What changed: PCs' hardware and system, cloned PCs, strangers (all, or of one run, or since a
    /// date).
    Changes(ChangesArgs),
    /// Every read of an escrowed password: when, which account, which key, who and why.
    Audit(SourceArgs),
    /// Bring the playbook's PostgreSQL inventory to this rdplay's schema (a run does it too);
    /// refuses a database newer than this rdplay.
    Migrate(MigrateArgs),
    /// Copy a site's SQLite inventory into the playbook's PostgreSQL one (for the playbook's site),
    /// idempotently: a second copy moves nothing.
    Copy(CopyArgs),
}

/// `rdplay inventory list`
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only this site's PCs (a shared inventory; default: every site).
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
}

/// `rdplay inventory migrate`
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The playbook naming the PostgreSQL inventory (`inventory.url`).
    #[arg(long, value_name = "PLAYBOOK")]
    pub playbook: PathBuf,
}

/// `rdplay inventory copy`
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The SQLite inventory to copy: `sqlite:PATH`.
    #[arg(long, value_name = "sqlite:PATH")]
    pub from: String,
    /// The playbook naming the PostgreSQL inventory (`inventory.url`) and the site.
    #[arg(long = "to", value_name = "PLAYBOOK")]
    pub to: PathBuf,
}

/// `rdplay inventory changes`
#[derive(Debug, clap::Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only those recorded on or after this day (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE", conflicts_with = "run")]
    pub since: Option<String>,
    /// Only those of this run (its number: `rdplay run` prints it with the changes).
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// Text (one sentence per change) or JSON (one object per change per line).
    #[arg(long, value_enum, default_value_t = ChangesFormat::Text)]
    pub format: ChangesFormat,
}

/// Output of `inventory changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChangesFormat {
    Text,
    Json,
}

/// `rdplay inventory renumber PC NUMBER`
#[derive(Debug, clap::Args)]
pub struct RenumberArgs {
    #[command(flatten)]
    pub pc: ShowArgs,
    /// Its new number (1 or more; no other PC may have it).
    #[arg(value_name = "NUMBER", value_parser = clap::value_parser!(u32).range(1..))]
    pub number: u32,
}

/// Which inventory to read: the one a playbook names, or a database file.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "source", required = true, multiple = false)]
pub struct SourceArgs {
    /// Read the inventory this playbook names.
    #[arg(long, value_name = "PLAYBOOK")]
    pub playbook: Option<PathBuf>,
    /// Read this inventory database.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

/// `rdplay inventory show PC`
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The PC: a MAC address, an IPv4 address or a hostname.
    #[arg(value_name = "PC")]
    pub pc: String,
}

/// `rdplay inventory export`
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The export format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write into this directory (created 0700; files 0600): inventory.json, users.csv and pcs.csv, or
    /// one <MAC>.json per PC for glpi. Without it, json and csv go to standard output.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Only this site's PCs (a shared inventory; default: every site).
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object: `pcs` and `accounts`.
    Json,
    /// users.csv and pcs.csv, with formula-looking cells escaped.
    Csv,
    /// One GLPI agent inventory document per PC (needs -o DIR).
    Glpi,
}

/// Runs an inventory command.
pub fn run(cmd: InventoryCommand) -> Result<Output, CommandError> {
    let mut notes = Vec::new();
    let text = match cmd {
        InventoryCommand::List(args) => open_any(&args.source).and_then(|inv| {
            let (mut snapshot, location) = snapshot(&inv, args.site.as_deref())?;
            if args.site.is_some() {
                // One site's list reads like that site's own file's: no SITE column.
                snapshot.sites.clear();
            }
            Ok(list_snapshot(&snapshot, &location))
        }),
        InventoryCommand::Show(args) => {
            open_any(&args.source).and_then(|inv| Ok(show(&inv, &args.pc)?))
        }
        InventoryCommand::Export(args) => open_any(&args.source).and_then(|inv| {
            let (snapshot, _) = snapshot(&inv, args.site.as_deref())?;
            export(&snapshot, &args, &mut notes)
        }),
        InventoryCommand::Forget(args) => forget(&args),
        InventoryCommand::Renumber(args) => renumber(&args),
        InventoryCommand::Changes(args) => {
            open_any(&args.source).and_then(|inv| changes(&inv, &args))
        }
        InventoryCommand::Audit(source) => open_any(&source).and_then(|inv| audit(&inv)),
        InventoryCommand::Migrate(args) => migrate(&args),
        InventoryCommand::Copy(args) => copy(&args),
    }?;
    Ok(Output {
        notes,
        ..Output::text(text)
    })
}

/// The recorded changes, as sentences (`2026-11-30  warning  pc12: memory 8.0 GiB → 4.0 GiB since
/// 2026-09-01`) or JSON lines.
fn changes(inventory: &Inventory, args: &ChangesArgs) -> Result<String, CommandError> {
    use crate::inventory::{EventFilter, RunId};
    let filter = match (&args.since, args.run) {
        (_, Some(run)) => EventFilter::Run(RunId(run)),
        (Some(since), None) => EventFilter::Since(parse_since(since)?),
        (None, None) => EventFilter::All,
    };
    let events = inventory.events(filter)?;
    let mut text = String::new();
    for e in &events {
        match args.format {
            ChangesFormat::Json => {
                text.push_str(&serde_json::to_string(e).map_err(CommandError::message)?);
                text.push('\n');
            }
            ChangesFormat::Text => {
                let _ = writeln!(
                    text,
                    "{}  run {:<4} {:<7}  {}",
                    e.at.strftime("%Y-%m-%d"),
                    e.run.0,
                    e.event.severity.as_str(),
                    for_terminal(&e.sentence())
                );
            }
        }
    }
    if events.is_empty() && args.format == ChangesFormat::Text {
        text.push_str("no changes recorded\n");
    }
    Ok(text)
}

/// The reads of escrowed passwords, one line each.
fn audit(inventory: &Inventory) -> Result<String, CommandError> {
    let reads = inventory.reads()?;
    let rows = reads
        .iter()
        .map(|r| {
            vec![
                when(r.at),
                r.action.clone(),
                r.username.clone(),
                r.mac.to_string(),
                r.identity.clone(),
                format!("{}@{}", r.local_user, r.local_host),
                r.reason.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    if reads.is_empty() {
        return Ok("no escrowed password was ever read\n".into());
    }
    Ok(table(
        &["WHEN", "READ", "ACCOUNT", "PC", "IDENTITY", "BY", "REASON"],
        rows,
        "",
    ))
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
fn parse_since(text: &str) -> Result<Timestamp, CommandError> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    text.parse::<jiff::civil::Date>()
        .map_err(|_| {
            CommandError::Message(format!(
                "--since {text:?}: give a day (2026-09-01) or a time (2026-09-01T08:00:00Z)"
            ))
        })
        .and_then(|d| {
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp())
                .map_err(CommandError::message)
        })
}

/// Clears the pinned host key of one PC, holding the run lock (never during a run).
fn forget(args: &ShowArgs) -> Result<String, CommandError> {
    let pc = change_pc(args, |inventory, pc| {
        Box::pin(inventory.forget_host_key(&pc.mac))
    })?;
    Ok(format!(
        "forgot the host key of {} ({}): the next run makes first contact with it again\n",
        pc.mac, pc.ip
    ))
}

/// Sets one PC's number, holding the run lock (never during a run).
fn renumber(args: &RenumberArgs) -> Result<String, CommandError> {
    let number = args.number;
    let pc = change_pc(&args.pc, move |inventory, pc| {
        Box::pin(inventory.renumber(&pc.mac, number))
    })?;
    let was = pc.number.map_or("none".to_string(), |n| n.to_string());
    Ok(format!(
        "{} ({}) is now PC number {number} (was {was}); its next account name and label carry it\n",
        pc.mac, pc.ip
    ))
}

type Change<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), InventoryError>> + 'a>>;

/// Finds the PC `args` names and makes one write about it, holding the run lock (of the playbook's
/// site, in a shared inventory); returns the PC as it was.
fn change_pc(
    args: &ShowArgs,
    write: impl for<'a> FnOnce(&'a Inventory, &'a PcRecord) -> Change<'a>,
) -> Result<PcRecord, CommandError> {
    let (inventory, _lock) = open_to_change(&args.source)?;
    let pc = inventory.find_pc(&args.pc)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(CommandError::message)?;
    runtime.block_on(write(&inventory, &pc))?;
    Ok(pc)
}

/// The inventory `source` names, of either kind, opened to write with its run lock held (never
/// during a run).
fn open_to_change(source: &SourceArgs) -> Result<(Inventory, Lock), CommandError> {
    match (&source.db, &source.playbook) {
        (Some(db), _) => Ok(Inventory::open_for_run(db)?),
        (None, Some(playbook)) => {
            let pb = crate::playbook::Playbook::load(playbook)?;
            Ok(Inventory::for_run(&pb.inventory, &pb.site, 1)?)
        }
        (None, None) => Err(no_source()),
    }
}

/// The inventory `source` names, of either kind, to read.
fn open_any(source: &SourceArgs) -> Result<Inventory, CommandError> {
    match (&source.db, &source.playbook) {
        (Some(db), _) => Ok(Inventory::open_read_only(db)?),
        (None, Some(playbook)) => {
            let pb = crate::playbook::Playbook::load(playbook)?;
            Ok(Inventory::to_read(&pb.inventory, &pb.site)?)
        }
        (None, None) => Err(no_source()),
    }
}

fn no_source() -> CommandError {
    CommandError::Message("give --playbook PLAYBOOK or --db PATH".to_owned())
}

/// What `list` and the exports show, with where it was read: every PC, or one site's (a shared
/// inventory only).
fn snapshot(inventory: &Inventory, site: Option<&str>) -> Result<(Snapshot, String), CommandError> {
    let snapshot = inventory.snapshot(site)?;
    let location = match site {
        Some(site) => format!("{} (site {site})", inventory.location()),
        None => inventory.location(),
    };
    Ok((snapshot, location))
}

/// `rdplay inventory migrate`: the schema versions before and after.
fn migrate(args: &MigrateArgs) -> Result<String, CommandError> {
    let pb = crate::playbook::Playbook::load(&args.playbook)?;
    let Some(pg) = &pb.inventory.postgres else {
        return Err(CommandError::Message(format!(
            "{}: the playbook names a SQLite inventory ({}), which every run migrates itself; \
             `migrate` is for a shared one (`inventory.url`)",
            args.playbook.display(),
            pb.inventory.path.display()
        )));
    };
    let done = Inventory::migrate(pg)?;
    Ok(if done.from == done.to {
        format!(
            "the inventory database {} is at schema version {}: nothing to do\n",
            pg_name(pg),
            done.to
        )
    } else {
        format!(
            "migrated the inventory database {} from schema version {} to {}\n",
            pg_name(pg),
            done.from,
            done.to
        )
    })
}

fn pg_name(pg: &crate::playbook::Postgres) -> String {
    crate::playbook::sections::parse_postgres_url(&pg.url)
        .map(|u| u.server)
        .unwrap_or_else(|_| "(inventory.url)".into())
}

/// `rdplay inventory copy`: one line per table, then the totals.
fn copy(args: &CopyArgs) -> Result<String, CommandError> {
    let Some(path) = args.from.strip_prefix("sqlite:") else {
        return Err(CommandError::Message(format!(
            "--from {}: give the SQLite inventory as `sqlite:PATH`",
            args.from
        )));
    };
    let pb = crate::playbook::Playbook::load(&args.to)?;
    let Some(pg) = &pb.inventory.postgres else {
        return Err(CommandError::Message(format!(
            "--to {}: the playbook names no shared inventory (`inventory.url`)",
            args.to.display()
        )));
    };
    let counts = Inventory::copy_from_sqlite(pg, &pb.site, Path::new(path))?;
    let rows = counts
        .iter()
        .map(|c| {
            vec![
                c.table.to_string(),
                c.copied.to_string(),
                c.present.to_string(),
            ]
        })
        .collect();
    let (copied, present) = counts
        .iter()
        .fold((0, 0), |(c, p), t| (c + t.copied, p + t.present));
    Ok(format!(
        "copied {path} into {} as site {}: {copied} rows copied, {present} already there\n\n{}",
        pg_name(pg),
        pb.site,
        table(&["TABLE", "COPIED", "ALREADY THERE"], rows, "")
    ))
}

/// The `list` table; a SITE column when the PCs come from a shared inventory.
fn list_snapshot(snapshot: &Snapshot, location: &str) -> String {
    if snapshot.pcs.is_empty() {
        return format!("The inventory {location} holds no PCs yet.\n");
    }
    let sites = !snapshot.sites.is_empty();
    let rows = snapshot
        .pcs
        .iter()
        .map(|pc| {
            let site = sites.then(|| snapshot.sites.get(&pc.mac).cloned().unwrap_or_default());
            site.into_iter()
                .chain([
                    pc.mac.to_string(),
                    pc.ip.to_string(),
                    pc.hostname.clone().unwrap_or_else(|| "-".into()),
                    snapshot
                        .managed_account(&pc.mac)
                        .map(account_label)
                        .unwrap_or_else(|| "-".into()),
                    when(pc.last_seen),
                ])
                .collect()
        })
        .collect();
    let headers = ["SITE", "MAC", "IP", "HOSTNAME", "ACCOUNT", "LAST SEEN"];
    table(&headers[usize::from(!sites)..], rows, "")
}

fn account_label(a: &AccountRecord) -> String {
    match a.state {
        AccountState::Live => a.username.clone(),
        state => format!("{} ({state})", a.username),
    }
}

/// The `show PC` report.
pub fn show(inventory: &Inventory, query: &str) -> Result<String, InventoryError> {
    let pc = inventory.find_pc(query)?;
    let accounts = inventory.accounts_of(&pc.mac)?;
    let outcomes = inventory.outcomes_of(&pc.mac, 10)?;
    let mut out = format!("PC {}\n", pc.mac);
    for (label, value) in pc_fields(&pc) {
        let _ = writeln!(out, "  {label:<12} {}", for_terminal(&value));
    }
    out.push_str("\nAccounts (oldest first)\n");
    if accounts.is_empty() {
        out.push_str("  none\n");
    } else {
        let rows = accounts
            .iter()
            .map(|a| {
                vec![
                    a.username.clone(),
                    a.uid.map_or_else(|| "-".into(), |u| u.to_string()),
                    a.state.to_string(),
                    a.request.clone(),
                    when(a.created_at),
                    a.deleted_at.map(when).unwrap_or_else(|| "-".into()),
                    sheets(a),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "USERNAME", "UID", "STATE", "REQUEST", "CREATED", "DELETED", "SHEETS",
            ],
            rows,
            "  ",
        ));
    }
    let archives = inventory.archives_of(&pc.mac)?;
    if !archives.is_empty() {
        out.push_str("\nArchives of deleted accounts (oldest first)\n");
        let rows = archives
            .iter()
            .map(|a| {
                vec![
                    a.username.clone(),
                    when(a.created_at),
                    crate::text::bytes(a.bytes),
                    match a.removed_at {
                        Some(t) => format!("removed {}", when(t)),
                        None => "kept".into(),
                    },
                    a.sha256.clone(),
                    a.path.display().to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["ACCOUNT", "ARCHIVED", "SIZE", "FILE", "SHA256", "PATH"],
            rows,
            "  ",
        ));
    }
    out.push_str("\nRecent outcomes (newest first)\n");
    if outcomes.is_empty() {
        out.push_str("  none\n");
    } else {
        let rows = outcomes
            .iter()
            .map(|o| {
                vec![
                    o.run.0.to_string(),
                    o.step.clone(),
                    if o.ok { "ok".into() } else { "failed".into() },
                    format!("{:.1}s", o.duration_ms as f64 / 1000.0),
                    when(o.at),
                    o.reason.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        out.push_str(&table(
            &["RUN", "STEP", "RESULT", "DURATION", "AT", "REASON"],
            rows,
            "  ",
        ));
    }
    Ok(out)
}

fn sheets(a: &AccountRecord) -> String {
    let all: Vec<String> = a
        .user_sheet
        .iter()
        .chain(&a.pc_sheet)
        .map(|p| p.display().to_string())
        .collect();
    if all.is_empty() {
        "-".into()
    } else {
        all.join(", ")
    }
}

fn pc_fields(pc: &PcRecord) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        (
            "number",
            pc.number
                .map_or_else(|| "none yet".to_string(), |n| n.to_string()),
        ),
        ("IP address", pc.ip.to_string()),
        (
            "hostname",
            pc.hostname.clone().unwrap_or_else(|| "-".into()),
        ),
        ("first seen", when(pc.first_seen)),
        ("last seen", when(pc.last_seen)),
    ];
    for key in pc.host_key.iter().flat_map(|k| k.lines()) {
        fields.push(("host key", key.to_owned()));
    }
    let Some(f) = &pc.facts else {
        fields.push(("facts", "none yet (the PC was never renewed)".into()));
        return fields;
    };
    let mut push = |label, value: Option<String>| {
        if let Some(v) = value {
            fields.push((label, v));
        }
    };
    push("OS", f.os.clone());
    push(
        "kernel",
        f.kernel.clone().map(|k| {
            format!("{k} {}", f.arch.clone().unwrap_or_default())
                .trim_end()
                .to_owned()
        }),
    );
    push(
        "CPU",
        f.cpu_model.clone().map(|m| match f.cpu_cores {
            Some(n) => format!("{m} ({n} cores)"),
            None => m,
        }),
    );
    push("memory", f.memory_kib.map(|k| format!("{} MiB", k / 1024)));
    for d in &f.disks {
        let size = format!("{:.1} GB", d.size_bytes as f64 / 1e9);
        push(
            "disk",
            Some(
                format!("{} {size} {}", d.name, d.model.clone().unwrap_or_default())
                    .trim_end()
                    .to_owned(),
            ),
        );
    }
    for i in &f.interfaces {
        let mac = i.mac.clone().unwrap_or_else(|| "-".into());
        push(
            "network",
            Some(
                format!("{} {mac} {}", i.name, i.addresses.join(" "))
                    .trim_end()
                    .to_owned(),
            ),
        );
    }
    let dmi: Vec<&str> = [&f.dmi_vendor, &f.dmi_model, &f.dmi_serial]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    push("hardware", (!dmi.is_empty()).then(|| dmi.join(" / ")));
    push(
        "uptime",
        f.uptime_seconds
            .map(|s| format!("{}d {}h {}m", s / 86400, s % 86400 / 3600, s % 3600 / 60)),
    );
    push(
        "logged in",
        (!f.logged_in.is_empty()).then(|| f.logged_in.join(", ")),
    );
    fields
}

fn export(
    snapshot: &Snapshot,
    args: &ExportArgs,
    notes: &mut Vec<String>,
) -> Result<String, CommandError> {
    let files: Vec<(String, String)> = match args.format {
        Format::Json => vec![("inventory.json".into(), export::json(snapshot))],
        Format::Csv => vec![
            ("users.csv".into(), export::users_csv(snapshot)),
            ("pcs.csv".into(), export::pcs_csv(snapshot)),
            ("changes.csv".into(), export::changes_csv(snapshot)),
        ],
        Format::Glpi => {
            if args.output.is_none() {
                return Err(CommandError::Message(
                    "--format glpi writes one file per PC: give the directory with -o DIR".into(),
                ));
            }
            snapshot
                .pcs
                .iter()
                .map(|pc| {
                    let doc = glpi::document(pc, &snapshot.accounts);
                    (
                        glpi::file_name(pc),
                        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n",
                    )
                })
                .collect()
        }
    };
    match &args.output {
        Some(dir) => {
            let written = export::write_files(dir, &files)?;
            notes.push(format!(
                "wrote {} file(s) into {}",
                written.len(),
                dir.display()
            ));
            Ok(String::new())
        }
        None => Ok(files
            .into_iter()
            .map(|(_, text)| text)
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// A UTC time to the second, as shown in tables.
fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Aligned columns; every cell is made terminal-safe first.
fn table(headers: &[&str], rows: Vec<Vec<String>>, indent: &str) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.iter().map(|c| for_terminal(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut text = indent.to_owned();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let _ = write!(text, "{cell:<w$}");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut headers.iter().copied());
    for row in &rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}
