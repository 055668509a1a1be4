//! `rdplay run --check` against real PCs: it shows what a run would change and changes nothing, on the
//! PCs or on the controller.

mod common;

use common::Lab;
use common::fleet::{PLAYBOOK, managed_on_host, sheet_password};
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

    // JSON form for scripts: the same plan.
    let json = check(&lab, &pb, &["--format", "json"]);
    json.code(2);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON plan");
    assert_eq!(plan["pcs"].as_array().unwrap().len(), 2);

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
