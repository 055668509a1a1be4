//! Every read of the inventory, written once for SQLite and PostgreSQL ([`Sql`]), with the rows
//! decoded into records. `site` scopes what belongs to one site (its PCs, runs, events, escrow); a
//! SQLite file holds one site, `""`.

use super::InventoryError;
use super::model::{
    AccountRecord, AccountState, ArchiveRecord, EscrowRecord, Event, EventFilter, EventRecord,
    OutcomeRecord, PcRecord, PcRef, ReadRecord, RunId,
};
use super::sql::{Row, Sql, Value, args};
use crate::mac::Mac;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

type R<T> = Result<T, InventoryError>;

const PC_COLUMNS: &str = "mac, ip, hostname, host_key, facts, first_seen, last_seen, number, site";
const ACCOUNT_COLUMNS: &str =
    "username, mac, request, state, created_at, deleted_at, user_sheet, pc_sheet, uid, shell";
const EVENT_COLUMNS: &str =
    "e.run, e.at, e.mac, e.other_mac, e.ip, e.hostname, e.kind, e.severity, e.text, e.since";
const OUTCOME_COLUMNS: &str = "run, mac, ip, step, ok, reason, duration_ms, at";

// ---- PCs ----

/// The PC with this MAC, whatever its site (a MAC is one PC).
pub(crate) fn pc(sql: &mut dyn Sql, mac: &Mac) -> R<Option<PcRecord>> {
    Ok(pcs_where(sql, "mac = ?1", &args![mac])?.pop())
}

/// The PC of `site` last seen at this address.
pub(crate) fn pc_by_ip(sql: &mut dyn Sql, site: &str, ip: Ipv4Addr) -> R<Option<PcRecord>> {
    Ok(pcs_where(
        sql,
        "site = ?1 AND ip = ?2 ORDER BY last_seen DESC LIMIT 1",
        &args![site, ip],
    )?
    .pop())
}

/// Every PC of `site`, by MAC.
pub(crate) fn pcs(sql: &mut dyn Sql, site: &str) -> R<Vec<PcRecord>> {
    pcs_where(sql, "site = ?1 ORDER BY mac", &args![site])
}

/// Every PC of `site` (`None`: of every site), with its site, by MAC.
pub(crate) fn pcs_with_sites(sql: &mut dyn Sql, site: Option<&str>) -> R<Vec<(PcRecord, String)>> {
    let rows = sql.query(
        &format!(
            "SELECT {PC_COLUMNS} FROM pcs WHERE CAST(?1 AS TEXT) IS NULL OR site = ?1 ORDER BY mac"
        ),
        &args![site],
    )?;
    rows.iter()
        .map(|r| Ok((pc_record(r)?, r.text(8)?)))
        .collect()
}

/// The PCs of any site whose address or hostname (`column`) is `value`, by MAC.
pub(crate) fn pcs_by(sql: &mut dyn Sql, column: PcColumn, value: &str) -> R<Vec<PcRecord>> {
    let filter = match column {
        PcColumn::Ip => "ip = ?1 ORDER BY mac",
        PcColumn::Hostname => "hostname = ?1 ORDER BY mac",
    };
    pcs_where(sql, filter, &args![value])
}

/// What [`pcs_by`] looks a PC up by.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PcColumn {
    Ip,
    Hostname,
}

fn pcs_where(sql: &mut dyn Sql, filter: &str, args: &[Value]) -> R<Vec<PcRecord>> {
    let rows = sql.query(
        &format!("SELECT {PC_COLUMNS} FROM pcs WHERE {filter}"),
        args,
    )?;
    rows.iter().map(pc_record).collect()
}

fn pc_record(r: &Row) -> R<PcRecord> {
    let facts = r.opt_text(4)?;
    Ok(PcRecord {
        mac: r.parse(0, "MAC address")?,
        ip: r.parse(1, "IP address")?,
        hostname: r.opt_text(2)?,
        // Older versions forgot a key by storing an empty one.
        host_key: r.opt_text(3)?.filter(|k| !k.trim().is_empty()),
        facts: facts
            .map(|f| serde_json::from_str(&f).map_err(|_| r.corrupt("facts document", &f)))
            .transpose()?,
        first_seen: r.parse(5, "timestamp")?,
        last_seen: r.parse(6, "timestamp")?,
        number: r.opt_u32(7, "PC number")?,
    })
}

// ---- accounts ----

/// The accounts rdplay may (and must) delete on this PC: every account recorded for its MAC that
/// is not deleted, pending ones included (their creation may or may not have reached the PC).
pub(crate) fn accounts_to_remove(sql: &mut dyn Sql, mac: &Mac) -> R<Vec<AccountRecord>> {
    accounts_where(
        sql,
        "mac = ?1 AND state != 'deleted' ORDER BY id",
        &args![mac],
    )
}

/// The accounts of one PC, oldest first.
pub(crate) fn accounts_of(sql: &mut dyn Sql, mac: &Mac) -> R<Vec<AccountRecord>> {
    accounts_where(sql, "mac = ?1 ORDER BY id", &args![mac])
}

/// Every account of `site`'s PCs (`None`: of every site), oldest first.
pub(crate) fn accounts(sql: &mut dyn Sql, site: Option<&str>) -> R<Vec<AccountRecord>> {
    accounts_where(
        sql,
        "CAST(?1 AS TEXT) IS NULL OR mac IN (SELECT mac FROM pcs WHERE site = ?1) ORDER BY id",
        &args![site],
    )
}

/// Every managed username not deleted (live or pending), across every site.
pub(crate) fn usernames_in_use(sql: &mut dyn Sql) -> R<HashSet<String>> {
    let rows = sql.query(
        "SELECT username FROM accounts WHERE state != 'deleted'",
        &[],
    )?;
    rows.iter().map(|r| r.text(0)).collect()
}

/// The highest uid rdplay gave an account on this PC, deleted ones included.
pub(crate) fn highest_uid(sql: &mut dyn Sql, mac: &Mac) -> R<Option<u32>> {
    sql.query_one("SELECT MAX(uid) FROM accounts WHERE mac = ?1", &args![mac])?
        .opt_u32(0, "uid")
}

fn accounts_where(sql: &mut dyn Sql, filter: &str, args: &[Value]) -> R<Vec<AccountRecord>> {
    let rows = sql.query(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {filter}"),
        args,
    )?;
    rows.iter()
        .map(|r| {
            let state = r.text(3)?;
            Ok(AccountRecord {
                username: r.text(0)?,
                mac: r.parse(1, "MAC address")?,
                request: r.text(2)?,
                uid: r.opt_u32(8, "uid")?,
                shell: r.opt_text(9)?,
                state: AccountState::parse(&state)
                    .ok_or_else(|| r.corrupt("account state", &state))?,
                created_at: r.parse(4, "timestamp")?,
                deleted_at: r.opt_parse(5, "timestamp")?,
                user_sheet: r.json::<Vec<PathBuf>>(6, "list of sheet paths")?,
                pc_sheet: r.json::<Vec<PathBuf>>(7, "list of sheet paths")?,
            })
        })
        .collect()
}

// ---- runs and outcomes ----

/// The PCs that failed in `site`'s last run that recorded outcomes (for `--limit @failed`); for
/// each PC, its last outcome in that run counts. A run killed before it finished counts too.
pub(crate) fn failed_in_last_run(sql: &mut dyn Sql, site: &str) -> R<Vec<PcRef>> {
    let rows = sql.query(
        "SELECT mac, ip FROM outcomes o
         WHERE run = (SELECT MAX(p.run) FROM outcomes p JOIN runs r ON r.id = p.run
                      WHERE r.site = ?1)
           AND NOT ok
           AND id = (SELECT MAX(id) FROM outcomes p WHERE p.run = o.run
                     AND COALESCE(p.mac, p.ip) = COALESCE(o.mac, o.ip))
         ORDER BY id",
        &args![site],
    )?;
    rows.iter()
        .map(|r| {
            Ok(PcRef {
                mac: r.opt_parse(0, "MAC address")?,
                ip: r.parse(1, "IP address")?,
            })
        })
        .collect()
}

/// The outcomes recorded for a PC, newest first, at most `limit`.
pub(crate) fn outcomes_of(sql: &mut dyn Sql, mac: &Mac, limit: u32) -> R<Vec<OutcomeRecord>> {
    let rows = sql.query(
        &format!("SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE mac = ?1 ORDER BY id DESC LIMIT ?2"),
        &args![mac, limit],
    )?;
    rows.iter()
        .map(|r| {
            Ok(OutcomeRecord {
                run: RunId(r.int(0)?),
                mac: r.opt_parse(1, "MAC address")?,
                ip: r.parse(2, "IP address")?,
                step: r.text(3)?,
                ok: r.bool(4)?,
                reason: r.opt_text(5)?,
                duration_ms: u64::try_from(r.int(6)?).unwrap_or(0),
                at: r.parse(7, "timestamp")?,
            })
        })
        .collect()
}

// ---- archives, events, escrow ----

/// The archives made of a PC's old accounts, oldest first (removed ones too).
pub(crate) fn archives_of(sql: &mut dyn Sql, mac: &Mac) -> R<Vec<ArchiveRecord>> {
    let rows = sql.query(
        "SELECT id, mac, username, request, path, bytes, sha256, created_at, removed_at
         FROM archives WHERE mac = ?1 ORDER BY id",
        &args![mac],
    )?;
    rows.iter()
        .map(|r| {
            Ok(ArchiveRecord {
                id: r.int(0)?,
                mac: r.parse(1, "MAC address")?,
                username: r.text(2)?,
                request: r.text(3)?,
                path: PathBuf::from(r.text(4)?),
                bytes: u64::try_from(r.int(5)?).unwrap_or(0),
                sha256: r.text(6)?,
                created_at: r.parse(7, "timestamp")?,
                removed_at: r.opt_parse(8, "timestamp")?,
            })
        })
        .collect()
}

/// The events of `site`'s runs (`None`: of every site), oldest first: of one run, since a time,
/// or all.
pub(crate) fn events(
    sql: &mut dyn Sql,
    site: Option<&str>,
    filter: EventFilter,
) -> R<Vec<EventRecord>> {
    let from = format!(
        "SELECT {EVENT_COLUMNS} FROM events e JOIN runs r ON r.id = e.run
         WHERE (CAST(?1 AS TEXT) IS NULL OR r.site = ?1)"
    );
    let rows = match filter {
        EventFilter::All => sql.query(&format!("{from} ORDER BY e.id"), &args![site])?,
        EventFilter::Run(run) => sql.query(
            &format!("{from} AND e.run = ?2 ORDER BY e.id"),
            &args![site, run.0],
        )?,
        EventFilter::Since(t) => sql.query(
            &format!("{from} AND e.at >= ?2 ORDER BY e.id"),
            &args![site, t.to_string()],
        )?,
    };
    rows.iter().map(event_record).collect()
}

fn event_record(r: &Row) -> R<EventRecord> {
    let severity = r.text(7)?;
    Ok(EventRecord {
        run: RunId(r.int(0)?),
        at: r.parse(1, "timestamp")?,
        event: Event {
            kind: r.text(6)?,
            severity: crate::changes::Severity::parse(&severity)
                .ok_or_else(|| r.corrupt("severity", &severity))?,
            mac: r.opt_parse(2, "MAC address")?,
            other_mac: r.opt_parse(3, "MAC address")?,
            ip: r.opt_parse(4, "IP address")?,
            hostname: r.opt_text(5)?,
            text: r.text(8)?,
            since: r.opt_parse(9, "timestamp")?,
        },
    })
}

/// The escrowed passwords, newest first: of one account (`Some(name)`; names are unique across
/// sites), or of every account of `site` not deleted (`None`).
pub(crate) fn escrowed(
    sql: &mut dyn Sql,
    site: &str,
    username: Option<&str>,
) -> R<Vec<EscrowRecord>> {
    let columns = "e.id, e.mac, e.username, e.request, e.at, e.recipients, e.ciphertext";
    let rows = match username {
        Some(name) => sql.query(
            &format!("SELECT {columns} FROM escrow e WHERE e.username = ?1 ORDER BY e.id DESC"),
            &args![name],
        )?,
        None => sql.query(
            &format!(
                "SELECT {columns} FROM escrow e WHERE EXISTS (SELECT 1 FROM accounts a
                 WHERE a.username = e.username AND a.mac = e.mac AND a.state != 'deleted'
                 AND a.site = ?1) ORDER BY e.id DESC"
            ),
            &args![site],
        )?,
    };
    rows.iter()
        .map(|r| {
            Ok(EscrowRecord {
                id: r.int(0)?,
                mac: r.parse(1, "MAC address")?,
                username: r.text(2)?,
                request: r.text(3)?,
                at: r.parse(4, "timestamp")?,
                recipients: r.json(5, "list of recipients")?,
                ciphertext: r.blob(6)?,
            })
        })
        .collect()
}

/// The reads of escrowed passwords of `site`'s PCs (`None`: of every site's), oldest first.
pub(crate) fn reads(sql: &mut dyn Sql, site: Option<&str>) -> R<Vec<ReadRecord>> {
    let rows = sql.query(
        "SELECT at, username, mac, action, identity, local_user, local_host, reason FROM reads
         WHERE CAST(?1 AS TEXT) IS NULL OR mac IN (SELECT mac FROM pcs WHERE site = ?1)
         ORDER BY id",
        &args![site],
    )?;
    rows.iter()
        .map(|r| {
            Ok(ReadRecord {
                at: r.parse(0, "timestamp")?,
                username: r.text(1)?,
                mac: r.parse(2, "MAC address")?,
                action: r.text(3)?,
                identity: r.text(4)?,
                local_user: r.text(5)?,
                local_host: r.text(6)?,
                reason: r.opt_text(7)?,
            })
        })
        .collect()
}
