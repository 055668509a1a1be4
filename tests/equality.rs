//! One plan, proven against the PCs: `rdplay run --check --format json` prints a plan per PC; the
//! run that follows applies it; each PC's helper reports what it actually did (accounts deleted and
//! absent, the account created with its uid, the filesystems walked, the leftovers removed), which the
//! audit log's outcome line carries (`"reported"`). This test compares the two, PC by PC, and checks
//! the PCs themselves (`getent passwd`), on a lab fleet with first contact (one PC with an account to
//! adopt), a known PC renewed with adoption, a kept PC, an unreachable one and one whose host key
//! changed — once with the SQLite inventory and once with the shared PostgreSQL one.

mod common;

use common::Lab;
use common::fleet::{last_audit, with_renewal};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The lines of `text` (JSON lines) of one kind, by the PC's address.
fn by_ip(text: &str, keep: impl Fn(&Value) -> bool) -> BTreeMap<String, Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| keep(v))
        .map(|v| (v["ip"].as_str().unwrap().to_string(), v))
        .collect()
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| a.iter().map(|n| n.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The uid of `name` on host `i`, or None when the PC has no such account.
fn uid_on_pc(lab: &Lab, i: usize, name: &str) -> Option<u32> {
    let out = lab.host_sh(i, &format!("getent passwd {name} || true"));
    out.stdout
        .trim()
        .split(':')
        .nth(2)
        .map(|u| u.parse().expect("a uid"))
}

/// The fleet, its first run, and the changes before the compared one; `age` makes the accounts of
/// the given PCs old (an SQL statement for the playbook's inventory).
fn compare(lab: &Lab, pb: &Path, age: impl Fn(&str)) {
    // PCs 3 to 6 were renewed before; 1 and 2 are new (first contact; 2 has an account to
    // adopt). PC 3 gets an account to adopt too.
    let known: Vec<String> = (3..=6).map(|i| lab.host(i).ip.clone()).collect();
    lab.rdplay()
        .args(["run", pb.to_str().unwrap(), "--limit", &known.join(",")])
        .run()
        .success();
    for i in [2, 3] {
        lab.host_sh(i, &format!("useradd -m -u 150{i} OLD{i}"))
            .success();
    }
    // PC 3's account is old: renewed. PC 4's is young: kept. PC 5 is off. PC 6's is old too, but
    // the PC was reinstalled (a new host key).
    age(&format!(
        "UPDATE accounts SET created_at = '2020-01-01T00:00:00Z' WHERE mac IN ('{}', '{}')",
        lab.host(3).mac,
        lab.host(6).mac
    ));
    lab.sshd(5, "stop");
    lab.regen_hostkey(6);

    let check = lab
        .rdplay()
        .args(["run", pb.to_str().unwrap(), "--check", "--format", "json"])
        .run();
    check.code(3);
    let planned = by_ip(&check.stdout, |_| true);
    assert_eq!(planned.len(), 6, "{}", check.stdout);

    let run = lab.rdplay().args(["run", pb.to_str().unwrap()]).run();
    run.code(3);
    let audit = last_audit(lab);
    let outcomes = by_ip(&audit, |v| v["event"] == "outcome");
    assert_eq!(outcomes.len(), 6, "{audit}");

    let mut actions = Vec::new();
    for host in lab.hosts() {
        let (plan, out) = (&planned[&host.ip], &outcomes[&host.ip]);
        let context = format!("PC {}: plan {plan}\noutcome {out}", host.index);
        let action = plan["action"].as_str().unwrap();
        actions.push(action.to_string());
        match action {
            "renew" => {
                assert_eq!(out["outcome"], "renewed", "{context}");
                let reported = &out["reported"];
                let created = reported["created"].as_str().expect(&context);
                assert_eq!(out["created"], created, "{context}");
                // The number --check showed is the one the name carries.
                let number = plan["number"].as_u64().expect(&context);
                assert!(
                    created.starts_with(&format!("USERSS{number:03}-")),
                    "{context}"
                );
                // The account exists on the PC with the uid the helper reported.
                let uid = reported["uid"].as_u64().expect(&context) as u32;
                assert_eq!(uid_on_pc(lab, host.index, created), Some(uid), "{context}");
                // Everything it deleted is gone from the PC.
                for gone in names(&reported["deleted"]) {
                    assert_eq!(uid_on_pc(lab, host.index, &gone), None, "{context}");
                }
                if plan["first_contact"].is_null() {
                    // A known PC: the plan listed every account, on the PC or not, and the walk.
                    let deletes = plan["delete"].as_array().unwrap();
                    let listed = |on_pc: bool| -> BTreeSet<String> {
                        deletes
                            .iter()
                            .filter(|d| d["on_pc"] == on_pc)
                            .map(|d| d["name"].as_str().unwrap().to_string())
                            .collect()
                    };
                    // Adopted accounts are deleted too.
                    let mut on_pc = listed(true);
                    on_pc.extend(names(&plan["adopt"]["accounts"]));
                    assert_eq!(on_pc, names(&reported["deleted"]), "{context}");
                    assert_eq!(listed(false), names(&reported["absent"]), "{context}");
                    assert_eq!(plan["walk"], reported["walk"], "{context}");
                    let planned_files: u64 = deletes
                        .iter()
                        .map(|d| d["leftover_files"].as_u64().unwrap_or(0))
                        .sum();
                    assert_eq!(
                        planned_files,
                        reported["leftover_files"].as_u64().unwrap(),
                        "{context}"
                    );
                } else {
                    // First contact: the plan can only say that adoption comes once the PC is
                    // reached; the PC then deleted exactly the account there was to adopt.
                    assert_eq!(plan["adopt"]["mode"], "after_first_contact", "{context}");
                    let expected: BTreeSet<String> = if host.index == 2 {
                        ["OLD2".to_string()].into()
                    } else {
                        BTreeSet::new()
                    };
                    assert_eq!(names(&reported["deleted"]), expected, "{context}");
                }
            }
            "keep" => {
                assert_eq!(out["outcome"], "kept", "{context}");
                assert!(out.get("reported").is_none(), "{context}");
                let kept = plan["account"].as_str().unwrap();
                assert!(uid_on_pc(lab, host.index, kept).is_some(), "{context}");
            }
            "blocked" => {
                assert_eq!(out["outcome"], "failed", "{context}");
                assert_eq!(out["step"], plan["step"], "{context}");
                assert!(out.get("reported").is_none(), "{context}");
            }
            other => panic!("{context}: unknown action {other}"),
        }
    }
    assert_eq!(
        actions,
        ["renew", "renew", "renew", "keep", "blocked", "blocked"]
    );
    // PC 3 adopted its account, as --check said it would.
    let adopted = names(&planned[&lab.host(3).ip]["adopt"]["accounts"]);
    assert_eq!(adopted, ["OLD3".to_string()].into());
}

fn playbook_yaml() -> String {
    format!(
        "{}account:\n  adopt: \"OLD[0-9]+\"\n",
        with_renewal(Some("{ older_than: 30d }"))
    )
}

lab_on_both!(check_plans_what_the_pcs_report_they_did, |inv| {
    let lab = Lab::up(6);
    let pb = lab.playbook(&inv.playbook(&lab, &playbook_yaml()));
    compare(&lab, &pb, |sql| {
        inv.value(&lab, sql);
    });
});
