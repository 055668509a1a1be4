//! The inventory against real SQLite files in temporary directories: schema, modes, lock, request
//! numbers, the crash property of the journal, hostile PC text, exports, and write batching.
//!
//! The tests of the store itself run against both backends ([`on_both!`]): a SQLite file and a
//! shared PostgreSQL database (a throwaway cluster, tests/common/postgres.rs): the journal, request
//! numbers, uids, PC numbers and renumbering, finding PCs, outcomes, readers during a run, the run
//! lock, escrow and its reads, rekeys, events, clones, forgetting a key, and the snapshot the
//! listing and exports print: every `Store` method. Those that stay on SQLite alone, and why:
//! - `migrates_from_empty_and_reopens`, `refuses_a_schema_from_a_newer_rdplay`: SQLite's
//!   `PRAGMA user_version` (PostgreSQL's migrations: tests/postgres.rs,
//!   `migrate_brings_the_schema_up_and_refuses_a_newer_database`);
//! - `files_are_0600_in_a_0700_directory`, `read_only_creates_nothing`: the file and its modes;
//! - `the_lock_is_a_flock_seen_by_other_processes`, `kill_9_frees_the_lock_and_keeps_the_intent`:
//!   the lock file's `flock` (the site lock: tests/postgres.rs, `kill_9_frees_the_site_lock`);
//! - `fifty_concurrent_pcs_share_commits`: the SQLite writer's batching of commits;
//! - `inventory_is_send_sync_and_clone`: a compile-time check of the type;
//! - the output snapshots (`json_export_field_names`, `list_and_show_output`, the CSV and GLPI
//!   exports) of `rdplay inventory ... --db FILE`: both backends fill the same `Snapshot` they
//!   print, and tests/postgres.rs (`copy_from_a_finished_sqlite_run_reproduces_its_list_and_export`)
//!   checks that a shared inventory holding a real lab run's history lists, shows and exports
//!   (JSON, CSV, GLPI) byte for byte as the file does. Hostile hostnames and archives, which that
//!   run has none of, run on both here.

mod common;

use common::journal::{facts, m, renew, renew_reporting, to_remove};
use common::snapshot::Redact;

use rdplay::facts::{Facts, Interface};
use rdplay::inventory::{
    AccountState, Archived, Intent, Inventory, InventoryError, Lock, PcOutcome, PcSeen, Renewal,
    SCHEMA_VERSION, Store, lock_path,
};
use rdplay::mac::Mac;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MAC_A: &str = "52:54:00:00:00:0a";
const MAC_B: &str = "52:54:00:00:00:0b";
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 10);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 11);

/// A temporary state directory on the target's disk (not tmpfs), so fsync costs what it costs.
fn state_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn user_version(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// Where a test's inventory lives: a SQLite file, or one site of a shared PostgreSQL database.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(common::postgres::PgCluster, tempfile::TempDir),
}

impl Place {
    fn sqlite() -> Place {
        Place::Sqlite(state_dir())
    }

    fn postgres() -> Place {
        Place::Postgres(common::postgres::PgCluster::start(), state_dir())
    }

    /// Opens it for a run, as a new rdplay process would.
    fn open(&self) -> (Inventory, Lock) {
        Inventory::for_run(&self.config(), "SS", 8).expect("open the inventory")
    }

    /// Opens it to read, as `run --check` or `rdplay inventory` would.
    fn open_read_only(&self) -> Inventory {
        Inventory::to_read(&self.config(), "SS").expect("open the inventory to read")
    }

    /// How messages name it: the file, or the server as `USER@HOST:PORT/DATABASE`.
    fn name(&self) -> String {
        match self {
            Place::Sqlite(dir) => dir.path().join("inventory.sqlite").display().to_string(),
            Place::Postgres(pg, _) => format!("rdplay@{}:5432/rdplay", pg.socket_dir().display()),
        }
    }

    /// The arguments naming it to `rdplay inventory ...`: the file (`--db`), or a playbook of site
    /// SS whose inventory is the shared database (`--playbook`).
    fn args(&self) -> Vec<String> {
        match self {
            Place::Sqlite(dir) => vec![
                "--db".into(),
                dir.path().join("inventory.sqlite").display().to_string(),
            ],
            Place::Postgres(pg, dir) => {
                let path = dir.path().join("pb.yml");
                let text = format!(
                    "site: SS\ntarget:\n  network: 10.0.0.0/24\n  ranges: 2-40\nexchange:\n  \
                     admin_user: tech\n  password: prompt\ninventory: {}\n",
                    pg.inventory_yaml(dir.path())
                );
                common::write_private(&path, text.as_bytes());
                vec!["--playbook".into(), path.display().to_string()]
            }
        }
    }

    /// The scratch directory beside it (for files a test writes).
    fn dir(&self) -> &Path {
        match self {
            Place::Sqlite(dir) | Place::Postgres(_, dir) => dir.path(),
        }
    }

    /// The playbook's `inventory` section naming it.
    fn config(&self) -> rdplay::playbook::InventoryConfig {
        match self {
            Place::Sqlite(dir) => rdplay::playbook::InventoryConfig {
                path: dir.path().join("inventory.sqlite"),
                history: 3,
                fail_on: None,
                postgres: None,
            },
            Place::Postgres(pg, dir) => rdplay::playbook::InventoryConfig {
                path: dir.path().join("unused.sqlite"),
                history: 3,
                fail_on: None,
                postgres: Some(rdplay::playbook::Postgres {
                    url: pg.url(),
                    password: Some(rdplay::playbook::PasswordSource::File(
                        pg.password_file(dir.path()),
                    )),
                    tls: rdplay::playbook::TlsMode::Disable,
                    ca: None,
                }),
            },
        }
    }
}

/// One test body, run against each backend: `NAME::sqlite` and `NAME::postgres`. The body gets a
/// function that makes a new, empty place.
macro_rules! on_both {
    ($name:ident, |$new:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn test($new: fn() -> Place) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                test(Place::sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
            async fn postgres() {
                test(Place::postgres).await
            }
        }
    };
}

#[test]
fn inventory_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Inventory>();
}

#[tokio::test]
async fn migrates_from_empty_and_reopens() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    let (inv, lock) = Inventory::open_for_run(&db).unwrap();
    assert!(inv.pcs().unwrap().is_empty());
    assert!(inv.accounts().unwrap().is_empty());
    let journal_mode = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .unwrap()
    };
    assert_eq!(journal_mode(), "wal", "write-ahead logging during a run");
    drop((inv, lock));
    assert_eq!(
        journal_mode(),
        "delete",
        "a clean close leaves no -wal/-shm for readers to need"
    );
    assert_eq!(user_version(&db), SCHEMA_VERSION);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "accounts",
            "archives",
            "escrow",
            "events",
            "facts_history",
            "journal",
            "outcomes",
            "pcs",
            "reads",
            "requests",
            "runs"
        ]
    );
    drop(conn);
    // A second open applies nothing and keeps the data.
    let (inv, _lock) = Inventory::open_for_run(&db).unwrap();
    let run = inv
        .begin_run(Path::new("pb.yml"), "sha256:x")
        .await
        .unwrap();
    renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 3).await;
    drop((inv, _lock));
    let (inv, _lock) = Inventory::open_for_run(&db).unwrap();
    assert_eq!(inv.accounts().unwrap().len(), 1);
    assert_eq!(user_version(&db), SCHEMA_VERSION);
}

#[test]
fn refuses_a_schema_from_a_newer_rdplay() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    drop(Inventory::open_for_run(&db).unwrap());
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Inventory::open_for_run(&db).expect_err("refused");
    assert!(
        matches!(err, InventoryError::TooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("use a newer rdplay"), "{err}");
    let err = Inventory::open_read_only(&db).expect_err("refused");
    assert!(matches!(err, InventoryError::TooNew { .. }), "{err}");
}

#[tokio::test]
async fn files_are_0600_in_a_0700_directory() {
    let dir = state_dir();
    let state = dir.path().join("state").join("rdplay");
    let db = state.join("inventory.sqlite");
    let (inv, lock) = Inventory::open_for_run(&db).unwrap();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 1).await;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&lock_path(&db)), 0o600);
    let Lock::File(file_lock) = &lock else {
        panic!("a SQLite inventory's lock is its lock file")
    };
    assert_eq!(file_lock.path(), lock_path(&db));
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    assert!(wal.exists(), "WAL mode keeps a -wal file while open");
    assert_eq!(mode(&wal), 0o600);
    drop((inv, lock));
    // An existing database with loose permissions is tightened.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _open = Inventory::open_for_run(&db).unwrap();
    assert_eq!(mode(&db), 0o600);
}

#[tokio::test]
async fn read_only_creates_nothing() {
    let dir = state_dir();
    let missing = dir.path().join("nowhere").join("inventory.sqlite");
    let inv = Inventory::open_read_only(&missing).unwrap();
    assert!(inv.pcs().unwrap().is_empty());
    assert!(inv.accounts_to_remove(&m(MAC_A)).unwrap().is_empty());
    assert!(inv.usernames_in_use().unwrap().is_empty());
    assert!(!dir.path().join("nowhere").exists(), "no directory created");
    let err = inv
        .begin_run(Path::new("pb.yml"), "d")
        .await
        .expect_err("read-only");
    assert!(matches!(err, InventoryError::ReadOnly { .. }), "{err}");

    let db = dir.path().join("inventory.sqlite");
    {
        let (inv, _lock) = Inventory::open_for_run(&db).unwrap();
        let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
        renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 3).await;
    }
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    let inv = Inventory::open_read_only(&db).unwrap();
    assert_eq!(inv.pcs().unwrap().len(), 1);
    assert_eq!(
        to_remove(&inv, MAC_A),
        [("eleve-0001".into(), AccountState::Live)]
    );
    drop(inv);
    assert_eq!(listing(), before, "a read-only open leaves no file behind");
}

on_both!(read_only_sees_a_run_in_progress, |new| {
    let place = new();
    let (inv, _lock) = place.open();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 1).await;
    let check = place.open_read_only();
    assert_eq!(
        to_remove(&check, MAC_A),
        [("eleve-0001".into(), AccountState::Pending)]
    );
});

on_both!(a_second_opener_is_refused_until_the_first_is_gone, |new| {
    let place = new();
    let (inv, lock) = place.open();
    let config = place.config();
    let err = Inventory::for_run(&config, "SS", 8).expect_err("locked");
    let text = err.to_string();
    assert!(
        text.contains(&place.name()) && text.contains("another rdplay run"),
        "{err}"
    );
    // Readers are not blocked by the run lock.
    place.open_read_only();
    drop(lock);
    drop(inv);
    assert!(Inventory::for_run(&config, "SS", 8).is_ok());
});

fn has_flock() -> bool {
    Command::new("flock")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_lock_is_a_flock_seen_by_other_processes() {
    if !has_flock() {
        panic!("this test needs flock(1) from util-linux");
    }
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    let lock_file = lock_path(&db);
    let try_flock = || {
        Command::new("flock")
            .arg("-n")
            .arg(&lock_file)
            .arg("true")
            .status()
            .unwrap()
            .success()
    };
    let held = Inventory::open_for_run(&db).unwrap();
    assert!(
        !try_flock(),
        "flock -n must fail while a run holds the lock"
    );
    drop(held);
    assert!(try_flock(), "flock -n must succeed once the run is over");
    // And the other way round: a lock held by another process refuses the run.
    let mut holder = Command::new("flock")
        .arg(&lock_file)
        .arg("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Inventory::open_for_run(&db) {
            Err(InventoryError::Locked { .. }) => break,
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            other => panic!(
                "expected the lock to be taken by flock(1): {:?}",
                other.err()
            ),
        }
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
}

const HELPER_ENV: &str = "RDPLAY_INVENTORY_TEST_HELPER_DB";
const READY: &str = "crash-helper-ready";

/// Not a test: the process that `kill_9_frees_the_lock_and_keeps_the_intent` kills. It opens the
/// inventory for a run, records an intent, says it is ready and sleeps.
#[tokio::test]
#[ignore = "helper process for kill_9_frees_the_lock_and_keeps_the_intent"]
async fn crash_helper() {
    let Some(db) = std::env::var_os(HELPER_ENV) else {
        eprintln!(
            "crash_helper only runs as the child of kill_9_frees_the_lock_and_keeps_the_intent"
        );
        return;
    };
    let (inv, _lock) = Inventory::open_for_run(Path::new(&db)).unwrap();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    renew(&inv, run, MAC_B, IP_B, "eleve-0099", "pc-b", 1).await;
    // On a line of its own: libtest may already have printed `test crash_helper ... `.
    println!("\n{READY}");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn kill_9_frees_the_lock_and_keeps_the_intent() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    {
        let (inv, _lock) = Inventory::open_for_run(&db).unwrap();
        let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
        renew(&inv, run, MAC_B, IP_B, "eleve-0001", "pc-b", 3).await;
    }
    let mut child = common::spawn_test_helper("crash_helper", HELPER_ENV, db.as_os_str(), READY);
    let err = Inventory::open_for_run(&db).expect_err("the helper holds the lock");
    assert!(matches!(err, InventoryError::Locked { .. }), "{err}");
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup
    child.wait().unwrap();
    let (inv, _lock) = Inventory::open_for_run(&db).expect("a killed holder leaves no stuck lock");
    assert_eq!(
        to_remove(&inv, MAC_B),
        [
            ("eleve-0001".into(), AccountState::Live),
            ("eleve-0099".into(), AccountState::Pending)
        ],
        "the intent committed before the kill survives it"
    );
}

fn request_seq(request: &str) -> u64 {
    let parts: Vec<&str> = request.split('-').collect();
    assert_eq!(parts.len(), 3, "{request}");
    assert_eq!(parts[0], "REQ");
    assert_eq!(parts[1].len(), 8);
    assert!(parts[1].bytes().all(|b| b.is_ascii_digit()), "{request}");
    assert!(parts[2].len() >= 6, "{request}");
    parts[2].parse().unwrap()
}

on_both!(
    the_highest_uid_given_on_a_pc_counts_its_deleted_accounts,
    |new| {
        let place = new();
        let (inv, _lock) = place.open();
        let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
        assert_eq!(inv.highest_uid(&m(MAC_A)).unwrap(), None);
        renew(&inv, run, MAC_A, IP_A, "eleve-0007", "pc-a", 3).await;
        renew(&inv, run, MAC_B, IP_B, "eleve-0009", "pc-b", 3).await;
        // Renewed again: eleve-0007 (uid 1007) is deleted, eleve-0005 gets uid 1005 (an odd PC); the
        // highest stays 1007. Only PC A's accounts count for PC A.
        renew(&inv, run, MAC_A, IP_A, "eleve-0005", "pc-a", 3).await;
        assert_eq!(inv.highest_uid(&m(MAC_A)).unwrap(), Some(1007));
        assert_eq!(inv.highest_uid(&m(MAC_B)).unwrap(), Some(1009));
        let uids: Vec<Option<u32>> = inv
            .accounts_of(&m(MAC_A))
            .unwrap()
            .iter()
            .map(|a| a.uid)
            .collect();
        assert_eq!(uids, vec![Some(1007), Some(1005)]);
        // An intent alone records no uid.
        renew(&inv, run, MAC_A, IP_A, "eleve-0042", "pc-a", 1).await;
        assert_eq!(inv.highest_uid(&m(MAC_A)).unwrap(), Some(1007));
    }
);

on_both!(
    request_numbers_are_unique_and_monotonic_across_runs,
    |new| {
        let place = new();
        let mut all = Vec::new();
        for _ in 0..3 {
            let (inv, _lock) = place.open();
            let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
            for _ in 0..4 {
                all.push(inv.next_request(run).await.unwrap());
            }
            inv.finish_run(run).await.unwrap();
        }
        let seqs: Vec<u64> = all.iter().map(|r| request_seq(r)).collect();
        assert_eq!(seqs, (1..=12).collect::<Vec<_>>(), "{all:?}");
        assert_eq!(all[0].len(), "REQ-20250101-000001".len());
        let today = jiff::Timestamp::now().strftime("%Y%m%d").to_string();
        assert!(all[11].contains(&today), "{}", all[11]);
    }
);

on_both!(a_hundred_concurrent_requests_get_distinct_numbers, |new| {
    let place = new();
    let (inv, _lock) = place.open();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    let first = inv.next_request(run).await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let inv = inv.clone();
            tokio::spawn(async move { inv.next_request(run).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(request_seq(&t.await.unwrap()));
    }
    let distinct: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(distinct.len(), 100);
    seqs.sort();
    assert_eq!(
        seqs,
        (request_seq(&first) + 1..=request_seq(&first) + 100).collect::<Vec<_>>()
    );
});

// The crash property at the data level: stop after each journal step, reopen as a new run would, and
// check what it would delete; then let that run converge to exactly one live account.
on_both!(
    every_crash_point_leaves_the_accounts_to_remove_recorded,
    |new| {
        let expected: [(u8, &[(&str, AccountState)]); 3] = [
            (
                1,
                &[
                    ("eleve-0001", AccountState::Live),
                    ("eleve-0002", AccountState::Pending),
                ],
            ),
            (2, &[("eleve-0002", AccountState::Pending)]),
            (3, &[("eleve-0002", AccountState::Live)]),
        ];
        for (stop, left) in expected {
            let place = new();
            {
                let (inv, _lock) = place.open();
                let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
                renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 3).await;
                inv.finish_run(run).await.unwrap();
            }
            {
                // The crashing run: no finish_run, the process "dies" with the inventory dropped.
                let (inv, _lock) = place.open();
                let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
                renew(&inv, run, MAC_A, IP_A, "eleve-0002", "pc-a", stop).await;
            }
            let (inv, _lock) = place.open();
            let want: Vec<(String, AccountState)> =
                left.iter().map(|(u, s)| (u.to_string(), *s)).collect();
            assert_eq!(
                to_remove(&inv, MAC_A),
                want,
                "after stopping at step {stop}"
            );
            let in_use = inv.usernames_in_use().unwrap();
            assert_eq!(
                in_use,
                want.iter().map(|(u, _)| u.clone()).collect(),
                "stop {stop}"
            );

            // The next normal run deletes every one of them and converges.
            let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
            renew(&inv, run, MAC_A, IP_A, "eleve-0003", "pc-a", 3).await;
            assert_eq!(
                to_remove(&inv, MAC_A),
                [("eleve-0003".into(), AccountState::Live)],
                "stop {stop}"
            );
            let deleted: Vec<_> = inv
                .accounts_of(&m(MAC_A))
                .unwrap()
                .into_iter()
                .filter(|a| a.state == AccountState::Deleted)
                .collect();
            assert_eq!(deleted.len(), 2, "stop {stop}");
            assert!(deleted.iter().all(|a| a.deleted_at.is_some()));
        }
    }
);

on_both!(the_journal_refuses_steps_out_of_order, |new| {
    let place = new();
    let (inv, _lock) = place.open();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    // Sheets before the renewal: refused, the account stays pending.
    let request = renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 1).await;
    let err = inv
        .sheets_written("eleve-0001", vec![], vec![])
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            InventoryError::UnknownAccount {
                expected: "renewed",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        to_remove(&inv, MAC_A),
        [("eleve-0001".into(), AccountState::Pending)]
    );
    // A renewal without an intent: refused.
    let renewal = Renewal {
        run,
        mac: m(MAC_B),
        request: request.clone(),
        new_username: "eleve-0002".into(),
        uid: Some(1002),
        shell: Some("/bin/sh".into()),
        deleted: vec![],
        leftover_files: 0,
        leftover_bytes: 0,
        hostname: "pc-b".into(),
        facts: Facts::default(),
        history: 3,
    };
    let err = inv.renewed(renewal).await.expect_err("refused");
    assert!(
        err.to_string()
            .contains("no intended account \"eleve-0002\" on PC 52:54:00:00:00:0b"),
        "{err}"
    );
    // A username already managed elsewhere: refused.
    let intent = Intent {
        run,
        mac: m(MAC_B),
        ip: IP_B,
        request: inv.next_request(run).await.unwrap(),
        new_username: "eleve-0001".into(),
        old_usernames: vec![],
        number: None,
    };
    let err = inv.intend(intent).await.expect_err("refused");
    assert!(
        matches!(&err, InventoryError::UsernameInUse { mac, .. } if mac == MAC_A),
        "{err}"
    );
    // A failed write in a batch does not undo the others.
    assert!(inv.accounts_of(&m(MAC_B)).unwrap().is_empty());
    assert_eq!(inv.accounts().unwrap().len(), 1);
});

on_both!(macs_are_stored_in_one_canonical_form, |new| {
    let place = new();
    let (inv, _lock) = place.open();
    // The inventory takes only the Mac type: what a user or a PC gives is parsed once, at the edge.
    for typed in ["52:54:00:00:00:0A", "52-54-00-00-00-0a"] {
        let mac = Mac::parse(typed).expect("a MAC in another form");
        inv.seen(PcSeen {
            mac,
            ip: IP_A,
            hostname: None,
        })
        .await
        .unwrap();
    }
    for bad in ["52540000000a", "x", "00:00:00:00:00:00"] {
        assert!(Mac::parse(bad).is_none(), "{bad}");
    }
    let pcs = inv.pcs().unwrap();
    assert_eq!(pcs.len(), 1, "one PC, however its MAC was written");
    assert_eq!(pcs[0].mac.as_str(), MAC_A);
});

on_both!(finds_pcs_by_mac_ip_or_hostname, |new| {
    let place = new();
    let (inv, _lock) = place.open();
    inv.seen(PcSeen {
        mac: m(MAC_A),
        ip: IP_A,
        hostname: Some("pc-a".into()),
    })
    .await
    .unwrap();
    inv.seen(PcSeen {
        mac: m(MAC_B),
        ip: IP_B,
        hostname: Some("pc-b".into()),
    })
    .await
    .unwrap();
    inv.pin_host_key(&m(MAC_A), IP_A, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA")
        .await
        .unwrap();
    assert_eq!(inv.find_pc("52-54-00-00-00-0A").unwrap().mac, m(MAC_A));
    assert_eq!(inv.find_pc("10.9.0.11").unwrap().mac, m(MAC_B));
    assert_eq!(
        inv.find_pc("pc-a").unwrap().host_key.as_deref(),
        Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA")
    );
    assert_eq!(
        inv.pc_by_ip(IP_A).unwrap().unwrap().hostname.as_deref(),
        Some("pc-a")
    );
    assert!(inv.pc_by_ip(Ipv4Addr::new(10, 9, 0, 99)).unwrap().is_none());
    assert!(matches!(
        inv.find_pc("pc-z"),
        Err(InventoryError::PcNotFound { .. })
    ));
    // A later `seen` without a hostname keeps the known one; a new address replaces the old.
    inv.seen(PcSeen {
        mac: m(MAC_B),
        ip: Ipv4Addr::new(10, 9, 0, 12),
        hostname: None,
    })
    .await
    .unwrap();
    let b = inv.pc(&m(MAC_B)).unwrap().unwrap();
    assert_eq!(
        (b.hostname.as_deref(), b.ip),
        (Some("pc-b"), Ipv4Addr::new(10, 9, 0, 12))
    );
    assert!(b.last_seen >= b.first_seen);
    inv.seen(PcSeen {
        mac: m(MAC_B),
        ip: IP_B,
        hostname: Some("pc-a".into()),
    })
    .await
    .unwrap();
    let err = inv.find_pc("pc-a").expect_err("ambiguous");
    assert!(
        err.to_string()
            .contains("52:54:00:00:00:0a, 52:54:00:00:00:0b"),
        "{err}"
    );
});

on_both!(runs_count_outcomes_and_remember_failures, |new| {
    let place = new();
    let (inv, _lock) = place.open();
    let outcome = |mac: Option<&str>, ip, ok| PcOutcome {
        mac: mac.map(m),
        ip,
        step: if ok {
            "render".into()
        } else {
            "exchange".into()
        },
        ok,
        reason: (!ok).then(|| "connection refused".to_owned()),
        duration: Duration::from_millis(1500),
    };
    let first = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    inv.outcome(first, outcome(Some(MAC_A), IP_A, true))
        .await
        .unwrap();
    inv.outcome(first, outcome(None, IP_B, false))
        .await
        .unwrap();
    let summary = inv.finish_run(first).await.unwrap();
    assert_eq!((summary.ok, summary.failed), (1, 1));
    assert!(summary.finished_at >= summary.started_at);
    let failed = inv.failed_in_last_run().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].mac.as_ref().map(|m| m.as_str()), failed[0].ip),
        (None, IP_B)
    );

    // A run killed half way still counts; a retry that succeeded is not a failure.
    let second = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    assert!(second > first);
    let c = Ipv4Addr::new(10, 9, 0, 13);
    inv.outcome(second, outcome(Some(MAC_A), IP_A, false))
        .await
        .unwrap();
    inv.outcome(second, outcome(Some(MAC_A), IP_A, true))
        .await
        .unwrap();
    inv.outcome(second, outcome(None, c, false)).await.unwrap();
    let failed = inv.failed_in_last_run().unwrap();
    assert_eq!(failed.iter().map(|f| f.ip).collect::<Vec<_>>(), [c]);
    let summary = inv.finish_run(second).await.unwrap();
    assert_eq!((summary.ok, summary.failed), (1, 1));
});

/// 50 PCs renewed at once, each with its six journal writes: the writer must batch them into far fewer
/// commits (fsyncs) than writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_pcs_share_commits() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    let (inv, _lock) = Inventory::open_for_run(&db).unwrap();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    let before = inv.write_stats().expect("a SQLite file counts its writes");
    let started = Instant::now();
    let tasks: Vec<_> = (0..50u8)
        .map(|i| {
            let inv = inv.clone();
            tokio::spawn(async move {
                let mac = format!("52:54:00:00:01:{i:02x}");
                let ip = Ipv4Addr::new(10, 9, 1, i + 10);
                renew(
                    &inv,
                    run,
                    &mac,
                    ip,
                    &format!("eleve-{i:04}"),
                    &format!("pc{i}"),
                    3,
                )
                .await;
                let outcome = PcOutcome {
                    mac: Some(m(&mac)),
                    ip,
                    step: "render".into(),
                    ok: true,
                    reason: None,
                    duration: Duration::from_millis(10),
                };
                inv.outcome(run, outcome).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let after = inv.write_stats().expect("a SQLite file counts its writes");
    let writes = after.writes - before.writes;
    let commits = after.commits - before.commits;
    eprintln!("50 PCs: {writes} writes in {commits} commits, {elapsed:?}");
    assert_eq!(writes, 50 * 6);
    assert!(
        commits * 3 <= writes,
        "{writes} writes in {commits} commits: not batched"
    );
    assert_eq!(inv.usernames_in_use().unwrap().len(), 50);
    assert_eq!(inv.finish_run(run).await.unwrap().ok, 50);

    // The same journal for 10 PCs one write at a time: one commit per write, as the counters must show.
    let before = inv.write_stats().expect("a SQLite file counts its writes");
    let started = Instant::now();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    for i in 0..10u8 {
        let mac = format!("52:54:00:00:02:{i:02x}");
        renew(
            &inv,
            run,
            &mac,
            Ipv4Addr::new(10, 9, 2, i + 10),
            &format!("solo-{i:04}"),
            "pc",
            3,
        )
        .await;
    }
    let after = inv.write_stats().expect("a SQLite file counts its writes");
    eprintln!(
        "10 PCs one after another: {} writes in {} commits, {:?}",
        after.writes - before.writes,
        after.commits - before.commits,
        started.elapsed()
    );
    assert_eq!(after.writes - before.writes, 1 + 10 * 5);
    assert_eq!(after.commits - before.commits, after.writes - before.writes);
}

fn rdplay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rdplay"))
        .args(args)
        .output()
        .expect("run rdplay")
}

/// `rdplay ARGS...` on the inventory at `place` ([`Place::args`]).
fn rdplay_on(place: &Place, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rdplay"))
        .args(args)
        .args(place.args())
        .output()
        .expect("run rdplay")
}

/// A small fleet with fixed names: PC A renewed twice then caught mid-renewal (0001 deleted, 0003 live,
/// 0004 pending), PC B renewed once, PC C only seen.
async fn fleet(db: &Path, hostname_b: &str) {
    let (inv, _lock) = Inventory::open_for_run(db).unwrap();
    fill(&inv, hostname_b).await;
}

/// [`fleet`] in any store.
async fn fill<S: Store>(inv: &S, hostname_b: &str) {
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    renew(inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 3).await;
    renew(inv, run, MAC_B, IP_B, "eleve-0002", hostname_b, 3).await;
    inv.pin_host_key(
        &m(MAC_A),
        IP_A,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfakekey",
    )
    .await
    .unwrap();
    renew(inv, run, MAC_A, IP_A, "eleve-0003", "pc-a", 3).await;
    renew(inv, run, MAC_A, IP_A, "eleve-0004", "pc-a", 1).await;
    let c = PcSeen {
        mac: m("52:54:00:00:00:0c"),
        ip: Ipv4Addr::new(10, 9, 0, 12),
        hostname: None,
    };
    inv.seen(c).await.unwrap();
    for (ok, step, reason) in [
        (false, "exec", Some("sshd closed the connection")),
        (true, "render", None),
    ] {
        let outcome = PcOutcome {
            mac: Some(m(MAC_A)),
            ip: IP_A,
            step: step.into(),
            ok,
            reason: reason.map(str::to_owned),
            duration: Duration::from_millis(2345),
        };
        inv.outcome(run, outcome).await.unwrap();
    }
    inv.finish_run(run).await.unwrap();
}

#[tokio::test]
async fn json_export_field_names() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    fleet(&db, "pc-b").await;
    let out = rdplay(&[
        "inventory",
        "export",
        "--format",
        "json",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let a = &doc["accounts"][0];
    assert_eq!(a["deleted_at"].as_str().map(|_| "set"), Some("set"));
    assert!(
        doc["accounts"][1]["deleted_at"].is_null(),
        "null while live"
    );
    insta::assert_snapshot!("json_export", Redact::new().apply(&text));
}

#[tokio::test]
async fn list_and_show_output() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    fleet(&db, "pc-b").await;
    let db = db.to_str().unwrap();
    let list = rdplay(&["inventory", "list", "--db", db]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let redact = Redact::new().path(db, "[DB]");
    insta::assert_snapshot!(
        "list",
        redact.apply(&String::from_utf8(list.stdout).unwrap())
    );
    let show = rdplay(&["inventory", "show", "pc-a", "--db", db]);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    insta::assert_snapshot!(
        "show",
        redact.apply(&String::from_utf8(show.stdout).unwrap())
    );
    let missing = rdplay(&["inventory", "show", "nope", "--db", db]);
    assert_eq!(missing.status.code(), Some(1));
    insta::assert_snapshot!(
        "show_missing",
        redact.apply(&String::from_utf8(missing.stderr).unwrap())
    );
}

on_both!(archives_are_recorded_and_shown_with_their_sha256, |new| {
    let place = new();
    {
        let (inv, _lock) = place.open();
        let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
        let request = renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 3).await;
        let mut ids = Vec::new();
        for (n, sha) in [(1, "ab".repeat(32)), (2, "cd".repeat(32))] {
            let archive = Archived {
                run,
                mac: m(MAC_A),
                username: "eleve-0001".into(),
                request: request.clone(),
                path: PathBuf::from(format!("/srv/archives/eleve-0001-{n}.tar.gz")),
                bytes: 3_400_000,
                sha256: sha,
            };
            ids.push(inv.archived(archive).await.unwrap());
        }
        inv.archive_removed(ids[0]).await.unwrap();
        let archives = inv.archives_of(&m(MAC_A)).unwrap();
        assert_eq!(archives.len(), 2);
        assert!(archives[0].removed_at.is_some() && archives[1].removed_at.is_none());
        assert_eq!(archives[1].bytes, 3_400_000);
        assert!(inv.archives_of(&m(MAC_B)).unwrap().is_empty());
    }
    let show = rdplay_on(&place, &["inventory", "show", MAC_A]);
    assert!(show.status.success(), "{show:?}");
    let text = String::from_utf8(show.stdout).unwrap();
    assert!(text.contains("Archives of deleted accounts"), "{text}");
    assert!(text.contains(&"cd".repeat(32)), "{text}");
    assert!(text.contains("/srv/archives/eleve-0001-2.tar.gz"), "{text}");
    assert!(text.contains("3.4 MB"), "{text}");
    assert!(text.contains("removed 20"), "{text}");
});

#[test]
fn an_absent_inventory_lists_as_empty_and_is_not_created() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    let out = rdplay(&["inventory", "list", "--db", db.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("holds no PCs yet")
    );
    assert!(!db.exists());
    let out = rdplay(&["inventory", "list"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a usage error (no --db or --playbook) exits 1, as every `could not run`"
    );
}

/// A hostname a hostile PC could report: a spreadsheet formula, ANSI escapes, BEL and a C1 control.
/// (A NUL never reaches the inventory: the report's reader replaces it, src/tasks/exec.rs.)
const HOSTILE: &str =
    "=HYPERLINK(\"http://evil.example/\",\"\u{1b}[31mclick\u{1b}[0m\")\u{7}\u{9b}";

on_both!(
    hostile_hostnames_are_stored_exactly_and_shown_inert,
    |new| {
        let place = new();
        {
            let (inv, _lock) = place.open();
            fill(&inv, HOSTILE).await;
        }
        let inv = place.open_read_only();
        let b = inv.pc(&m(MAC_B)).unwrap().unwrap();
        assert_eq!(b.hostname.as_deref(), Some(HOSTILE), "stored byte for byte");
        assert_eq!(b.facts.unwrap().hostname, HOSTILE);
        drop(inv);
        let raw_controls = |bytes: &[u8]| bytes.iter().any(|&b| b == 0x1b || b == 0 || b == 0x07);
        let c1 = |text: &str| text.contains('\u{9b}');

        for args in [vec!["inventory", "list"], vec!["inventory", "show", MAC_B]] {
            let out = rdplay_on(&place, &args);
            assert!(out.status.success());
            assert!(
                !raw_controls(&out.stdout),
                "{args:?} printed a raw control character"
            );
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(!c1(&text) && text.contains("\\x1b[31mclick"), "{text}");
        }

        let out = rdplay_on(&place, &["inventory", "export", "--format", "json"]);
        assert!(!raw_controls(&out.stdout));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            doc["pcs"][1]["hostname"], HOSTILE,
            "JSON keeps the exact value, escaped"
        );

        let out = rdplay_on(&place, &["inventory", "export", "--format", "csv"]);
        assert!(out.status.success());
        assert!(!raw_controls(&out.stdout));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!c1(&text));
        for line in text.lines() {
            for cell in line.split(',') {
                let cell = cell.trim_start_matches('"');
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "formula cell {cell:?} in {line}"
                );
            }
        }
        assert!(
            text.contains("\"'=HYPERLINK(\"\"http://evil.example/\"\""),
            "{text}"
        );

        let out_dir = place.dir().join("glpi");
        let out = rdplay_on(
            &place,
            &[
                "inventory",
                "export",
                "--format",
                "glpi",
                "-o",
                out_dir.to_str().unwrap(),
            ],
        );
        assert!(out.status.success());
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("52-54-00-00-00-0b.json")).unwrap())
                .unwrap();
        assert_eq!(doc["content"]["hardware"]["name"], HOSTILE);
        let deviceid = doc["deviceid"].as_str().unwrap();
        assert!(
            deviceid.starts_with("_HYPERLINK__http___evil.example___"),
            "{deviceid}"
        );
        assert!(
            deviceid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{deviceid}"
        );
    }
);

#[tokio::test]
async fn csv_export_to_a_directory_and_to_stdout() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    fleet(&db, "pc-b").await;
    let out_dir = dir.path().join("csv");
    let out = rdplay(&[
        "inventory",
        "export",
        "--format",
        "csv",
        "-o",
        out_dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&out_dir), 0o700);
    let users = std::fs::read_to_string(out_dir.join("users.csv")).unwrap();
    let pcs = std::fs::read_to_string(out_dir.join("pcs.csv")).unwrap();
    let changes = std::fs::read_to_string(out_dir.join("changes.csv")).unwrap();
    assert_eq!(
        changes, "run,at,severity,kind,mac,other_mac,ip,hostname,text,since\n",
        "nothing changed in this inventory"
    );
    assert_eq!(mode(&out_dir.join("users.csv")), 0o600);
    assert_eq!(mode(&out_dir.join("pcs.csv")), 0o600);
    assert!(users.starts_with(
        "username,mac,hostname,request,state,created_at,deleted_at,user_sheet,pc_sheet\n"
    ));
    assert_eq!(users.lines().count(), 1 + 4);
    assert!(
        users.contains("eleve-0004,52:54:00:00:00:0a,pc-a,REQ-"),
        "{users}"
    );
    assert!(pcs.starts_with("mac,ip,hostname,account,"));
    assert_eq!(pcs.lines().count(), 1 + 3);
    assert!(
        pcs.contains("52:54:00:00:00:0a,10.9.0.10,pc-a,eleve-0003,"),
        "the live account: {pcs}"
    );
    let stdout = rdplay(&[
        "inventory",
        "export",
        "--format",
        "csv",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(
        String::from_utf8(stdout.stdout).unwrap(),
        format!("{users}\n{pcs}\n{changes}")
    );
}

#[tokio::test]
async fn glpi_export_follows_the_agent_format() {
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    fleet(&db, "pc-b").await;
    let out_dir = dir.path().join("glpi");
    let dbs = db.to_str().unwrap();
    let refused = rdplay(&["inventory", "export", "--format", "glpi", "--db", dbs]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("-o DIR"));
    let out = rdplay(&[
        "inventory",
        "export",
        "--format",
        "glpi",
        "-o",
        out_dir.to_str().unwrap(),
        "--db",
        dbs,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&out_dir), 0o700);
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "52-54-00-00-00-0a.json",
            "52-54-00-00-00-0b.json",
            "52-54-00-00-00-0c.json"
        ]
    );
    for name in &names {
        assert_eq!(mode(&out_dir.join(name)), 0o600);
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join(name)).unwrap()).unwrap();
        // Required by inventory.schema.json.
        assert!(doc["deviceid"].is_string());
        assert!(
            doc["content"]["versionclient"]
                .as_str()
                .unwrap()
                .starts_with("rdplay_v")
        );
        assert_eq!(doc["itemtype"], "Computer");
        for key in ["hardware", "bios", "operatingsystem"] {
            assert!(doc["content"][key].is_object(), "{name}: {key}");
        }
        for key in ["cpus", "memories", "storages", "networks", "users"] {
            assert!(doc["content"][key].is_array(), "{name}: {key}");
        }
        for n in doc["content"]["networks"].as_array().unwrap() {
            assert!(n["description"].is_string(), "{n}");
            assert!(matches!(n["status"].as_str(), Some("up" | "down")), "{n}");
        }
        let logdate = doc["content"]["accesslog"]["logdate"].as_str().unwrap();
        assert_eq!(logdate.len(), "2018-10-11 04:55:07".len(), "{logdate}");
    }
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("52-54-00-00-00-0a.json")).unwrap())
            .unwrap();
    let c = &a["content"];
    assert_eq!(c["hardware"]["name"], "pc-a");
    assert_eq!(c["hardware"]["memory"], 8_048_000 / 1024);
    assert_eq!(c["bios"]["ssn"], "5XYZ123");
    assert_eq!(c["operatingsystem"]["kernel_name"], "linux");
    assert_eq!(
        c["operatingsystem"]["full_name"],
        "Debian GNU/Linux 12 (bookworm)"
    );
    assert_eq!(
        c["operatingsystem"]["ssh_key"],
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfakekey"
    );
    assert_eq!(
        c["operatingsystem"]["boot_time"].as_str().unwrap().len(),
        19
    );
    assert_eq!(c["cpus"][0]["core"], 4);
    assert_eq!(c["cpus"][0]["arch"], "x86_64");
    assert_eq!(c["memories"][0]["capacity"], 8_048_000 / 1024);
    assert_eq!(c["storages"][0]["disksize"], 256_060);
    assert_eq!(c["storages"][0]["name"], "sda");
    let nets = c["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 2, "one entry per address, as the agent does");
    assert!(nets.iter().all(|n| n["mac"] == MAC_A));
    assert_eq!(nets[0]["ipaddress"], "10.9.0.10");
    assert_eq!(nets[0]["ipmask"], "255.255.255.0");
    assert_eq!(nets[1]["ipaddress6"], "fe80::5054:ff:fe00:a");
    // The managed account (live, not the pending one of the unfinished renewal), then logged-in users.
    let users: Vec<&str> = c["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["eleve-0003", "alice"]);
    let seen_only: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("52-54-00-00-00-0c.json")).unwrap())
            .unwrap();
    assert_eq!(
        seen_only["content"]["networks"][0]["mac"],
        "52:54:00:00:00:0c"
    );
    assert_eq!(
        seen_only["content"]["networks"][0]["ipaddress"],
        "10.9.0.12"
    );
    assert!(
        seen_only["deviceid"]
            .as_str()
            .unwrap()
            .starts_with("52540000000c-")
    );
}

/// GLPI's own schema for its native inventory format (`tests/schemas/README.md` says where it comes from).
fn glpi_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/glpi-inventory.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("GLPI's schema compiles")
}

/// Each place where `doc` breaks the schema, as `path: error`.
fn schema_errors(schema: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    schema
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[tokio::test]
async fn every_glpi_document_validates_against_glpis_published_schema() {
    const MAC_D: &str = "52:54:00:00:00:0d";
    const MAC_E: &str = "52:54:00:00:00:0e";
    const UUID: &str = "4C4C4544-0038-3510-8052-B4C04F4E3232";
    let dir = state_dir();
    let db = dir.path().join("inventory.sqlite");
    // A and B: full facts (B's hostname hostile); C: only seen, no facts at all.
    fleet(&db, HOSTILE).await;
    {
        let (inv, _lock) = Inventory::open_for_run(&db).unwrap();
        let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
        let ip_d = Ipv4Addr::new(10, 9, 0, 13);
        // D: everything, the DMI UUID included.
        let full = Facts {
            dmi_uuid: Some(UUID.into()),
            ..facts("pc-d", MAC_D, ip_d)
        };
        renew_reporting(&inv, run, MAC_D, ip_d, "eleve-0013", full, 2).await;
        // E: what a thin client or a container answers: no DMI, no disks, an interface without
        // MAC or address, a CPU architecture the schema does not know, no hostname.
        let partial = Facts {
            hostname: String::new(),
            os: None,
            kernel: Some("6.12.0".into()),
            arch: Some("riscv64".into()),
            cpu_model: None,
            cpu_cores: Some(2),
            memory_kib: None,
            disks: vec![],
            interfaces: vec![Interface {
                name: "wlan0".into(),
                mac: None,
                addresses: vec![],
            }],
            dmi_vendor: None,
            dmi_model: None,
            dmi_serial: None,
            uptime_seconds: None,
            logged_in: vec![],
            machine_id: None,
            dmi_uuid: None,
        };
        let ip_e = Ipv4Addr::new(10, 9, 0, 14);
        renew_reporting(&inv, run, MAC_E, ip_e, "eleve-0014", partial, 2).await;
        inv.finish_run(run).await.unwrap();
    }
    let out_dir = dir.path().join("glpi");
    let out = rdplay(&[
        "inventory",
        "export",
        "--format",
        "glpi",
        "-o",
        out_dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schema = glpi_schema();
    let mut docs = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let path = entry.unwrap().path();
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let errors = schema_errors(&schema, &doc);
        assert!(
            errors.is_empty(),
            "{} breaks GLPI's schema:\n{}\n{doc:#}",
            path.display(),
            errors.join("\n")
        );
        let mac = path
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .replace('-', ":");
        docs.insert(mac, doc);
    }
    assert_eq!(
        docs.keys().map(String::as_str).collect::<Vec<_>>(),
        [MAC_A, MAC_B, "52:54:00:00:00:0c", MAC_D, MAC_E]
    );

    // What GLPI matches a computer on: its MACs, its serial, its UUID, each when known.
    let macs = |doc: &serde_json::Value| -> Vec<String> {
        doc["content"]["networks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["mac"].as_str().map(str::to_owned))
            .collect()
    };
    for (mac, doc) in &docs {
        assert!(macs(doc).contains(mac), "{mac}: {doc:#}");
        assert_eq!(doc["action"], "inventory");
        assert_eq!(doc["itemtype"], "Computer");
    }
    let d = &docs[MAC_D]["content"];
    assert_eq!(d["hardware"]["uuid"], UUID);
    assert_eq!(d["bios"]["ssn"], "5XYZ123");
    assert_eq!(docs[MAC_A]["content"]["bios"]["ssn"], "5XYZ123");
    let e = &docs[MAC_E]["content"];
    assert!(e["hardware"].get("uuid").is_none() && e["bios"].get("ssn").is_none());
    assert!(
        e["cpus"][0].get("arch").is_none(),
        "riscv64 is not in the schema's list: left out"
    );
    assert_eq!(e["networks"][0]["description"], "wlan0");
    assert_eq!(e["networks"][1]["ipaddress"], "10.9.0.14", "{e:#}");
    let c = &docs["52:54:00:00:00:0c"]["content"];
    assert_eq!(c["cpus"], serde_json::json!([]));

    // The schema bites: the key the export used to carry, and a status it does not know.
    let mut old = docs[MAC_D].clone();
    old["query"] = "INVENTORY".into();
    assert!(
        schema_errors(&schema, &old)
            .iter()
            .any(|e| e.contains("query")),
        "the schema rejects the top-level `query`"
    );
    let mut bad = docs[MAC_D].clone();
    bad["content"]["networks"][0]["status"] = "sideways".into();
    bad["content"]["networks"][0]["ipaddress"] = "10.9.0.300".into();
    assert_eq!(schema_errors(&schema, &bad).len(), 2, "{bad:#}");
}

on_both!(
    pc_numbers_are_the_smallest_free_kept_with_the_first_intent_and_unique,
    |new| {
        let place = new();
        let (inv, _lock) = place.open();
        let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
        let (a, b) = (m(MAC_A), m(MAC_B));
        let c = m("52:54:00:00:00:0c");
        // Proposed in the order given; nothing is recorded by proposing.
        let proposed = inv.numbers_for(&[b.clone(), a.clone()]).unwrap();
        assert_eq!((proposed[&b], proposed[&a]), (1, 2));
        assert!(inv.pcs().unwrap().is_empty());
        // Recorded with the PC's first intent.
        let intent = |mac: &Mac, number: u32, new: &str| Intent {
            run,
            mac: mac.clone(),
            ip: IP_A,
            request: format!("REQ-{new}"),
            new_username: new.into(),
            old_usernames: vec![],
            number: Some(number),
        };
        inv.intend(intent(&b, 1, "u1")).await.unwrap();
        // A later intent does not change it.
        inv.intend(intent(&b, 9, "u2")).await.unwrap();
        assert_eq!(inv.pc(&b).unwrap().unwrap().number, Some(1));
        // The next free number skips the ones taken; a known PC keeps its own.
        let proposed = inv.numbers_for(&[c.clone(), b.clone(), a.clone()]).unwrap();
        assert_eq!((proposed[&c], proposed[&b], proposed[&a]), (2, 1, 3));
        inv.intend(intent(&a, 3, "u3")).await.unwrap();
        // By hand: unique.
        let err = inv.renumber(&a, 1).await.unwrap_err();
        assert!(
            matches!(err, InventoryError::NumberInUse { number: 1, .. }),
            "{err}"
        );
        inv.renumber(&a, 5).await.unwrap();
        assert_eq!(inv.pc(&a).unwrap().unwrap().number, Some(5));
        assert!(inv.renumber(&c, 6).await.is_err(), "an unknown PC");
    }
);

on_both!(
    escrow_reads_events_forget_and_snapshot_are_one_contract,
    |new| {
        let place = new();
        let (inv, _lock) = place.open();
        let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
        let request = renew(&inv, run, MAC_A, IP_A, "eleve-0001", "pc-a", 3).await;
        renew(&inv, run, MAC_B, IP_B, "eleve-0002", "pc-b", 3).await;

        // Escrow: kept newest first, at most `keep` per PC; rekey replaces the ciphertext in place.
        for (i, keep) in [(1u8, 5), (2, 5), (3, 2)] {
            inv.escrow(
                &m(MAC_A),
                "eleve-0001",
                &request,
                run,
                vec![format!("age1recipient{i}")],
                vec![i; 4],
                keep,
            )
            .await
            .unwrap();
        }
        let kept = inv.escrowed(Some("eleve-0001")).unwrap();
        assert_eq!(
            kept.iter()
                .map(|e| e.ciphertext.clone())
                .collect::<Vec<_>>(),
            [vec![3; 4], vec![2; 4]],
            "the newest two of the PC"
        );
        assert_eq!(inv.escrowed(None).unwrap().len(), 2, "of live accounts");
        inv.rekey(kept[0].id, vec!["age1other".into()], vec![9; 3])
            .await
            .unwrap();
        let rekeyed = inv.escrowed(Some("eleve-0001")).unwrap();
        assert_eq!(
            (rekeyed[0].recipients.clone(), rekeyed[0].ciphertext.clone()),
            (vec!["age1other".to_string()], vec![9; 3])
        );
        assert!(inv.escrowed(Some("nobody")).unwrap().is_empty());

        // Every read is recorded, oldest first.
        assert!(inv.reads().unwrap().is_empty());
        for action in ["reprint", "show"] {
            inv.record_read(rdplay::inventory::ReadRecord {
                at: jiff::Timestamp::now(),
                username: "eleve-0001".into(),
                mac: m(MAC_A),
                action: action.into(),
                identity: "SHA256:abc".into(),
                local_user: "admin".into(),
                local_host: "controller".into(),
                reason: Some("lost sheet".into()),
            })
            .await
            .unwrap();
        }
        let reads = inv.reads().unwrap();
        assert_eq!(
            reads.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["reprint", "show"]
        );
        assert_eq!(reads[0].reason.as_deref(), Some("lost sheet"));

        // Fleet-wide events: recorded once, read back by run and in all.
        let clone = rdplay::inventory::Event {
            kind: "clone".into(),
            severity: rdplay::changes::Severity::Warning,
            mac: Some(m(MAC_B)),
            other_mac: Some(m(MAC_A)),
            ip: Some(IP_B),
            hostname: Some("pc-b".into()),
            text: "same machine-id as pc-a".into(),
            since: None,
        };
        let stranger = rdplay::inventory::Event {
            kind: "stranger".into(),
            mac: None,
            other_mac: None,
            hostname: None,
            text: "an unknown PC answered".into(),
            ..clone.clone()
        };
        let events = vec![clone.clone(), stranger.clone()];
        assert_eq!(inv.record_events(run, events.clone()).await.unwrap(), 2);
        assert_eq!(inv.record_events(run, events).await.unwrap(), 0, "once");
        let recorded = inv
            .events(rdplay::inventory::EventFilter::Run(run))
            .unwrap();
        assert_eq!(
            recorded.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
            [clone, stranger]
        );
        assert_eq!(
            inv.events(rdplay::inventory::EventFilter::All)
                .unwrap()
                .len(),
            2
        );

        // Two PCs with one host key are clones.
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBB";
        inv.pin_host_key(&m(MAC_A), IP_A, key).await.unwrap();
        inv.pin_host_key(&m(MAC_B), IP_B, key).await.unwrap();
        // (The test facts give both PCs one DMI serial too: only the key's conflict counts here.)
        let same_key = |inv: &Inventory| -> Vec<rdplay::inventory::Event> {
            let all = inv.identity_conflicts().unwrap();
            all.into_iter()
                .filter(|e| e.text.contains("SSH host key"))
                .collect()
        };
        let conflicts = same_key(&inv);
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(conflicts[0].mac, Some(m(MAC_B)));

        // Forgetting a key: the PC makes first contact again; an unknown PC is an error.
        inv.forget_host_key(&m(MAC_B)).await.unwrap();
        assert_eq!(inv.pc(&m(MAC_B)).unwrap().unwrap().host_key, None);
        assert!(same_key(&inv).is_empty());
        assert!(matches!(
            inv.forget_host_key(&m("52:54:00:00:00:ff")).await,
            Err(InventoryError::PcNotFound { .. })
        ));

        // The snapshot the listing and exports print: everything, and one site in a shared inventory
        // only.
        let all = inv.snapshot(None).unwrap();
        assert_eq!(all.pcs.len(), 2);
        assert_eq!(all.accounts.len(), 2);
        assert_eq!((all.events.len(), all.reads.len()), (2, 2));
        assert_eq!(inv.outcomes_of(&m(MAC_A), 10).unwrap().len(), 0);
        match place {
            Place::Sqlite(_) => {
                assert!(all.sites.is_empty(), "a file holds one site");
                assert!(matches!(
                    inv.snapshot(Some("SS")),
                    Err(InventoryError::OneSite { .. })
                ));
            }
            Place::Postgres(..) => {
                assert_eq!(all.sites.get(&m(MAC_A)).map(String::as_str), Some("SS"));
                assert_eq!(inv.snapshot(Some("SS")).unwrap().pcs.len(), 2);
                assert!(inv.snapshot(Some("XX")).unwrap().pcs.is_empty());
            }
        }
    }
);
