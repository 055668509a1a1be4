//! `rdplay run --check` against real PCs: it shows what a run would change and changes nothing, on the
//! PCs or on the controller.

mod common;

use common::Lab;
use common::fleet::{
    PLAYBOOK, assert_not_shown, inventory, last_audit, managed_on_host, move_host, run,
    sheet_password, wide_playbook, with_renewal,
};
use common::snapshot::Redact;
use std::path::Path;

/// What must not change on a PC: accounts, passwords, groups, homes, root's keys, /tmp.
fn pc_fingerprint(lab: &Lab, i: usize) -> String {
    lab.host_sh(
        i,
        "sha256sum /etc/passwd /etc/shadow /etc/group; \
         find /home /root /tmp -xdev -printf '%p %m %s %T@\\n' 2>/dev/null | sort",
    )
    .success()
    .stdout
    .clone()
}

/// What must not change on the controller: the playbook's directory (state, inventory, output, logs).
fn controller_fingerprint(dir: &Path) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("find . -printf '%p %m %s %T@\\n' | sort; find . -type f -exec sha256sum {} + | sort")
        .current_dir(dir)
        .output()
        .expect("find runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fingerprints(lab: &Lab) -> Vec<String> {
    let mut all: Vec<String> = lab
        .hosts()
        .iter()
        .map(|h| pc_fingerprint(lab, h.index))
        .collect();
    all.push(controller_fingerprint(lab.dir()));
    all
}

fn check(lab: &Lab, pb: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["run", "--check", pb.to_str().unwrap()];
    args.extend_from_slice(extra);
    lab.rdplay().args(args).run()
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn check_on_fresh_pcs_says_key_exchange_and_changes_nothing() {
    let lab = Lab::up(2);
    let pb = lab.playbook(PLAYBOOK);
    let before = fingerprints(&lab);
    let out = check(&lab, &pb, &[]);
    out.code(2).stdout_contains("plan: 2 PCs to renew");
    for host in lab.hosts() {
        out.stdout_contains(&host.ip);
    }
    assert_eq!(
        out.stdout.matches("! key exchange needed").count(),
        2,
        "{}",
        out.stdout
    );
    assert_eq!(before, fingerprints(&lab), "--check changed something");
    assert!(
        !lab.dir().join("state").exists(),
        "no state directory, no key, no inventory"
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn check_after_a_run_names_the_accounts_to_delete_hides_secrets_and_matches_the_run() {
    let lab = Lab::up(2);
    let pb = lab.playbook(PLAYBOOK);
    lab.rdplay()
        .args(["run", pb.to_str().unwrap()])
        .run()
        .success();
    let before = fingerprints(&lab);

    let out = check(&lab, &pb, &[]);
    out.code(2);
    assert_eq!(before, fingerprints(&lab), "--check changed something");
    let mut planned = Vec::new();
    for host in lab.hosts() {
        let account = managed_on_host(&lab, host.index).remove(0);
        out.stdout_contains(&format!("- delete account {account} (home /home/{account}"));
        planned.push(account);
        // No secret: neither the password on the sheet nor any hash.
        let sheet = lab
            .dir()
            .join(format!("output/users/{}.pdf", planned.last().unwrap()));
        let password = sheet_password(&sheet);
        assert!(!out.stdout.contains(&password) && !out.stderr.contains(&password));
    }
    assert!(!out.stdout.contains("$6$"), "{}", out.stdout);
    out.stdout_contains("password ****************");

    // JSON form for scripts: the same plan, one object per PC per line.
    let json = check(&lab, &pb, &["--format", "json"]);
    json.code(2);
    let plans: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON plan per line"))
        .collect();
    assert_eq!(plans.len(), 2);
    assert!(plans.iter().all(|p| p["action"] == "renew"), "{plans:?}");

    // --limit limits.
    let one = check(&lab, &pb, &["--limit", &lab.host(1).ip]);
    one.code(2).stdout_contains("plan: 1 PCs to renew");
    assert!(!one.stdout.contains(&lab.host(2).ip));

    // The run that follows deletes exactly the accounts the plan named.
    let run = lab.rdplay().args(["run", pb.to_str().unwrap()]).run();
    run.success();
    for account in &planned {
        run.stdout_contains(&format!("{account} -> "));
    }
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn check_reports_unreachable_and_changed_host_key_pcs_with_exit_3() {
    let lab = Lab::up(2);
    let pb = lab.playbook(PLAYBOOK);
    lab.rdplay()
        .args(["run", pb.to_str().unwrap()])
        .run()
        .success();
    lab.sshd(1, "stop");
    lab.regen_hostkey(2);
    let before = fingerprints(&lab);
    let out = check(&lab, &pb, &[]);
    out.code(3)
        .stdout_contains("! unreachable")
        .stdout_contains("! host key changed");
    assert_eq!(before, fingerprints(&lab));
}

/// The number the inventory recorded for host `i`'s MAC.
fn number_of(lab: &Lab, i: usize) -> Option<u64> {
    inventory(lab)["pcs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mac"] == lab.host(i).mac.as_str())
        .and_then(|p| p["number"].as_u64())
}

#[test]
fn check_shows_the_number_a_new_pc_gets_and_the_run_gives_it() {
    let lab = Lab::up(3);
    let pb = lab.playbook(PLAYBOOK);
    // PC 2 is numbered 1; PCs 1 and 3 are met for the first time: 2 and 3, in address order.
    run(&lab, &pb, &["--limit", &lab.host(2).ip]).success();
    let text = check(&lab, &pb, &[]);
    text.code(2);
    for (i, n) in [(1, 2), (3, 3)] {
        let host = lab.host(i);
        text.stdout_contains(&format!("? {} {} #{n}\n", host.ip, host.mac))
            .stdout_contains(&format!(
                "  + number #{n}: the smallest free PC number, kept for good\n"
            ));
    }
    text.stdout_contains(&format!("pc2 {} {} #1\n", lab.host(2).ip, lab.host(2).mac));
    let json = check(&lab, &pb, &["--format", "json"]);
    json.code(2);
    let planned = plans_by_ip(&json.stdout);
    let numbered = |i: usize| {
        let plan = &planned[&lab.host(i).ip];
        (plan["number"].as_u64(), plan["new_number"].as_bool())
    };
    assert_eq!(
        (1..=3).map(numbered).collect::<Vec<_>>(),
        [
            (Some(2), Some(true)),
            (Some(1), Some(false)),
            (Some(3), Some(true))
        ]
    );
    // The run gives those numbers: recorded, and in the names.
    run(&lab, &pb, &[]).success();
    for (i, n) in [(1, 2), (2, 1), (3, 3)] {
        assert_eq!(number_of(&lab, i), Some(n), "host {i}");
        let account = managed_on_host(&lab, i).remove(0);
        assert!(account.starts_with(&format!("USERSS00{n}-")), "{account}");
    }
}

#[test]
fn scan_check_and_run_agree_on_a_pc_dhcp_moved() {
    let lab = Lab::up(2);
    let pb = wide_playbook(&lab);
    run(&lab, &pb, &[]).success();
    let (old_ip, new_ip) = move_host(&lab, 1, 30);
    let mac = lab.host(1).mac.clone();

    // scan: the old address is the PC moved, not a missing one.
    let scan = lab.rdplay().args(["scan", pb.to_str().unwrap()]).run();
    scan.success();
    let line = |out: &common::Run, ip: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{ip} ")))
            .map(str::to_string)
    };
    let old = line(&scan, &old_ip).unwrap_or_else(|| panic!("{}", scan.stdout));
    assert!(
        old.ends_with(&format!("moved: answers at {new_ip}")),
        "{old}"
    );
    assert!(old.contains(&mac) && old.contains("pc1"), "{old}");
    let new = line(&scan, &new_ip).unwrap_or_else(|| panic!("{}", scan.stdout));
    assert!(new.ends_with(" open"), "{new}");
    scan.stdout_contains("0 recorded PCs unreachable, 1 moved to another address");
    assert!(!scan.stdout.contains("UNREACHABLE"), "{}", scan.stdout);

    // --check: the PC is planned at its new address only, with its number.
    let text = check(&lab, &pb, &[]);
    text.code(2)
        .stdout_contains(&format!("pc1 {new_ip} {mac} #1\n"));
    assert_not_shown(&text, &old_ip);
    text.stdout_contains("plan: 2 PCs to renew, 0 kept by the renewal policy, 0 PCs failing");
    let json = check(&lab, &pb, &["--format", "json"]);
    json.code(2);
    let planned = plans_by_ip(&json.stdout);
    assert_eq!(
        planned.keys().cloned().collect::<Vec<_>>(),
        [lab.host(2).ip.clone(), new_ip.clone()]
    );

    // run: the same, PC by PC.
    let out = run(&lab, &pb, &[]);
    out.success();
    assert_not_shown(&out, &old_ip);
    assert_eq!(planned, plans_by_ip(&last_audit(&lab)));
    assert_eq!(number_of(&lab, 1), Some(1));
}

/// The plans of a `--check --format json` by IP, or the plans a run wrote to its audit log.
fn plans_by_ip(lines: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .filter(|v| v.get("event").is_none_or(|e| e == "plan"))
        .map(|mut v| {
            v.as_object_mut().unwrap().remove("event");
            (v["ip"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Aligned columns make the run table's width depend on the names: the snapshot keeps words only,
/// and the first 140 characters of a line (the table cuts long reasons at a length that depends on
/// the addresses in them).
fn words(text: &str) -> String {
    text.lines()
        .map(|l| {
            let line = l.split_whitespace().collect::<Vec<_>>().join(" ");
            match line.char_indices().nth(140) {
                Some((at, _)) => format!("{}…", &line[..at]),
                None => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn check_then_run_on_a_mixed_fleet_plans_exactly_what_the_run_executes() {
    let lab = Lab::up(6);
    let pb = lab.playbook(&with_renewal(Some("{ older_than: 30d }")));
    // PCs 3-6 were renewed before; 1 and 2 are new (first contact).
    let known: Vec<String> = (3..=6).map(|i| lab.host(i).ip.clone()).collect();
    lab.rdplay()
        .args(["run", pb.to_str().unwrap(), "--limit", &known.join(",")])
        .run()
        .success();
    // PC 3's account is old: renewed. PC 4's is young: kept. PC 5 is off. PC 6's is old too, but
    // the PC was reinstalled (a new host key).
    let sql = format!(
        "UPDATE accounts SET created_at = '2020-01-01T00:00:00Z' WHERE mac IN ('{}', '{}');",
        lab.host(3).mac,
        lab.host(6).mac
    );
    let out = std::process::Command::new("sqlite3")
        .arg(common::fleet::db(&lab))
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    lab.sshd(5, "stop");
    lab.regen_hostkey(6);

    let text = check(&lab, &pb, &[]);
    text.code(3);
    let json = check(&lab, &pb, &["--format", "json"]);
    json.code(3);
    let planned = plans_by_ip(&json.stdout);
    assert_eq!(planned.len(), 6, "{}", json.stdout);

    let run = lab.rdplay().args(["run", pb.to_str().unwrap()]).run();
    run.code(3);
    let audit = last_audit(&lab);
    let executed = plans_by_ip(&audit);
    // PC by PC, the run executed the plan --check printed.
    assert_eq!(planned, executed);
    let action = |i: usize| {
        planned[&lab.host(i).ip]["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (1..=6).map(action).collect::<Vec<_>>(),
        ["renew", "renew", "renew", "keep", "blocked", "blocked"]
    );
    // What drawing added is only in the outcome lines: request numbers and names.
    for line in audit
        .lines()
        .filter(|l| l.contains("\"event\":\"outcome\""))
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["outcome"] == "renewed" {
            assert!(v["request"].as_str().unwrap().starts_with("REQ-"), "{v}");
            assert!(v["created"].as_str().unwrap().starts_with("USERSS"), "{v}");
        }
    }
    assert!(!audit.contains("$6$"), "no hash in the audit log");

    let redact = Redact::lab(&lab);
    insta::assert_snapshot!("mixed_fleet_check_text", redact.apply(&text.stdout));
    insta::assert_snapshot!("mixed_fleet_check_json", redact.apply(&json.stdout));
    // The run's table and summary; the output tree's order follows the (random) MACs and names.
    let table = run.stdout.split("\noutput:").next().unwrap();
    insta::assert_snapshot!("mixed_fleet_run_table", words(&redact.apply(table)));
}
