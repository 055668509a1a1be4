//! Fast tests of the engine's decisions and of apply's clean-up, through the fake connector and a real
//! SQLite inventory in a temporary directory: no root, no lab (`cargo test --lib engine`).

use super::apply::{RunCtx, run_pc};
use super::audit::Audit;
use super::effects::{Effect, sheets::Sheets};
use super::outcome::Outcome;
use super::plan::{Action, Adopt, BlockedKind, PcPlan};
use super::planner::{Decision, Known};
use super::scope::{Answered, Target};
use super::{Engine, Silent};
use crate::inventory::{Intent, Inventory, Lock, PcRecord, Store};
use crate::mac::Mac;
use crate::playbook::Playbook;
use crate::remote::fake::{Account, Fake, File, Fleet, Pc};
use crate::tasks::StepKind;
use crate::tasks::exec::Leftovers;
use crate::tasks::scan::PortState;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

struct World {
    dir: tempfile::TempDir,
    fleet: Arc<Fleet>,
    engine: Arc<Engine<Fake, Inventory>>,
    rc: RunCtx,
    _lock: Lock,
}

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 9, 0, n)
}

fn mac(n: u8) -> Mac {
    Mac::parse(&format!("02:00:00:00:00:{n:02x}")).expect("a MAC")
}

fn target(n: u8) -> Target {
    Target {
        ip: ip(n),
        index: u32::from(n) - 1,
        state: PortState::Open,
        mac: Some(mac(n)),
        known_by_ip: None,
    }
}

/// A playbook over 10.9.0.2-5 (`extra` appended), a fake PC at each of `pcs`, an inventory.
fn world(extra: &str, pcs: &[u8]) -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("admin.secret");
    std::fs::write(&secret, "tech-password\n").expect("secret");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // The tests renew again and again: every run renews unless a test sets its own policy.
    let renewal = if extra.contains("renewal:") {
        ""
    } else {
        "renewal: always\n"
    };
    let yaml = format!(
        "site: SS\ntarget:\n  network: 10.9.0.0/24\n  ranges: 2-5\nexchange:\n  admin_user: tech\n  password: {{ file: admin.secret }}\nstate_dir: state\n{renewal}output:\n  dir: output\n  formats: [pdf]\n{extra}"
    );
    let path = dir.path().join("pb.yml");
    std::fs::write(&path, yaml).expect("playbook");
    let pb = Playbook::load(&path).expect("valid playbook");
    crate::files::private_dir(&pb.state_dir).expect("state dir");
    let (inventory, lock) = Inventory::open_for_run(&pb.inventory.path).expect("inventory");
    let fleet = Arc::new(Fleet::default());
    for n in pcs {
        fleet
            .pcs
            .lock()
            .expect("fleet")
            .insert(ip(*n), Pc::new(&format!("pc{n}")));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let run = runtime
        .block_on(inventory.begin_run(&pb.path, &pb.digest))
        .expect("run");
    let renderer = Arc::new(crate::render::Renderer::new(None, None).expect("renderer"));
    let sheets = Sheets::new(&pb, renderer, inventory.clone(), 2);
    crate::files::private_dir(&pb.output.dir).expect("output dir");
    let rc = RunCtx {
        run,
        reserved: Mutex::new(inventory.usernames_in_use().expect("names")),
        effects: vec![Box::new(sheets) as Box<dyn Effect>],
        audit: Audit::create(dir.path()).expect("audit"),
    };
    let engine =
        Engine::new(pb, Fake(Arc::clone(&fleet)), inventory, Arc::new(Silent)).expect("engine");
    // What the driver does once the scan is complete: the PCs' numbers, in address order.
    let answered: Vec<Mac> = pcs.iter().map(|n| mac(*n)).collect();
    engine.give_numbers(&answered);
    World {
        dir,
        fleet,
        engine,
        rc,
        _lock: lock,
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn plan(w: &World, n: u8) -> PcPlan {
    block_on(async {
        let (plan, conn) = w.engine.plan_pc(target(n)).await;
        if let Some(conn) = conn {
            crate::remote::Connection::close(conn).await;
        }
        plan
    })
}

fn managed(pc: &Pc) -> Vec<String> {
    pc.accounts
        .iter()
        .filter(|(n, a)| a.uid > 1000 && n.as_str() != "alice")
        .map(|(n, _)| n.clone())
        .collect()
}

/// Asserts that the PC was renewed, after first contact or not.
#[track_caller]
fn assert_renewed(report: &super::outcome::PcReport, first_contact: bool) {
    match &report.outcome {
        Outcome::Renewed {
            first_contact: made,
            ..
        } => assert_eq!(*made, first_contact, "first contact"),
        other => panic!("expected a renewal, got {other:?}"),
    }
}

fn renew_of(plan: &PcPlan) -> &super::plan::Renew {
    match &plan.action {
        Action::Renew(r) => r,
        other => panic!("expected a renewal, got {other:?}"),
    }
}

#[test]
fn first_contact_then_a_known_pc_with_its_account_to_delete() {
    let w = world("", &[2]);
    let first = plan(&w, 2);
    let r = renew_of(&first);
    assert_eq!(r.first_contact.as_deref(), Some("tech"));
    assert!(r.delete.is_empty());
    assert_eq!(r.adopt, Adopt::Off);

    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert_renewed(&report, true);
    let pc = w.fleet.pc(ip(2));
    let created = managed(&pc);
    assert_eq!(created.len(), 1, "{pc:?}");
    assert!(pc.accounts.contains_key("alice"), "a human account stays");
    assert!(pc.workdirs.is_empty(), "the work directory is removed");
    assert_eq!(w.fleet.open_connections(), 0);
    assert_eq!(report.new.as_deref(), Some(created[0].as_str()));

    // Known now: no first contact, the account just made is the one to delete, seen by the probe.
    let second = plan(&w, 2);
    let r = renew_of(&second);
    assert_eq!(r.first_contact, None);
    assert_eq!(r.delete.len(), 1);
    assert_eq!(r.delete[0].name, created[0]);
    assert_eq!(r.delete[0].on_pc, Some(true));
    assert_eq!(
        r.delete[0].home.as_deref(),
        Some(format!("/home/{}", created[0]).as_str())
    );
    assert_eq!(second.hostname.as_deref(), Some("pc2"));

    // The run applies the very plan --check printed (the audit log's plan line).
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert!(matches!(
        report.outcome,
        Outcome::Renewed {
            first_contact: false,
            ..
        }
    ));
    let audit = std::fs::read_to_string(w.rc.audit.path()).expect("audit");
    let plans: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .filter(|v| v["event"] == "plan")
        .map(|mut v| {
            v.as_object_mut().expect("object").remove("event");
            v
        })
        .collect();
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[1], serde_json::to_value(&second).expect("JSON"));
    assert!(!audit.contains("$6$"), "no hash in the audit log");
    let pc = w.fleet.pc(ip(2));
    assert_eq!(managed(&pc).len(), 1, "exactly one managed account");
    assert!(
        !pc.accounts.contains_key(&created[0]),
        "the old one is gone"
    );
    assert!(
        pc.accounts.values().all(|a| a.uid != 1001) || managed(&pc) != created,
        "no uid reused"
    );
}

/// The login shell of the account rdplay made on the PC at `n`.
fn managed_shell(w: &World, n: u8) -> String {
    let pc = w.fleet.pc(ip(n));
    let managed = managed(&pc);
    assert_eq!(managed.len(), 1, "{pc:?}");
    pc.accounts[&managed[0]].shell.clone()
}

#[test]
fn a_shell_list_gives_each_pc_the_first_it_has_in_etc_shells_and_check_says_which() {
    let w = world("account:\n  shell: [/bin/bash, /bin/sh]\n", &[2, 3, 4, 5]);
    // pc2 has both; pc3 is a busybox PC (no bash); pc4 has bash, not in its /etc/shells; pc5 has
    // neither shell listed.
    w.fleet.with(ip(3), |pc| {
        pc.shells.remove("/bin/bash");
    });
    w.fleet.with(ip(4), |pc| {
        pc.shells.insert("/bin/bash".into(), false);
    });
    w.fleet.with(ip(5), |pc| {
        pc.shells.insert("/bin/bash".into(), false);
        pc.shells.remove("/bin/sh");
    });
    // Before first contact nothing can be probed: the plan names the rule, not the shell.
    let first = plan(&w, 3);
    let create = &renew_of(&first).create;
    assert_eq!(create.shell, None);
    assert_eq!(create.shell_prefer, ["/bin/bash", "/bin/sh"]);
    assert!(
        first.text().contains(
            "(shell: the first of /bin/bash, /bin/sh the PC has in /etc/shells, chosen after first contact, home under /home"
        ),
        "{}",
        first.text()
    );
    let json = serde_json::to_value(&first).expect("JSON");
    assert_eq!(json["create"]["shell"], serde_json::Value::Null);
    assert_eq!(
        json["create"]["shell_prefer"],
        serde_json::json!(["/bin/bash", "/bin/sh"])
    );

    for n in [2, 3, 4] {
        let report = block_on(run_pc(&w.engine, &w.rc, target(n)));
        assert_renewed(&report, true);
    }
    let expected = [(2, "/bin/bash"), (3, "/bin/sh"), (4, "/bin/sh")];
    for (n, shell) in expected {
        assert_eq!(managed_shell(&w, n), shell, "pc{n}");
        let records = w.engine.store.accounts_of(&mac(n)).expect("read");
        assert_eq!(records[0].shell.as_deref(), Some(shell), "pc{n}: recorded");
        // Known now: the plan chooses, and --check says which.
        let again = plan(&w, n);
        let create = &renew_of(&again).create;
        assert_eq!(create.shell.as_deref(), Some(shell), "pc{n}");
        let line = format!(
            "(shell {shell}, the first of /bin/bash, /bin/sh this PC has in /etc/shells, home under /home"
        );
        assert!(again.text().contains(&line), "{}", again.text());
        // ... and the run applies that choice.
        assert_renewed(&block_on(run_pc(&w.engine, &w.rc, target(n))), false);
        assert_eq!(managed_shell(&w, n), shell, "pc{n}, second run");
    }

    // pc5: first contact, then the plan made again blocks it before any change.
    let report = block_on(run_pc(&w.engine, &w.rc, target(5)));
    let Outcome::Failed(e) = &report.outcome else {
        panic!("expected a failure, got {:?}", report.outcome);
    };
    assert_eq!(e.step, StepKind::Exec);
    assert!(
        e.reason().contains("no login shell: none of the login shells /bin/bash, /bin/sh exists on this PC and is listed in its /etc/shells"),
        "{}",
        e.reason()
    );
    assert!(managed(&w.fleet.pc(ip(5))).is_empty(), "nothing was made");
    match plan(&w, 5).action {
        Action::Blocked(b) => assert_eq!(b.kind, BlockedKind::NoShell),
        other => panic!("expected a block, got {other:?}"),
    }
}

#[test]
fn a_single_shell_keeps_its_meaning_it_must_exist_and_etc_shells_is_not_asked() {
    let w = world("account:\n  shell: /bin/bash\n", &[2, 3]);
    w.fleet.with(ip(2), |pc| {
        pc.shells.insert("/bin/bash".into(), false);
    });
    w.fleet.with(ip(3), |pc| {
        pc.shells.remove("/bin/bash");
    });
    let first = plan(&w, 2);
    assert_eq!(renew_of(&first).create.shell.as_deref(), Some("/bin/bash"));
    assert!(renew_of(&first).create.shell_prefer.is_empty());
    assert!(
        first.text().contains("(shell /bin/bash, home under /home"),
        "{}",
        first.text()
    );
    assert_renewed(&block_on(run_pc(&w.engine, &w.rc, target(2))), true);
    assert_eq!(managed_shell(&w, 2), "/bin/bash");
    let report = block_on(run_pc(&w.engine, &w.rc, target(3)));
    let Outcome::Failed(e) = &report.outcome else {
        panic!("expected a failure, got {:?}", report.outcome);
    };
    assert!(
        e.reason()
            .contains("the login shell /bin/bash does not exist on this PC"),
        "{}",
        e.reason()
    );
    assert!(managed(&w.fleet.pc(ip(3))).is_empty(), "nothing was made");
}

#[test]
fn a_uid_is_never_given_twice_on_a_pc_even_once_its_account_is_gone() {
    let w = world("", &[2]);
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    let first = managed(&w.fleet.pc(ip(2)))[0].clone();
    let first_uid = w.fleet.pc(ip(2)).accounts[&first].uid;
    assert_eq!(first_uid, 1001, "above alice's 1000");
    assert_eq!(
        w.engine.store.highest_uid(&mac(2)).expect("read"),
        Some(first_uid),
        "the inventory records the uid"
    );
    // Someone deletes the account by hand: the PC's passwd no longer shows 1001, so only the
    // inventory's record keeps the next account above it.
    w.fleet.with(ip(2), |pc| {
        pc.accounts.remove(&first);
    });
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert!(
        matches!(report.outcome, Outcome::Renewed { .. }),
        "{:?}",
        report.outcome
    );
    let pc = w.fleet.pc(ip(2));
    let second = &managed(&pc)[0];
    assert_eq!(pc.accounts[second].uid, first_uid + 1, "1001 is not reused");
    let records = w.engine.store.accounts_of(&mac(2)).expect("read");
    assert_eq!(
        records.iter().map(|a| a.uid).collect::<Vec<_>>(),
        vec![Some(first_uid), Some(first_uid + 1)]
    );
}

#[test]
fn what_the_old_account_left_outside_its_home_is_planned_removed_and_reported() {
    let w = world("", &[2]);
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    let old = managed(&w.fleet.pc(ip(2)))[0].clone();
    let old_uid = w.fleet.pc(ip(2)).accounts[&old].uid;
    w.fleet.with(ip(2), |pc| {
        for (path, uid, bytes) in [
            ("/tmp/notes.txt", old_uid, 1000),
            ("/dev/shm/cache", old_uid, 2400),
            ("/tmp/alice.txt", 1000, 10),
        ] {
            pc.files.push(File {
                path: path.into(),
                uid,
                bytes,
            });
        }
    });
    let p = plan(&w, 2);
    let r = renew_of(&p);
    assert_eq!(r.delete[0].leftover_files, Some(2));
    assert_eq!(r.delete[0].leftover_bytes, Some(3400));
    assert!(
        p.text().contains("2 files, 3.4 kB outside the home"),
        "{}",
        p.text()
    );
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert_eq!(
        report.leftovers,
        Some(Leftovers {
            files: 2,
            bytes: 3400
        })
    );
    let pc = w.fleet.pc(ip(2));
    assert_eq!(
        pc.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        vec!["/tmp/alice.txt"],
        "only the old account's files go"
    );
    let audit = std::fs::read_to_string(w.rc.audit.path()).expect("audit");
    assert!(
        audit.contains(r#""leftovers":{"files":2,"bytes":3400}"#),
        "{audit}"
    );
}

/// The archive files in the PC's archive directory (temporary ones too).
fn archive_files(w: &World, n: u8) -> Vec<std::path::PathBuf> {
    let dir = w.dir.path().join("state/archives").join(mac(n).bare());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).expect("archive");
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn with_archive_on_each_deleted_account_is_archived_and_recorded_first_and_keep_applies() {
    use std::os::unix::fs::PermissionsExt;
    let w = world("account:\n  archive: { keep: 2 }\n", &[2]);
    let first = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert!(first.archives.is_empty(), "nothing to archive at first");
    let p = plan(&w, 2);
    let r = renew_of(&p);
    assert!(r.delete[0].archive, "the plan says the account is archived");
    assert!(
        p.text().contains("~ archive each account deleted"),
        "{}",
        p.text()
    );
    let mut archived = Vec::new();
    for _ in 0..3 {
        let old = managed(&w.fleet.pc(ip(2)))[0].clone();
        let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
        assert!(
            matches!(report.outcome, Outcome::Renewed { .. }),
            "{:?}",
            report.outcome
        );
        assert_eq!(report.archives.len(), 1);
        let path = report.archives[0].clone();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("{old}-")) && name.ends_with(".tar.gz"),
            "{name}"
        );
        let text = std::fs::read_to_string(&path).expect("the fake's archive");
        assert!(text.contains(&format!("/home/{old}")), "{text}");
        archived.push(path);
    }
    let dir = archived[0].parent().unwrap();
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // keep: 2 — the oldest went once the third was made; the inventory says so.
    assert!(!archived[0].exists());
    let mut kept = archived[1..].to_vec();
    kept.sort();
    assert_eq!(archive_files(&w, 2), kept);
    for path in &archived[1..] {
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let records = w.engine.store.archives_of(&mac(2)).expect("read");
    assert_eq!(records.len(), 3);
    assert!(records[0].removed_at.is_some());
    for (record, path) in records[1..].iter().zip(&archived[1..]) {
        assert!(record.removed_at.is_none());
        assert_eq!(&record.path, path);
        assert_eq!(record.sha256, sha256_of(path));
        assert_eq!(record.bytes, std::fs::metadata(path).unwrap().len());
    }
    let audit = std::fs::read_to_string(w.rc.audit.path()).expect("audit");
    assert!(audit.contains(&format!("\"archives\":[\"{}\"]", archived[2].display())));
}

#[test]
fn accounts_adopted_at_first_contact_are_archived_too() {
    let w = world(
        "account:\n  adopt: \"eleve[0-9]+\"\n  archive: { keep: 1 }\n",
        &[2],
    );
    w.fleet.with(ip(2), |pc| {
        pc.accounts.insert(
            "eleve1".into(),
            Account {
                uid: 1001,
                processes: 0,
                shell: "/bin/bash".into(),
            },
        );
    });
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert!(
        matches!(report.outcome, Outcome::Renewed { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.archives.len(), 1, "{:?}", report.archives);
    let text = std::fs::read_to_string(&report.archives[0]).expect("archive");
    assert!(text.contains("/home/eleve1"), "{text}");
    assert!(!w.fleet.pc(ip(2)).accounts.contains_key("eleve1"));
}

#[test]
fn retention_never_removes_a_file_outside_the_pcs_archive_directory() {
    let w = world("account:\n  archive: { keep: 1 }\n", &[2]);
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    // An inventory row (tampered, or from another archive.dir) naming a file elsewhere.
    let precious = w.dir.path().join("precious.tar.gz");
    std::fs::write(&precious, "keep me").expect("file");
    block_on(w.engine.store.archived(crate::inventory::Archived {
        run: w.rc.run,
        mac: mac(2),
        username: "someone".into(),
        request: "REQ-X".into(),
        path: precious.clone(),
        bytes: 7,
        sha256: "00".repeat(32),
    }))
    .expect("recorded");
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert!(precious.exists());
    assert_eq!(
        archive_files(&w, 2).len(),
        1,
        "keep: 1 in the PC's directory"
    );
}

#[test]
fn an_archive_over_its_cap_or_failing_deletes_nothing() {
    for (what, reason) in [
        (
            "over the cap",
            "larger than account.archive.max_size (1.0 kB, 1000 bytes)",
        ),
        ("archive", "injected failure"),
    ] {
        let w = world("account:\n  archive: { max_size: 1000B }\n", &[2]);
        block_on(run_pc(&w.engine, &w.rc, target(2)));
        let accounts = w.fleet.pc(ip(2)).accounts.clone();
        w.fleet.with(ip(2), |pc| {
            pc.archive_bytes = 5000;
            pc.fail.insert(what.to_string());
        });
        let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
        match &report.outcome {
            Outcome::Failed(e) => {
                assert_eq!(e.step, StepKind::Archive, "{what}: {e}");
                assert!(e.reason().contains(reason), "{what}: {e}");
                assert!(e.reason().contains("nothing was deleted"), "{what}: {e}");
            }
            other => panic!("{what}: {other:?}"),
        }
        let pc = w.fleet.pc(ip(2));
        assert_eq!(
            pc.accounts.keys().collect::<Vec<_>>(),
            accounts.keys().collect::<Vec<_>>(),
            "{what}: the old account is still there"
        );
        assert!(archive_files(&w, 2).is_empty(), "{what}: no file left");
        assert!(
            w.engine
                .store
                .archives_of(&mac(2))
                .expect("read")
                .is_empty()
        );
        assert!(pc.workdirs.is_empty(), "{what}");
        assert_eq!(w.fleet.open_connections(), 0, "{what}");
        drop(w.dir);
    }
}

#[test]
fn with_on_failure_delete_a_failed_archive_deletes_the_account_and_says_why() {
    let w = world(
        "account:\n  archive: { max_size: 1000B, on_failure: delete }\n",
        &[2],
    );
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    let before: Vec<String> = w.fleet.pc(ip(2)).accounts.keys().cloned().collect();
    w.fleet.with(ip(2), |pc| pc.archive_bytes = 5000);
    // The plan carries the archive's rule, which apply follows; --check shows it.
    let p = plan(&w, 2);
    let json = serde_json::to_value(&p).expect("JSON");
    let dir = w.dir.path().join("state/archives");
    assert_eq!(
        json["archive"],
        serde_json::json!({"dir": dir.display().to_string(), "max_size": 1000, "keep": 3, "on_failure": "delete"})
    );
    assert!(
        p.text()
            .contains("(its home and files, at most 1.0 kB each) into "),
        "{}",
        p.text()
    );
    assert!(
        p.text()
            .contains("first; a failed archive deletes the account without it\n"),
        "{}",
        p.text()
    );
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert!(
        matches!(report.outcome, Outcome::Renewed { .. }),
        "{:?}",
        report.outcome
    );
    let after: Vec<String> = w.fleet.pc(ip(2)).accounts.keys().cloned().collect();
    for old in before.iter().filter(|n| n.starts_with("USER")) {
        assert!(!after.contains(old), "{old} deleted: {after:?}");
    }
    assert!(after.contains(&"alice".to_string()), "{after:?}");
    assert_eq!(report.unarchived.len(), 1, "{:?}", report.unarchived);
    assert!(
        report.unarchived[0].contains("larger than account.archive.max_size")
            && !report.unarchived[0].contains("nothing was deleted"),
        "{:?}",
        report.unarchived
    );
    assert!(archive_files(&w, 2).is_empty());
    // The audit log's outcome line says it too.
    let audit = std::fs::read_to_string(w.rc.audit.path()).expect("audit");
    let outcome = audit
        .lines()
        .rfind(|l| l.contains(r#""event":"outcome""#))
        .expect("an outcome line");
    assert!(
        outcome.contains(r#""unarchived":[""#) && outcome.contains("larger than"),
        "{outcome}"
    );
}

#[test]
fn a_changed_host_key_blocks_the_pc_and_closes_nothing_left_open() {
    let w = world("", &[2]);
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    w.fleet
        .with(ip(2), |pc| pc.host_key = "ssh-ed25519 REINSTALLED".into());
    let p = plan(&w, 2);
    match &p.action {
        Action::Blocked(b) => {
            assert_eq!(b.kind, BlockedKind::HostKeyChanged);
            assert!(
                b.reason.contains("does not match the key pinned"),
                "{}",
                b.reason
            );
        }
        other => panic!("{other:?}"),
    }
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    match &report.outcome {
        Outcome::Failed(e) => assert_eq!(e.step, StepKind::Sftp),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.fleet.open_connections(), 0);
}

#[test]
fn the_renewal_policy_keeps_a_young_live_account_but_never_a_pending_one() {
    let w = world("renewal: { older_than: 30d }\n", &[2, 3]);
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    let p = plan(&w, 2);
    match &p.action {
        Action::Keep { account, reason } => {
            assert_eq!(account, &managed(&w.fleet.pc(ip(2)))[0]);
            assert!(reason.starts_with("kept: "), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A pending account (a run that stopped before the sheet) is renewed.
    block_on(w.engine.store.intend(Intent {
        run: w.rc.run,
        mac: mac(3),
        ip: ip(3),
        request: "REQ-1".into(),
        new_username: "USERSS002-0001".into(),
        old_usernames: vec![],
        number: None,
    }))
    .expect("intent");
    let p = plan(&w, 3);
    let r = renew_of(&p);
    assert_eq!(r.delete[0].name, "USERSS002-0001");
    assert_eq!(
        r.delete[0].on_pc, None,
        "before first contact nothing is listed"
    );
}

#[test]
fn adoption_takes_matching_local_accounts_only() {
    let w = world("account:\n  adopt: \"eleve[0-9]+\"\n", &[2]);
    w.fleet.with(ip(2), |pc| {
        pc.accounts.insert(
            "eleve1".into(),
            Account {
                uid: 1001,
                processes: 2,
                shell: "/bin/bash".into(),
            },
        );
    });
    let p = plan(&w, 2);
    assert_eq!(renew_of(&p).adopt, Adopt::AfterFirstContact);
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert!(
        matches!(report.outcome, Outcome::Renewed { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.old, vec!["eleve1".to_string()]);
    let pc = w.fleet.pc(ip(2));
    assert!(!pc.accounts.contains_key("eleve1"));
    assert!(pc.accounts.contains_key("alice"), "alice does not match");
    // Known now, the next plan lists adoption from the probe: nothing left to adopt.
    assert_eq!(renew_of(&plan(&w, 2)).adopt, Adopt::Accounts(vec![]));
}

#[test]
fn a_recorded_root_is_refused_before_any_change() {
    let w = world("", &[2]);
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    let before = w.fleet.pc(ip(2)).accounts.len();
    // A tampered inventory that records root for this PC.
    block_on(w.engine.store.intend(Intent {
        run: w.rc.run,
        mac: mac(2),
        ip: ip(2),
        request: "REQ-X".into(),
        new_username: "root".into(),
        old_usernames: vec![],
        number: None,
    }))
    .expect("intent");
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    match &report.outcome {
        Outcome::Failed(e) => {
            assert_eq!(e.step, StepKind::Exec);
            assert!(
                e.reason().contains("refusing to handle account name"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    let pc = w.fleet.pc(ip(2));
    assert!(pc.accounts.contains_key("root"));
    assert_eq!(pc.accounts.len(), before);
    assert!(pc.workdirs.is_empty());
    assert_eq!(w.fleet.open_connections(), 0);
}

#[test]
fn every_failure_path_cleans_up_the_work_directory_and_the_connection() {
    for (what, step) in [
        ("connect", StepKind::Sftp),
        ("probe", StepKind::Exec),
        ("mktemp", StepKind::Sftp),
        ("upload", StepKind::Sftp),
        ("helper", StepKind::Exec),
    ] {
        let w = world("", &[2]);
        // Known PC, so the failure can come at any step.
        block_on(run_pc(&w.engine, &w.rc, target(2)));
        let accounts = w.fleet.pc(ip(2)).accounts.clone();
        w.fleet.with(ip(2), |pc| {
            pc.fail.insert(what.to_string());
        });
        let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
        match &report.outcome {
            Outcome::Failed(e) => assert_eq!(e.step, step, "{what}: {e}"),
            other => panic!("{what}: {other:?}"),
        }
        let pc = w.fleet.pc(ip(2));
        assert!(pc.workdirs.is_empty(), "{what}: {:?}", pc.workdirs);
        assert_eq!(w.fleet.open_connections(), 0, "{what}");
        assert_eq!(
            pc.accounts.keys().collect::<Vec<_>>(),
            accounts.keys().collect::<Vec<_>>(),
            "{what}: nothing changed"
        );
        drop(w.dir);
    }
}

#[test]
fn failed_first_contact_fails_at_exchange_with_the_cause() {
    let w = world("", &[2]);
    w.fleet.with(ip(2), |pc| pc.admin_ok = false);
    let report = block_on(run_pc(&w.engine, &w.rc, target(2)));
    match &report.outcome {
        Outcome::Failed(e) => {
            assert_eq!(e.step, StepKind::Exchange);
            assert!(std::error::Error::source(e).is_some(), "the cause is kept");
            assert!(e.reason().contains("authentication to tech@"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

fn known(n: u8, state: PortState, mac_found: bool) -> Known {
    Known {
        target: Target {
            state,
            mac: mac_found.then(|| mac(n)),
            ..target(n)
        },
        record: None,
        recorded: Ok(Vec::new()),
        taken: Ok(Default::default()),
        given_number: Ok(Some(1)),
        now: jiff::Timestamp::now(),
    }
}

fn blocked(d: Decision) -> (StepKind, BlockedKind, String) {
    match d {
        Decision::Plan(PcPlan {
            action: Action::Blocked(b),
            ..
        }) => (b.step, b.kind, b.reason),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_planner_blocks_what_cannot_be_renewed_with_the_reason() {
    let w = world("", &[]);
    let p = &w.engine.planner;
    let (step, kind, _) = blocked(p.decide(&known(2, PortState::Silent, false), None));
    assert_eq!((step, kind), (StepKind::Scan, BlockedKind::Unreachable));
    let (_, kind, reason) = blocked(p.decide(&known(2, PortState::Open, false), None));
    assert_eq!(kind, BlockedKind::NoMac);
    assert!(reason.contains("neighbour table"));
    let unreadable = Known {
        recorded: Err("database disk image is malformed".into()),
        ..known(2, PortState::Open, true)
    };
    // A PC met for the first time is renewed only with the number the scan's end gave it.
    let unnumbered = Known {
        given_number: Err("database is locked".into()),
        ..known(2, PortState::Open, true)
    };
    for (k, says) in [
        (unreadable, "malformed"),
        (
            unnumbered,
            "giving the PCs their numbers: database is locked",
        ),
    ] {
        let (step, kind, reason) = blocked(p.decide(&k, None));
        assert_eq!(
            (step, kind),
            (StepKind::Inventory, BlockedKind::InventoryRead)
        );
        assert!(reason.contains(says), "{reason}");
    }
}

/// The audit log's lines of one event, without the `event` key.
fn audit_lines(w: &World, event: &str) -> Vec<serde_json::Value> {
    let audit = std::fs::read_to_string(w.rc.audit.path()).expect("audit");
    audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .filter(|v| v["event"] == event)
        .map(|mut v| {
            v.as_object_mut().expect("object").remove("event");
            v
        })
        .collect()
}

#[test]
fn a_new_pc_is_planned_with_the_number_the_run_gives_it() {
    let w = world("", &[2, 3]);
    // Numbered in address order once the scan is complete: the plan says which, --check shows it.
    let p = plan(&w, 3);
    assert_eq!((p.number, p.new_number), (Some(2), true));
    let text = p.text();
    assert!(
        text.starts_with("? 10.9.0.3 02:00:00:00:00:03 #2\n"),
        "{text}"
    );
    assert!(
        text.contains("  + number #2: the smallest free PC number, kept for good\n"),
        "{text}"
    );
    let json = serde_json::to_value(&p).expect("JSON");
    assert_eq!(
        (&json["number"], &json["new_number"]),
        (&2.into(), &true.into())
    );
    assert_eq!(plan(&w, 2).number, Some(1));

    // The run gives that number: in the name, in the inventory, in its audit log's plan line.
    let report = block_on(run_pc(&w.engine, &w.rc, target(3)));
    assert!(
        matches!(report.outcome, Outcome::Renewed { .. }),
        "{:?}",
        report.outcome
    );
    assert!(
        report
            .new
            .as_deref()
            .is_some_and(|n| n.starts_with("USERSS002-")),
        "{:?}",
        report.new
    );
    let record = w.engine.store.pc(&mac(3)).expect("read").expect("recorded");
    assert_eq!(record.number, Some(2));
    assert_eq!(audit_lines(&w, "plan")[0], json);
    // Recorded now: the same number, no longer new.
    let again = plan(&w, 3);
    assert_eq!((again.number, again.new_number), (Some(2), false));
    assert!(!again.text().contains("+ number"), "{}", again.text());
}

#[test]
fn after_first_contact_apply_goes_on_with_the_plan_the_planner_makes_again() {
    let w = world("account:\n  archive: { keep: 2 }\n", &[3]);
    // The inventory records two accounts for a PC whose key is not pinned (a run that stopped
    // before first contact pinned it): one is on the PC, the other is not.
    for (n, name) in [(1, "USERSS001-0001"), (2, "USERSS001-0002")] {
        block_on(w.engine.store.intend(Intent {
            run: w.rc.run,
            mac: mac(3),
            ip: ip(3),
            request: format!("REQ-{n}"),
            new_username: name.into(),
            old_usernames: vec![],
            number: None,
        }))
        .expect("intent");
    }
    w.fleet.with(ip(3), |pc| {
        pc.accounts.insert(
            "USERSS001-0001".into(),
            Account {
                uid: 1001,
                processes: 0,
                shell: "/bin/bash".into(),
            },
        );
    });
    // Before first contact nothing can be listed: both would be archived.
    let first = plan(&w, 3);
    let r = renew_of(&first);
    assert!(r.first_contact.is_some());
    assert!(r.delete.iter().all(|a| a.on_pc.is_none() && a.archive));

    let report = block_on(run_pc(&w.engine, &w.rc, target(3)));
    assert_renewed(&report, true);
    // The planner's plan after first contact, from the probe: one on the PC, archived; one absent.
    let replans = audit_lines(&w, "replan");
    assert_eq!(replans.len(), 1, "{replans:?}");
    let again = &replans[0];
    assert_eq!(again["first_contact"], serde_json::Value::Null);
    assert_eq!(again["number"], 1);
    let delete: Vec<(&str, bool, bool)> = again["delete"]
        .as_array()
        .expect("delete")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().expect("name"),
                a["on_pc"].as_bool().expect("on_pc"),
                a["archive"].as_bool().expect("archive"),
            )
        })
        .collect();
    assert_eq!(
        delete,
        [
            ("USERSS001-0001", true, true),
            ("USERSS001-0002", false, false)
        ]
    );
    assert_eq!(again["adopt"]["mode"], "off");
    assert_eq!(again["walk"], serde_json::json!(["/"]));
    // Apply did what that plan says: one archive, both recorded accounts gone.
    assert_eq!(report.archives.len(), 1, "{:?}", report.archives);
    let archived = std::fs::read_to_string(&report.archives[0]).expect("archive");
    assert!(archived.contains("/home/USERSS001-0001"), "{archived}");
    assert_eq!(report.old, ["USERSS001-0001", "USERSS001-0002"]);
    assert!(!w.fleet.pc(ip(3)).accounts.contains_key("USERSS001-0001"));
}

#[test]
fn a_stopped_pc_has_one_label_at_the_step_it_was_in() {
    let w = world("", &[2]);
    assert_eq!(w.engine.step_of(ip(2)), StepKind::Scan, "before any step");
    block_on(run_pc(&w.engine, &w.rc, target(2)));
    assert_eq!(w.engine.step_of(ip(2)), StepKind::Render);
    plan(&w, 2);
    assert_eq!(w.engine.step_of(ip(2)), StepKind::Sftp, "the probe");
    // What --check shows and what a run fails the PC with are the same label.
    let stopped = super::plan::Blocked::stopped(w.engine.step_of(ip(2)), false);
    assert_eq!(stopped.kind, BlockedKind::Interrupted);
    let failure = stopped.failure();
    assert_eq!(failure.step, StepKind::Sftp);
    assert_eq!(failure.reason(), "interrupted: stopped by Ctrl-C");
    let panicked = super::plan::Blocked::stopped(StepKind::Exec, true).failure();
    assert_eq!(
        panicked.reason(),
        "interrupted: internal error (panic): please report it"
    );
}

fn record_at(n: u8, of: u8) -> PcRecord {
    PcRecord {
        mac: mac(of),
        ip: ip(n),
        hostname: Some(format!("pc{of}")),
        host_key: Some("ssh-ed25519 KEY".into()),
        facts: None,
        first_seen: jiff::Timestamp::now(),
        last_seen: jiff::Timestamp::now(),
        number: Some(u32::from(of)),
    }
}

#[test]
fn the_dhcp_rule_tells_a_moved_pc_from_a_missing_one() {
    let silent = |n: u8, of: u8| Target {
        state: PortState::Closed,
        mac: None,
        known_by_ip: Some(record_at(n, of)),
        ..target(n)
    };
    let mut answered = Answered::default();
    // PC 2's MAC answers at .5; .3 answers with its own.
    answered.note(&Target {
        mac: Some(mac(2)),
        ..target(5)
    });
    answered.note(&target(3));
    // A port closed, or no MAC: not an answer.
    answered.note(&Target {
        state: PortState::Closed,
        mac: Some(mac(4)),
        ..target(4)
    });
    assert_eq!(answered.moved(&silent(2, 2)), Some(ip(5)), "moved by DHCP");
    assert_eq!(answered.moved(&silent(4, 4)), None, "missing");
    assert_eq!(answered.moved(&silent(6, 7)), None, "missing");
    assert_eq!(
        answered.moved(&Target {
            known_by_ip: None,
            ..silent(2, 2)
        }),
        None,
        "nothing recorded there"
    );
    assert_eq!(
        answered.moved(&Target {
            known_by_ip: Some(record_at(3, 2)),
            ..target(3)
        }),
        None,
        "an address that answers is planned, not moved"
    );
    // New PCs are numbered in address order, whatever order the scan's answers came in.
    assert_eq!(answered.macs(), [mac(3), mac(2)]);
}
