//! The shared inventory on a real PostgreSQL server (a throwaway cluster per test, see
//! tests/common/postgres.rs): the playbook's `inventory.url`, migrations, sites, the site lock and
//! what a killed controller leaves, unique request numbers and names across controllers, the
//! journal over the network, `inventory copy`, and secrets kept out of messages.

mod common;

use common::journal::{m, renew, to_remove};

use common::postgres::{PASSWORD, PgCluster};
use rdplay::inventory::{AccountState, Intent, Inventory, InventoryError, Store};
use rdplay::playbook::Playbook;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn rdplay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rdplay"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rdplay")
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A playbook of site `site` whose inventory is `inventory` (a flow mapping), in `dir`.
fn playbook(dir: &Path, site: &str, inventory: &str) -> PathBuf {
    let path = dir.join(format!("{site}.yml"));
    let text = format!(
        "site: {site}\ntarget:\n  network: 10.0.0.0/24\n  ranges: 2-40\nexchange:\n  admin_user: tech\n  \
         password: prompt\ninventory: {inventory}\n"
    );
    common::write_private(&path, text.as_bytes());
    path
}

/// The validated playbook of `site` on `pg`, with its state in `dir`.
fn load(pg: &PgCluster, dir: &Path, site: &str) -> Playbook {
    Playbook::load(&playbook(dir, site, &pg.inventory_yaml(dir))).expect("a valid playbook")
}

fn open(pg: &PgCluster, dir: &Path, site: &str) -> (Inventory, rdplay::inventory::Lock) {
    let pb = load(pg, dir, site);
    Inventory::for_run(&pb.inventory, &pb.site, 8).expect("open the shared inventory")
}

/// The journal's promise on each backend: a crash after any step leaves every account that may be
/// on the PC in its deletion list.
async fn journal_keeps_every_account_to_remove<S: Store>(inv: &S) {
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    let (mac, ip) = ("52:54:00:00:00:0a", Ipv4Addr::new(10, 9, 0, 10));
    renew(inv, run, mac, ip, "eleve-0001", "pc", 3).await;
    assert_eq!(
        to_remove(inv, mac),
        [("eleve-0001".into(), AccountState::Live)]
    );
    renew(inv, run, mac, ip, "eleve-0002", "pc", 1).await;
    assert_eq!(
        to_remove(inv, mac),
        [
            ("eleve-0001".into(), AccountState::Live),
            ("eleve-0002".into(), AccountState::Pending)
        ],
        "after the intent, both the old and the new account may be on the PC"
    );
    renew(inv, run, mac, ip, "eleve-0003", "pc", 2).await;
    assert_eq!(
        to_remove(inv, mac),
        [("eleve-0003".into(), AccountState::Pending)],
        "a renewal recorded deletes the old ones"
    );
    let summary = inv.finish_run(run).await.unwrap();
    assert_eq!((summary.ok, summary.failed), (0, 0));
}

#[tokio::test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
async fn the_journal_keeps_its_promise_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let (sqlite, _lock) = Inventory::open_for_run(&dir.path().join("inventory.db")).unwrap();
    journal_keeps_every_account_to_remove(&sqlite).await;
    let pg = PgCluster::start();
    let (shared, _lock) = open(&pg, dir.path(), "SS");
    journal_keeps_every_account_to_remove(&shared).await;
    assert_eq!(
        pg.value("SELECT string_agg(DISTINCT site, ',') FROM accounts"),
        "SS",
        "the accounts belong to the site"
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn migrate_brings_the_schema_up_and_refuses_a_newer_database() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let pb = playbook(dir.path(), "SS", &pg.inventory_yaml(dir.path()));
    let pb = pb.to_str().unwrap();
    let out = rdplay(&["inventory", "migrate", "--playbook", pb]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let version = rdplay::inventory::postgres::SCHEMA_VERSION;
    let server = format!("rdplay@{}:5432/rdplay", pg.socket_dir().display());
    assert_eq!(
        stdout,
        format!("migrated the inventory database {server} from schema version 0 to {version}\n")
    );
    let again = rdplay(&["inventory", "migrate", "--playbook", pb]);
    assert_eq!(
        text(&again).0,
        format!("the inventory database {server} is at schema version {version}: nothing to do\n")
    );
    pg.psql(
        "rdplay",
        &format!("INSERT INTO rdplay_schema VALUES ({})", version + 1),
    );
    let newer = rdplay(&["inventory", "migrate", "--playbook", pb]);
    let (_, stderr) = text(&newer);
    assert!(!newer.status.success());
    assert!(
        stderr.contains(&format!(
            "has schema version {}, but this rdplay knows only up to {version}",
            version + 1
        )),
        "{stderr}"
    );
    let listed = rdplay(&["inventory", "list", "--playbook", pb]);
    assert!(!listed.status.success(), "a reader refuses it too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
async fn request_numbers_and_names_are_unique_across_sites_at_once() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, _lock_a) = open(&pg, dir.path(), "AA");
    let (b, _lock_b) = open(&pg, dir.path(), "BB");
    let run_a = a.begin_run(Path::new("a.yml"), "d").await.unwrap();
    let run_b = b.begin_run(Path::new("b.yml"), "d").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (inv, run) = if i % 2 == 0 {
            (a.clone(), run_a)
        } else {
            (b.clone(), run_b)
        };
        tasks.push(tokio::spawn(
            async move { inv.next_request(run).await.unwrap() },
        ));
    }
    let mut numbers = HashSet::new();
    for t in tasks {
        assert!(
            numbers.insert(t.await.unwrap()),
            "a request number given twice"
        );
    }
    assert_eq!(numbers.len(), 40);

    // Both sites draw the same name for their PCs at the same moment: one gets it, the other is
    // told it is taken (the engine then draws another), never two live accounts of one name.
    let intent = |inv: Inventory, run, mac: &str, request: &str| {
        let intent = Intent {
            run,
            mac: m(mac),
            ip: Ipv4Addr::new(10, 1, 1, 2),
            request: request.into(),
            new_username: "USER001-4242".into(),
            old_usernames: vec![],
            number: Some(1),
        };
        tokio::spawn(async move { inv.intend(intent).await })
    };
    let first = intent(a.clone(), run_a, "52:54:00:00:00:01", "REQ-A");
    let second = intent(b.clone(), run_b, "52:54:00:00:00:02", "REQ-B");
    let results = [first.await.unwrap(), second.await.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(InventoryError::UsernameInUse { .. }))),
        "{results:?}"
    );
    assert_eq!(
        pg.value("SELECT COUNT(*) FROM accounts WHERE username = 'USER001-4242'"),
        "1"
    );
    // PC numbers are per site: both sites have their PC number 1.
    assert_eq!(
        pg.value("SELECT COUNT(*) FROM pcs WHERE number = 1"),
        "1",
        "only the PC whose intent was recorded got its number"
    );
    assert_eq!(b.pcs().unwrap().len(), results[1].is_ok() as usize);
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_second_run_of_a_site_is_refused_and_another_site_goes_on() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let (_a, lock) = open(&pg, dir.path(), "AA");
    let pb = load(&pg, dir.path(), "AA");
    let err = Inventory::for_run(&pb.inventory, "AA", 4).expect_err("the site is in use");
    assert!(matches!(err, InventoryError::SiteLocked { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("site AA is in use in the inventory database rdplay@"),
        "{message}"
    );
    let (_b, _lock_b) = open(&pg, dir.path(), "BB");
    drop(lock);
    let (_again, _lock) = open(&pg, dir.path(), "AA");
}

const HELPER_ENV: &str = "RDPLAY_PG_TEST_HELPER_PLAYBOOK";
const READY: &str = "pg-lock-helper-ready";

/// Not a test: the controller that `kill_9_frees_the_site_lock` kills. It opens the shared
/// inventory for a run (taking the site's lock), records an intent, says it is ready and sleeps.
#[tokio::test]
#[ignore = "helper process for kill_9_frees_the_site_lock"]
async fn lock_helper() {
    let Some(path) = std::env::var_os(HELPER_ENV) else {
        eprintln!("lock_helper only runs as the child of kill_9_frees_the_site_lock");
        return;
    };
    let pb = Playbook::load(Path::new(&path)).unwrap();
    let (inv, _lock) = Inventory::for_run(&pb.inventory, &pb.site, 2).unwrap();
    let run = inv.begin_run(Path::new("pb.yml"), "d").await.unwrap();
    renew(
        &inv,
        run,
        "52:54:00:00:00:0b",
        Ipv4Addr::new(10, 9, 0, 11),
        "eleve-0099",
        "pc",
        1,
    )
    .await;
    println!("\n{READY}");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn kill_9_frees_the_site_lock() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let path = playbook(dir.path(), "AA", &pg.inventory_yaml(dir.path()));
    let mut child = common::spawn_test_helper("lock_helper", HELPER_ENV, path.as_os_str(), READY);
    let pb = Playbook::load(&path).unwrap();
    let err = Inventory::for_run(&pb.inventory, "AA", 2).expect_err("the helper holds it");
    assert!(matches!(err, InventoryError::SiteLocked { .. }), "{err}");
    child.kill().unwrap(); // SIGKILL: no destructor, no unlock
    child.wait().unwrap();
    // The server notices the closed socket and ends the session, freeing its locks; that takes
    // it a moment, so the next run waits for the session to be gone (as seen by the server).
    let gone = std::time::Instant::now();
    while pg.value("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'") != "0" {
        assert!(
            gone.elapsed() < Duration::from_secs(10),
            "the killed session's lock stayed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (inv, _lock) = Inventory::for_run(&pb.inventory, "AA", 2)
        .expect("a killed controller leaves no lock behind");
    assert_eq!(
        to_remove(&inv, "52:54:00:00:00:0b"),
        [("eleve-0099".into(), AccountState::Pending)],
        "the intent committed before the kill survives it"
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn errors_name_the_server_never_the_password() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.secret");
    common::write_private(&wrong, b"not-the-password-Zz9\n");
    let inventory = format!(
        "{{ url: \"{}\", password: {{ file: {} }} }}",
        pg.url(),
        wrong.display()
    );
    let pb = playbook(dir.path(), "SS", &inventory);
    let out = rdplay(&["inventory", "migrate", "--playbook", pb.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "the inventory database rdplay@{}:5432/rdplay could not let rdplay log in",
            pg.socket_dir().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    for secret in ["not-the-password-Zz9", PASSWORD] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stderr}"
        );
    }
    // The server down: bounded retries, then the error names it.
    pg.stop_immediate();
    let pb = playbook(dir.path(), "SS", &pg.inventory_yaml(dir.path()));
    let started = std::time::Instant::now();
    let out = rdplay(&["inventory", "list", "--playbook", pb.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("(3 attempts)"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
    pg.start_again();
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn tls_checks_the_servers_certificate_and_a_hostssl_server_refuses_plain_connections() {
    let pg = PgCluster::start_tls();
    let dir = tempfile::tempdir().unwrap();
    let secret = pg.password_file(dir.path());
    let inventory = |tls: &str, ca: &Path| {
        format!(
            "{{ url: \"{}\", password: {{ file: {} }}, tls: {tls}, ca: {} }}",
            pg.tcp_url(),
            secret.display(),
            ca.display()
        )
    };
    // How messages name it: USER@HOST:PORT/DATABASE.
    let server = pg.tcp_url().replace("postgres://", "");
    let run = |file: &str, tls: &str, ca: &Path, command: &str| {
        let pb = playbook(dir.path(), file, &inventory(tls, ca));
        let out = rdplay(&["inventory", command, "--playbook", pb.to_str().unwrap()]);
        let (stdout, stderr) = text(&out);
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "{stderr}"
        );
        (out.status.success(), stdout, stderr)
    };

    // `require` with the CA that signed the server's certificate: connected, over TLS.
    let (ok, stdout, stderr) = run("SS", "require", &pg.ca(), "migrate");
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("migrated the inventory database {server}")),
        "{stdout}"
    );
    let (ok, stdout, stderr) = run("SS", "require", &pg.ca(), "list");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("holds no PCs yet"), "{stdout}");

    // Another CA: the server's certificate is not trusted; the error names the server.
    let wrong = common::postgres::make_ca(dir.path(), "other");
    let (ok, _, stderr) = run("SS", "require", &wrong, "list");
    assert!(!ok);
    assert!(stderr.contains(&server), "{stderr}");
    assert!(stderr.contains("certificate verify failed"), "{stderr}");

    // `disable` against a server that takes TLS connections only: refused by its pg_hba.conf.
    let (ok, _, stderr) = run("SS", "disable", &pg.ca(), "list");
    assert!(!ok);
    assert!(stderr.contains(&server), "{stderr}");
    assert!(stderr.contains("no encryption"), "{stderr}");
}

#[test]
fn the_playbook_refuses_a_password_in_the_url_and_a_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "{ url: \"postgres://rdplay:hunter22@db.example/rdplay\" }",
            "inventory.url: the URL holds a password",
        ),
        (
            "{ url: \"postgres://rdplay@db.example/rdplay\", password: prompt }",
            "inventory.password cannot be `prompt`",
        ),
        (
            "{ url: \"postgres://rdplay@%2Frun%2Fpostgresql/rdplay\", tls: require }",
            "inventory.tls: a Unix socket carries no TLS",
        ),
        (
            "{ url: \"mysql://x@y/z\" }",
            "inventory.url: a PostgreSQL URL starts with `postgres://`",
        ),
        (
            "{ tls: require }",
            "inventory.tls is for a PostgreSQL inventory",
        ),
    ];
    for (inventory, expected) in cases {
        let pb = playbook(dir.path(), "SS", inventory);
        let out = rdplay(&["validate", pb.to_str().unwrap()]);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{inventory}: {stdout}");
        assert!(stderr.contains(expected), "{inventory}:\n{stderr}");
        assert!(
            stderr.contains("SS.yml:8:"),
            "file:line:col for {inventory}:\n{stderr}"
        );
        assert!(!stderr.contains("hunter22"), "{stderr}");
    }
}

// ---- against the lab: real controllers, real PCs, one shared database ----

use common::Lab;
use common::fleet::{PLAYBOOK, sheet_password, user_sheet};
use serde_json::Value;

/// The lab playbook of site `site` with the shared inventory of `pg`.
fn lab_playbook(lab: &Lab, pg: &PgCluster, site: &str) -> PathBuf {
    let yaml = PLAYBOOK.replace("site: SS", &format!("site: {site}"))
        + &format!("inventory: {}\n", pg.inventory_yaml(lab.dir()));
    lab.playbook_named(&format!("{site}.yml"), &yaml)
}

/// `rdplay inventory export --format json` of the inventory a playbook names (every site).
fn export(lab: &Lab, pb: &Path, extra: &[&str]) -> Value {
    let out = lab
        .rdplay()
        .args(["inventory", "export", "--format", "json", "--playbook"])
        .arg(pb.to_str().unwrap())
        .args(extra)
        .run();
    out.success();
    serde_json::from_str(&out.stdout).expect("export is JSON")
}

/// The accounts on host `i` whose names start with `prefix`.
fn managed(lab: &Lab, i: usize, prefix: &str) -> Vec<String> {
    let passwd = lab.host_sh(i, "cat /etc/passwd").success().stdout.clone();
    passwd
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

/// Every PC of the lab holds exactly one account of `prefix`, recorded live in `inv` as its only
/// live account, and its sheet's password logs in.
#[track_caller]
fn assert_converged(lab: &Lab, inv: &Value, prefix: &str, context: &str) {
    for host in lab.hosts() {
        let on_pc = managed(lab, host.index, prefix);
        assert_eq!(on_pc.len(), 1, "{context}: {}: {on_pc:?}", host.hostname);
        let live: Vec<&Value> = inv["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["mac"] == host.mac.as_str() && a["deleted_at"].is_null())
            .collect();
        assert_eq!(live.len(), 1, "{context}: {}: {live:?}", host.hostname);
        assert_eq!(live[0]["username"], on_pc[0].as_str(), "{context}");
        assert_eq!(live[0]["state"], "live", "{context}");
        let file = lab.dir().join(format!("pw-{}", host.index));
        common::write_private(&file, sheet_password(&user_sheet(live[0])).as_bytes());
        lab.ssh_password(host.index, &on_pc[0], &file, "id -un")
            .success()
            .stdout_contains(&on_pc[0]);
    }
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn two_sites_run_at_once_against_one_database() {
    let pg = PgCluster::start();
    let (north, south) = (Lab::up(3), Lab::up(3));
    let (pb_n, pb_s) = (
        lab_playbook(&north, &pg, "NO"),
        lab_playbook(&south, &pg, "SU"),
    );
    let (run_n, run_s) = std::thread::scope(|s| {
        let n = s.spawn(|| north.rdplay().args(["run", pb_n.to_str().unwrap()]).run());
        let s = s.spawn(|| south.rdplay().args(["run", pb_s.to_str().unwrap()]).run());
        (n.join().unwrap(), s.join().unwrap())
    });
    run_n.success();
    run_s.success();
    // One export from either controller holds both sites.
    let all = export(&north, &pb_n, &[]);
    assert_eq!(all["pcs"].as_array().unwrap().len(), 6, "{all}");
    let accounts = all["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 6);
    let names: HashSet<&str> = accounts
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    let requests: HashSet<&str> = accounts
        .iter()
        .map(|a| a["request"].as_str().unwrap())
        .collect();
    assert_eq!((names.len(), requests.len()), (6, 6), "{accounts:?}");
    assert_converged(&north, &all, "USERNO", "north");
    assert_converged(&south, &all, "USERSU", "south");
    // The list names each PC's site; --site keeps one.
    let list = north
        .rdplay()
        .args(["inventory", "list", "--playbook", pb_n.to_str().unwrap()])
        .run();
    list.success();
    assert!(list.stdout.starts_with("SITE  MAC"), "{}", list.stdout);
    assert_eq!(
        list.stdout.lines().filter(|l| l.starts_with("NO ")).count(),
        3,
        "{}",
        list.stdout
    );
    assert_eq!(
        list.stdout.lines().filter(|l| l.starts_with("SU ")).count(),
        3,
        "{}",
        list.stdout
    );
    let south_only = export(&north, &pb_n, &["--site", "SU"]);
    let macs: HashSet<&str> = south_only["pcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["mac"].as_str().unwrap())
        .collect();
    let expected: HashSet<&str> = south.hosts().iter().map(|h| h.mac.as_str()).collect();
    assert_eq!(macs, expected);
    // GLPI files for every site from one place.
    let glpi = north.dir().join("glpi");
    north
        .rdplay()
        .args([
            "inventory",
            "export",
            "--format",
            "glpi",
            "-o",
            glpi.to_str().unwrap(),
            "--playbook",
            pb_n.to_str().unwrap(),
        ])
        .run()
        .success();
    assert_eq!(std::fs::read_dir(&glpi).unwrap().count(), 6);
    // Any PC of any site, shown from one place.
    let pc = south.host(1);
    north
        .rdplay()
        .args([
            "inventory",
            "show",
            "--playbook",
            pb_n.to_str().unwrap(),
            &pc.mac,
        ])
        .run()
        .success()
        .stdout_contains(&format!("PC {}", pc.mac))
        .stdout_contains("USERSU");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn the_database_stopped_mid_run_fails_pcs_cleanly_and_the_next_run_converges() {
    let pg = PgCluster::start();
    let lab = Lab::up(6);
    let pb = lab_playbook(&lab, &pg, "SS");
    lab.rdplay()
        .args(["inventory", "migrate", "--playbook", pb.to_str().unwrap()])
        .run()
        .success();
    let first = std::thread::scope(|s| {
        let run = s.spawn(|| lab.rdplay().args(["run", pb.to_str().unwrap()]).run());
        // As soon as the first PC's intent is recorded, the server dies as in a crash.
        let started = std::time::Instant::now();
        loop {
            let intents = pg
                .psql("rdplay", "SELECT COUNT(*) FROM journal")
                .trim()
                .parse::<u32>();
            if intents.is_ok_and(|n| n > 0) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no intent was ever recorded"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        pg.stop_immediate();
        run.join().unwrap()
    });
    let (stdout, stderr) = (&first.stdout, &first.stderr);
    assert!(
        !first.status.success(),
        "some PCs must have failed:\n{stdout}{stderr}"
    );
    assert!(
        format!("{stdout}{stderr}")
            .contains(&format!("rdplay@{}:5432/rdplay", pg.socket_dir().display())),
        "the failures name the server:\n{stdout}{stderr}"
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    pg.start_again();
    // Nothing changed on a PC without its record: every account of the pattern on a PC is one the
    // inventory will delete or keep.
    let inv = export(&lab, &pb, &[]);
    for host in lab.hosts() {
        let recorded: HashSet<&str> = inv["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["mac"] == host.mac.as_str() && a["deleted_at"].is_null())
            .map(|a| a["username"].as_str().unwrap())
            .collect();
        for name in managed(&lab, host.index, "USERSS") {
            assert!(
                recorded.contains(name.as_str()),
                "{}: {name} is not recorded: {inv}",
                host.hostname
            );
        }
    }
    let second = lab.rdplay().args(["run", pb.to_str().unwrap()]).run();
    second.success();
    assert_converged(
        &lab,
        &export(&lab, &pb, &[]),
        "USERSS",
        "after the server came back",
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn copy_from_a_finished_sqlite_run_reproduces_its_list_and_export() {
    let pg = PgCluster::start();
    let lab = Lab::up(2);
    let sqlite_pb = lab.playbook(PLAYBOOK);
    for _ in 0..2 {
        lab.rdplay()
            .args(["run", sqlite_pb.to_str().unwrap()])
            .run()
            .success();
    }
    let db = lab.dir().join("state/inventory.db");
    let from = format!("sqlite:{}", db.display());
    let pg_pb = lab_playbook(&lab, &pg, "SS");
    let copy = |expected_copied: &str| {
        let out = lab
            .rdplay()
            .args([
                "inventory",
                "copy",
                "--from",
                &from,
                "--to",
                pg_pb.to_str().unwrap(),
            ])
            .run();
        out.success();
        assert!(out.stdout.contains(expected_copied), "{}", out.stdout);
        out.stdout.clone()
    };
    let first = copy(" rows copied, 0 already there");
    let row = |out: &str, table: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .find(|cells| cells.first().is_some_and(|c| c == table))
            .unwrap_or_default()
    };
    assert_eq!(row(&first, "accounts"), ["accounts", "4", "0"], "{first}");
    assert_eq!(row(&first, "pcs"), ["pcs", "2", "0"], "{first}");
    let second = copy("0 rows copied");
    assert_eq!(
        row(&second, "accounts"),
        ["accounts", "0", "4"],
        "idempotent: {second}"
    );
    let read = |args: &[&str]| {
        let out = lab.rdplay().args(args).run();
        out.success();
        out.stdout.clone()
    };
    let db = db.to_str().unwrap();
    let pg_pb = pg_pb.to_str().unwrap();
    assert_eq!(
        read(&["inventory", "export", "--format", "json", "--db", db]),
        read(&[
            "inventory",
            "export",
            "--format",
            "json",
            "--playbook",
            pg_pb
        ]),
    );
    assert_eq!(
        read(&["inventory", "list", "--db", db]),
        read(&["inventory", "list", "--playbook", pg_pb, "--site", "SS"]),
    );
    // Every other export and `show` of each PC read the same from both backends, file by file.
    for format in ["csv", "glpi"] {
        let dir_of = |backend: &str| lab.dir().join(format!("export-{format}-{backend}"));
        let (from_sqlite, from_pg) = (dir_of("sqlite"), dir_of("postgres"));
        for (dir, source) in [
            (&from_sqlite, ["--db", db]),
            (&from_pg, ["--playbook", pg_pb]),
        ] {
            let out = dir.to_str().unwrap();
            read(
                &[
                    &["inventory", "export", "--format", format, "-o", out][..],
                    &source,
                ]
                .concat(),
            );
        }
        let files = |dir: &Path| {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            names
        };
        assert!(
            files(&from_sqlite).len() >= 2,
            "{format}: {:?}",
            files(&from_sqlite)
        );
        assert_eq!(files(&from_sqlite), files(&from_pg), "{format}");
        for name in files(&from_sqlite) {
            assert_eq!(
                std::fs::read_to_string(from_sqlite.join(&name)).unwrap(),
                std::fs::read_to_string(from_pg.join(&name)).unwrap(),
                "{format}: {name:?}"
            );
        }
    }
    for host in lab.hosts() {
        assert_eq!(
            read(&["inventory", "show", &host.mac, "--db", db]),
            read(&["inventory", "show", &host.mac, "--playbook", pg_pb]),
        );
    }
    // The shared inventory goes on from there: the next run of the site renews every PC again.
    lab.rdplay().args(["run", pg_pb]).run().success();
    assert_converged(
        &lab,
        &export(&lab, Path::new(pg_pb), &[]),
        "USERSS",
        "after the copy",
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_name_taken_by_another_controller_at_the_intent_is_drawn_again() {
    let pg = PgCluster::start();
    let lab = Lab::up(1);
    let pb = lab_playbook(&lab, &pg, "SS");
    lab.rdplay()
        .args(["inventory", "migrate", "--playbook", pb.to_str().unwrap()])
        .run()
        .success();
    // Another controller records the very name this run draws, in a transaction of its own that
    // commits just before this run's intent inserts it (once): a trigger plays that controller,
    // through dblink, in the real database.
    let other = format!(
        "host={} dbname=rdplay user=postgres",
        pg.socket_dir().display()
    );
    pg.psql("rdplay", "CREATE EXTENSION dblink");
    pg.psql("rdplay", "CREATE TABLE taken (username TEXT)");
    pg.psql(
        "rdplay",
        &format!(
            "CREATE FUNCTION take_first() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
             BEGIN
               IF NEW.state = 'pending' AND NOT EXISTS (SELECT 1 FROM taken) THEN
                 PERFORM dblink_exec('{other}', format(
                   'BEGIN;
                    INSERT INTO taken VALUES (%L);
                    INSERT INTO pcs (mac, ip, first_seen, last_seen, site)
                      VALUES (''02:00:00:00:00:99'', ''10.255.0.9'', ''x'', ''x'', ''OTHER'');
                    INSERT INTO accounts (username, mac, request, run, state, created_at, site)
                      VALUES (%L, ''02:00:00:00:00:99'', ''REQ-OTHER'', %s, ''live'', ''x'', ''OTHER'');
                    COMMIT;', NEW.username, NEW.username, NEW.run));
               END IF;
               RETURN NEW;
             END $$"
        ),
    );
    pg.psql(
        "rdplay",
        "CREATE TRIGGER take_first BEFORE INSERT ON accounts FOR EACH ROW
         EXECUTE FUNCTION take_first()",
    );
    lab.rdplay()
        .args(["run", pb.to_str().unwrap()])
        .run()
        .success();
    let taken = pg.value("SELECT username FROM taken");
    assert!(taken.starts_with("USERSS001-"), "{taken}");
    let inv = export(&lab, &pb, &["--site", "SS"]);
    assert_converged(&lab, &inv, "USERSS", "after a redraw");
    assert_ne!(
        inv["accounts"][0]["username"],
        taken.as_str(),
        "another name was drawn"
    );
}

#[tokio::test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
async fn a_site_role_with_the_documented_grants_runs_against_the_schema() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    // The schema's owner (`rdplay_admin` in the docs, `rdplay` here) migrates it.
    let admin = playbook(dir.path(), "AD", &pg.inventory_yaml(dir.path()));
    let out = rdplay(&[
        "inventory",
        "migrate",
        "--playbook",
        admin.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    // The grants exactly as docs/INVENTORY.md gives them.
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/INVENTORY.md")).unwrap();
    let block = docs
        .split("<!-- grants -->\n```sql\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the grants block of docs/INVENTORY.md");
    for role in ["rdplay_north", "rdplay_south"] {
        pg.psql(
            "postgres",
            &format!("CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"),
        );
    }
    pg.psql("rdplay", &block.replace("rdplay_admin", "rdplay"));
    let url = pg
        .url()
        .replace("postgres://rdplay@", "postgres://rdplay_north@");
    let north = playbook(
        dir.path(),
        "NO",
        &format!(
            "{{ url: \"{url}\", password: {{ file: {} }} }}",
            pg.password_file(dir.path()).display()
        ),
    );
    let pb = Playbook::load(&north).unwrap();
    let (inv, _lock) = Inventory::for_run(&pb.inventory, &pb.site, 4)
        .expect("the site's role runs against the migrated schema");
    journal_keeps_every_account_to_remove(&inv).await;
    assert_eq!(
        pg.value("SELECT count(*) FROM accounts WHERE site = 'NO'"),
        "3"
    );
    // It may not change the schema.
    let denied = pg.psql(
        "rdplay",
        "SET ROLE rdplay_north; SELECT has_schema_privilege('public', 'CREATE')",
    );
    assert_eq!(denied.trim(), "f");
}
