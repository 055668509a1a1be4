//! The engine against real sshd PCs: first contact, renewal, deletion safety, unreachable PCs, changed
//! host keys, `--limit`, hanging PCs. Every test brings up its own lab (see tests/common).

mod common;

use common::Lab;
use common::fleet::{
    PLAYBOOK, assert_converged, assert_host_converged, assert_not_shown, inventory,
    managed_on_host, move_host, run, sheet_password, wide_playbook, with_renewal,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn playbook(lab: &Lab) -> PathBuf {
    lab.playbook(PLAYBOOK)
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn first_contact_renews_every_pc_and_the_sheet_password_logs_in() {
    let lab = Lab::up(3);
    let pb = playbook(&lab);
    let out = run(&lab, &pb, &[]);
    out.success().stdout_contains("ok (first contact)");
    // The controller's key is installed for root; the admin's password is not needed any more.
    for host in lab.hosts() {
        lab.host_sh(host.index, "cat /root/.ssh/authorized_keys")
            .success()
            .stdout_contains("rdplay@");
    }
    let inv = inventory(&lab);
    assert_converged(&lab, "after first contact");
    // The inventory matches the fleet: every PC by MAC, with its hostname and address.
    let pcs = inv["pcs"].as_array().unwrap();
    assert_eq!(pcs.len(), lab.hosts().len());
    for host in lab.hosts() {
        let pc = pcs
            .iter()
            .find(|p| p["mac"] == host.mac.as_str())
            .expect("PC recorded");
        assert_eq!(pc["hostname"], host.hostname.as_str());
        assert_eq!(pc["ip"], host.ip.as_str());
    }
    // Request numbers are unique, across runs too.
    run(&lab, &pb, &[]).success();
    let requests: Vec<String> = inventory(&lab)["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["request"].as_str().unwrap().to_string())
        .collect();
    let unique: std::collections::HashSet<_> = requests.iter().collect();
    assert_eq!(requests.len(), 6);
    assert_eq!(unique.len(), requests.len(), "{requests:?}");
    // Nothing is left in the PCs' /tmp.
    for host in lab.hosts() {
        let tmp = lab
            .host_sh(host.index, "ls -a /tmp")
            .success()
            .stdout
            .clone();
        assert!(!tmp.contains("rdplay."), "{tmp}");
    }
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn second_run_deletes_old_accounts_homes_and_sessions_but_never_a_human_account() {
    let lab = Lab::up(2);
    let pb = playbook(&lab);
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    // A human account rdplay did not make, and a session of the old account.
    lab.host_sh(1, "useradd -m -u 1500 alice").success();
    lab.host_sh(
        1,
        &format!("su -s /bin/sh {old} -c 'sleep 4242 >/dev/null 2>&1 &'"),
    )
    .success();
    let sleeping = |lab: &Lab| {
        lab.host_sh(1, "ps -eo args= | grep -cx 'sleep 4242'")
            .stdout
            .trim()
            == "1"
    };
    assert!(sleeping(&lab));
    let old_sheet = lab.dir().join(format!("output/users/{old}.pdf"));
    assert!(old_sheet.exists());

    run(&lab, &pb, &[])
        .success()
        .stdout_contains(&format!("{old} -> "));
    let passwd = lab.host_sh(1, "cat /etc/passwd").success().stdout.clone();
    assert!(!passwd.contains(&old), "old account still there");
    assert!(passwd.contains("alice:x:1500"), "human account touched");
    lab.host_sh(1, &format!("test ! -e /home/{old}")).success();
    lab.host_sh(1, "test -d /home/alice").success();
    assert!(!sleeping(&lab), "old session survived");
    assert!(
        !old_sheet.exists(),
        "the deleted account's sheet is removed"
    );
    let inv = inventory(&lab);
    assert_converged(&lab, "after the second run");
    let deleted: Vec<_> = inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["username"] == old.as_str())
        .collect();
    assert_eq!(deleted.len(), 1);
    assert!(
        !deleted[0]["deleted_at"].is_null(),
        "the record stays, marked deleted"
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn unknown_pc_without_sshd_is_skipped_and_a_known_one_is_reported_unreachable() {
    let lab = Lab::up(3);
    let pb = playbook(&lab);
    lab.sshd(3, "stop");
    run(&lab, &pb, &[]).success();
    assert!(managed_on_host(&lab, 3).is_empty());
    lab.sshd(3, "start");
    run(&lab, &pb, &[]).success();
    assert_eq!(managed_on_host(&lab, 3).len(), 1);

    lab.sshd(2, "stop");
    let out = run(&lab, &pb, &[]);
    out.code(3).stdout_contains("unreachable");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&lab.host(2).ip))
        .unwrap();
    assert!(line.contains("FAILED"), "{line}");
}

// On both inventories: `inventory forget` through a playbook is the shared database's own path.
lab_on_both!(a_changed_host_key_stops_that_pc_by_name, |inv| {
    let lab = Lab::up(2);
    let pb = lab.playbook(&inv.playbook(&lab, PLAYBOOK));
    run(&lab, &pb, &[]).success();
    let before = managed_on_host(&lab, 1);
    lab.regen_hostkey(1);
    let out = run(&lab, &pb, &[]);
    out.code(3);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&lab.host(1).ip))
        .unwrap();
    assert!(line.contains("host key"), "{line}");
    assert_eq!(
        managed_on_host(&lab, 1),
        before,
        "nothing changed on the PC"
    );
    let other = out
        .stdout
        .lines()
        .find(|l| l.contains(&lab.host(2).ip))
        .unwrap();
    assert!(other.contains(" ok"), "{other}");

    // The PC was reinstalled on purpose: forget its key, and the next run makes first contact again.
    lab.rdplay()
        .args(["inventory", "forget", &lab.host(1).ip, "--playbook"])
        .arg(pb.to_str().unwrap())
        .run()
        .success()
        .stdout_contains("forgot the host key");
    let out = run(&lab, &pb, &[]);
    out.success();
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&lab.host(1).ip))
        .unwrap();
    assert!(line.contains("ok (first contact)"), "{line}");
    assert_host_converged(&lab, &inv.export(&lab, &pb), 1, "after forget");
});

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn limit_takes_ips_hostnames_macs_and_failed() {
    let lab = Lab::up(3);
    let pb = playbook(&lab);
    run(&lab, &pb, &["--limit", &lab.host(1).ip]).success();
    assert_eq!(managed_on_host(&lab, 1).len(), 1);
    assert!(managed_on_host(&lab, 2).is_empty() && managed_on_host(&lab, 3).is_empty());

    run(&lab, &pb, &[]).success();
    let accounts: Vec<_> = (1..=3).map(|i| managed_on_host(&lab, i)).collect();
    // By MAC and by hostname (known from the inventory).
    run(&lab, &pb, &["--limit", &lab.host(2).mac]).success();
    assert_ne!(managed_on_host(&lab, 2), accounts[1]);
    assert_eq!(managed_on_host(&lab, 1), accounts[0]);
    run(&lab, &pb, &["--limit", "pc3"]).success();
    assert_ne!(managed_on_host(&lab, 3), accounts[2]);
    assert_eq!(managed_on_host(&lab, 1), accounts[0]);

    // @failed: only the PC that failed last time.
    lab.sshd(1, "stop");
    run(&lab, &pb, &[]).code(3);
    lab.sshd(1, "start");
    let now: Vec<_> = (1..=3).map(|i| managed_on_host(&lab, i)).collect();
    run(&lab, &pb, &["--limit", "@failed"]).success();
    assert_ne!(managed_on_host(&lab, 1), now[0]);
    assert_eq!(managed_on_host(&lab, 2), now[1]);
    assert_eq!(managed_on_host(&lab, 3), now[2]);
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_hanging_pc_times_out_while_the_others_finish() {
    let lab = Lab::up(3);
    let pb = lab.playbook(&PLAYBOOK.replace("step_timeout: 60s", "step_timeout: 4s"));
    run(&lab, &pb, &[]).success();
    // PC 2's useradd now hangs forever.
    lab.host_sh(
        2,
        "printf '#!/bin/sh\\nexec sleep 600\\n' > /usr/sbin/useradd && chmod 755 /usr/sbin/useradd",
    )
    .success();
    let started = Instant::now();
    let out = run(&lab, &pb, &[]);
    let elapsed = started.elapsed();
    out.code(3);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&lab.host(2).ip))
        .unwrap();
    assert!(line.contains("timed out"), "{line}");
    for i in [1, 3] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(&lab.host(i).ip))
            .unwrap();
        assert!(line.contains(" ok"), "{line}");
    }
    // Bounded by what the run must not wait for, the hang itself (600 s), not by a guess at how
    // fast the other PCs are on a loaded machine: the message above says the 4 s timeout ended it.
    assert!(elapsed < Duration::from_secs(120), "took {elapsed:?}");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn renewal_older_than_keeps_young_accounts_and_check_agrees() {
    let lab = Lab::up(2);
    let pb = lab.playbook(&with_renewal(Some("{ older_than: 30d }")));
    run(&lab, &pb, &[]).success();
    let first: Vec<_> = (1..=2).map(|i| managed_on_host(&lab, i)).collect();
    let check = lab
        .rdplay()
        .args(["run", "--check", pb.to_str().unwrap()])
        .run();
    check.code(0).stdout_contains("= kept:");
    run(&lab, &pb, &[])
        .success()
        .stdout_contains("kept:")
        .stdout_contains("2 kept by the renewal policy");
    let second: Vec<_> = (1..=2).map(|i| managed_on_host(&lab, i)).collect();
    assert_eq!(first, second, "young accounts are kept");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_rerun_with_the_default_policy_keeps_fresh_accounts_unless_renew_recent() {
    let lab = Lab::up(3);
    let pb = lab.playbook(&with_renewal(None));
    run(&lab, &pb, &[]).success();
    let first: Vec<_> = (1..=3).map(|i| managed_on_host(&lab, i)).collect();
    // Running again, as an admin does after fixing a few failed PCs: the fresh accounts (and the
    // sheets just printed for them) are kept, and the plan says how to renew them anyway.
    let check = lab.rdplay().args(["run", "-C", pb.to_str().unwrap()]).run();
    check
        .code(0)
        .stdout_contains("renewed once older than 12 h (`--renew-recent` renews it now)");
    run(&lab, &pb, &[])
        .success()
        .stdout_contains("0 renewed, 3 kept by the renewal policy");
    let kept: Vec<_> = (1..=3).map(|i| managed_on_host(&lab, i)).collect();
    assert_eq!(first, kept, "a re-run keeps the fresh accounts");
    // With the explicit flag, every PC is renewed, and each new sheet's password logs in.
    let check = lab
        .rdplay()
        .args(["run", "--check", "--renew-recent", pb.to_str().unwrap()])
        .run();
    check.code(2);
    run(&lab, &pb, &["--renew-recent"])
        .success()
        .stdout_contains("3 renewed, 0 kept by the renewal policy");
    for i in 1..=3 {
        let now = managed_on_host(&lab, i);
        assert_eq!(now.len(), 1, "PC {i}: {now:?}");
        assert!(!first[i - 1].contains(&now[0]), "PC {i} renewed: {now:?}");
        let sheet = lab.dir().join(format!("output/users/{}.pdf", now[0]));
        let secret = lab.dir().join(format!("sheet{i}.secret"));
        common::write_private(&secret, sheet_password(&sheet).as_bytes());
        lab.ssh_password(i, &now[0], &secret, "id -un")
            .success()
            .stdout_contains(&now[0]);
    }
}

/// How many password logins host `i`'s sshd refused.
fn failed_passwords(lab: &Lab, i: usize) -> usize {
    let log = lab.host_sh(i, "cat /var/log/sshd.log");
    log.stdout.matches("Failed password").count()
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_wrong_admin_password_reaches_three_pcs_then_first_contact_stops() {
    let lab = Lab::up(8);
    let wrong = lab.dir().join("wrong.secret");
    common::write_private(&wrong, b"Not-The-Password-1\n");
    let pb = lab.playbook(&PLAYBOOK.replace("\"@SECRET@\"", &format!("\"{}\"", wrong.display())));
    let out = run(&lab, &pb, &[]);
    out.code(3);
    let refusals: Vec<usize> = (1..=8).map(|i| failed_passwords(&lab, i)).collect();
    assert_eq!(
        refusals.iter().sum::<usize>(),
        3,
        "the password is sent to three PCs, once each: {refusals:?}\n{out}"
    );
    assert_eq!(
        refusals.iter().filter(|n| **n > 0).count(),
        3,
        "{refusals:?}"
    );
    let stopped = "FAILED at exchange: not tried: first contact stopped after 3 PCs in a row \
                   refused the admin password";
    assert_eq!(
        out.stdout.lines().filter(|l| l.contains(stopped)).count(),
        5,
        "{out}"
    );
    // Not reported as strangers on the network: they were not tried.
    assert!(!out.stdout.contains("not tried: first contact stopped after 3 PCs in a row refused the admin password (check `exchange.password`; no other PC was sent it)): not a PC"), "{out}");
    // With the right password, all eight are renewed.
    let good = lab.playbook_named("good.yml", PLAYBOOK);
    run(&lab, &good, &[]).success().stdout_contains("8 renewed");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_pc_that_refuses_passwords_is_reported_with_the_fix_then_first_contacted_by_key() {
    let lab = Lab::up(2);
    lab.host_sh(
        1,
        "sed -i '1i PasswordAuthentication no\\nKbdInteractiveAuthentication no' /etc/ssh/sshd_config",
    )
    .success();
    lab.sshd(1, "restart");
    let pb = lab.playbook(PLAYBOOK);
    // --check says so first, without sending any password.
    let check = lab.rdplay().args(["run", "-C", pb.to_str().unwrap()]).run();
    check
        .code(3)
        .stdout_contains("! no password login: ")
        .stdout_contains("refuses password logins (it offers only: publickey)");
    assert_eq!(failed_passwords(&lab, 1), 0, "--check sends no password");
    let out = run(&lab, &pb, &[]);
    out.code(3)
        .stdout_contains("refuses password logins (it offers only: publickey)")
        .stdout_contains("1 renewed");
    let audit = common::fleet::last_audit(&lab);
    let key = lab.dir().join("state/id_ed25519.pub");
    assert!(
        audit.contains(&format!(
            "install rdplay's key for root there (/root/.ssh/authorized_keys gets {};",
            key.display()
        )),
        "{audit}"
    );
    assert_eq!(failed_passwords(&lab, 1), 0, "no password was sent to it");
    // The fix the message gives: rdplay's key for root. First contact then uses it.
    let key = std::fs::read_to_string(key).unwrap();
    lab.host_sh_stdin(
        1,
        "mkdir -p -m 700 /root/.ssh && cat >> /root/.ssh/authorized_keys",
        key.as_bytes(),
    )
    .success();
    let check = lab
        .rdplay()
        .args(["run", "-C", "-l", &lab.host(1).ip, pb.to_str().unwrap()])
        .run();
    check.code(2).stdout_contains("! key exchange needed");
    run(&lab, &pb, &["-l", &lab.host(1).ip])
        .success()
        .stdout_contains("1 renewed");
    assert_eq!(managed_on_host(&lab, 1).len(), 1);
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn adopt_deletes_matching_pre_existing_accounts_only_when_asked_and_never_system_ones() {
    let lab = Lab::up(2);
    for i in 1..=2 {
        lab.host_sh(
            i,
            "useradd -m -u 1100 USERSS006-1291 && useradd -m -u 1500 alice",
        )
        .success();
    }
    // Without `adopt`, pre-existing accounts are never touched.
    let plain = playbook(&lab);
    run(&lab, &plain, &[]).success();
    for i in 1..=2 {
        lab.host_sh(i, "id USERSS006-1291 && id alice").success();
    }

    let pb = lab.playbook_named(
        "adopt.yml",
        &PLAYBOOK.replace(
            "  formats: [pdf]\n",
            "  formats: [pdf]\naccount:\n  adopt: \"USERSS006-.*|daemon|root\"\n",
        ),
    );
    // The seed's account on PC 1 is shown, then adopted; root and daemon never are.
    let check = lab
        .rdplay()
        .args([
            "run",
            "--check",
            pb.to_str().unwrap(),
            "--limit",
            &lab.host(1).ip,
        ])
        .run();
    check
        .code(2)
        .stdout_contains("- adopt and delete account USERSS006-1291");
    assert!(!check.stdout.contains("account root") && !check.stdout.contains("account daemon"));
    run(&lab, &pb, &["--limit", &lab.host(1).ip]).success();
    assert!(
        !lab.host_sh(1, "id USERSS006-1291").status.success(),
        "adopted account deleted"
    );
    lab.host_sh(1, "id alice && id daemon && id root && test -d /home/alice")
        .success();
    assert_eq!(managed_on_host(&lab, 1).len(), 1);
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_non_root_connection_user_renews_through_passwordless_sudo_and_is_told_when_it_has_none() {
    let lab = Lab::up(2);
    // PC 1: the service account may run anything as root without a password; PC 2: no sudo rule.
    lab.host_sh(
        1,
        "useradd -m -s /bin/sh rdsvc && echo 'rdsvc ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/rdsvc \
         && chmod 0440 /etc/sudoers.d/rdsvc",
    )
    .success();
    lab.host_sh(2, "useradd -m -s /bin/sh rdsvc").success();
    let pb = lab.playbook(&PLAYBOOK.replace("connection:\n", "connection:\n  user: rdsvc\n"));

    for round in 1..=2 {
        let out = run(&lab, &pb, &[]);
        out.code(3);
        let line = |i: usize| {
            out.stdout
                .lines()
                .find(|l| l.contains(&lab.host(i).ip))
                .unwrap_or_default()
                .to_string()
        };
        assert!(line(1).contains(" ok"), "round {round}: {}", line(1));
        assert!(
            line(2).contains("passwordless sudo"),
            "round {round}: {}",
            line(2)
        );
        assert_eq!(managed_on_host(&lab, 1).len(), 1, "round {round}");
        assert!(managed_on_host(&lab, 2).is_empty(), "round {round}");
        for i in [1, 2] {
            // The key went to the connection user, not root; the work directory is gone either way.
            lab.host_sh(i, "cat /home/rdsvc/.ssh/authorized_keys")
                .success()
                .stdout_contains("rdplay@");
            lab.host_sh(
                i,
                "test ! -e /root/.ssh/authorized_keys && ! ls -d /tmp/rdplay.* 2>/dev/null",
            )
            .success();
            // rdplay never touches the service account it connects as.
            lab.host_sh(i, "id rdsvc").success();
        }
    }
    assert_host_converged(&lab, &inventory(&lab), 1, "non-root connection user");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_pc_keeps_its_number_when_dhcp_moves_it() {
    let lab = Lab::up(3);
    let pb = wide_playbook(&lab);
    run(&lab, &pb, &[]).success();
    let number_of = |inv: &serde_json::Value, i: usize| {
        inv["pcs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["mac"] == lab.host(i).mac.as_str())
            .map(|p| p["number"].as_u64().unwrap())
            .unwrap()
    };
    let before = inventory(&lab);
    // New PCs are numbered in address order.
    assert_eq!(
        (1..=3).map(|i| number_of(&before, i)).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(managed_on_host(&lab, 1)[0].starts_with("USERSS001-"));

    // DHCP gives pc1 another address, past the others; it is up there before the run.
    let (old_ip, new_ip) = move_host(&lab, 1, 30);
    let out = run(&lab, &pb, &[]);
    // Its old address is silent, and that is not a missing PC: its MAC answered elsewhere.
    out.success();
    assert_not_shown(&out, &old_ip);
    let line = out.stdout.lines().find(|l| l.contains(&new_ip)).unwrap();
    assert!(line.contains(" ok"), "{line}");
    let after = inventory(&lab);
    assert_eq!(number_of(&after, 1), 1, "the number stays with the MAC");
    let account = managed_on_host(&lab, 1).remove(0);
    assert!(account.starts_with("USERSS001-"), "{account}");
    let label = lab.dir().join(format!(
        "output/pcs/{}.pdf",
        lab.host(1).mac.replace(':', "")
    ));
    let text = common::fleet::pdf_text(&label);
    assert!(text.contains("n° 1"), "{text}");
    assert!(text.contains(&new_ip), "{text}");

    // An admin gives it another number by hand; one another PC has is refused.
    lab.rdplay()
        .args(["inventory", "renumber", &new_ip, "2", "--playbook"])
        .arg(pb.to_str().unwrap())
        .run()
        .failure()
        .stderr_contains("belongs to");
    lab.rdplay()
        .args(["inventory", "renumber", &new_ip, "7", "--playbook"])
        .arg(pb.to_str().unwrap())
        .run()
        .success();
    run(&lab, &pb, &[]).success();
    assert!(managed_on_host(&lab, 1)[0].starts_with("USERSS007-"));
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn connection_kex_algorithms_is_what_every_connection_offers() {
    let lab = Lab::up(2);
    let with_kex = |kex: &str| {
        lab.playbook(&PLAYBOOK.replace(
            "connection:\n",
            &format!("connection:\n  kex_algorithms: [{kex}]\n"),
        ))
    };
    // A method this OpenSSH knows but the PCs' sshd refuses: first contact fails on every PC, saying why.
    let legacy = run(&lab, &with_kex("diffie-hellman-group1-sha1"), &[]);
    legacy
        .failure()
        .stdout_contains("no matching key exchange method");
    // The fast classic method: first contact, then a renewal over the managed master and its login check.
    let classic = with_kex("curve25519-sha256");
    run(&lab, &classic, &[]).success();
    run(&lab, &classic, &[]).success();
    assert_converged(&lab, "renewed offering only curve25519-sha256");
    // Known PCs, the master refused: the probe fails on every PC, and nothing changes.
    let before = inventory(&lab)["accounts"].as_array().unwrap().len();
    run(&lab, &with_kex("diffie-hellman-group1-sha1"), &[])
        .failure()
        .stdout_contains("no matching key exchange method");
    assert_eq!(
        inventory(&lab)["accounts"].as_array().unwrap().len(),
        before
    );
    assert_converged(&lab, "after a run whose masters were refused");
    // A name this OpenSSH does not know stops the run before any PC, naming it.
    run(&lab, &with_kex("curve25519-sha256, no-such-kex"), &[])
        .failure()
        .stderr_contains("this OpenSSH does not know no-such-kex");
}
