//! A mixed fleet, as a real school has: Debian 12 and 13 PCs, systemd desktops with live sessions,
//! lingering users and user services, and busybox thin clients without shadow's tools. Every test
//! brings up its own lab of several flavours (docs/LAB.md, `Lab::up_mix`).

mod common;

use common::Lab;
use common::fleet::{
    PLAYBOOK, assert_converged, assert_converged_with_shells, inventory, managed_on_host, run,
};
use common::snapshot::Redact;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Installs bash on a busybox host from the package its root filesystem keeps (the playbook's
/// default shell is /bin/bash; a busybox PC has none until someone installs it).
fn install_bash(lab: &Lab, i: usize) {
    lab.host_sh(
        i,
        "dpkg -i /root/lab-debs/bash_*.deb >/dev/null && test -x /bin/bash",
    )
    .success();
}

/// The `--check` text of one PC: its header line (`pcN IP MAC`) and the indented lines under it.
fn plan_of(check: &str, hostname: &str) -> String {
    let mut lines = check
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{hostname} ")));
    let mut block = lines.next().unwrap_or_default().to_string();
    for l in lines.take_while(|l| l.starts_with("  ")) {
        block.push('\n');
        block.push_str(l);
    }
    assert!(!block.is_empty(), "no plan for {hostname} in:\n{check}");
    block
}

/// Waits (at most 120 s: a loaded machine starts a systemd session slowly) until `script` succeeds
/// on host `i`.
#[track_caller]
fn wait_until(lab: &Lab, i: usize, script: &str) {
    let started = Instant::now();
    while !lab.host_sh(i, script).status.success() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "pc{i}: still not true after 120 s: {script}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_fleet_of_every_flavour_renews_twice_and_check_shows_each_pcs_tools() {
    let lab = Lab::up_mix(&[
        ("bookworm", 2),
        ("trixie", 2),
        ("systemd", 2),
        ("busybox", 2),
    ]);
    let flavours: Vec<&str> = lab.hosts().iter().map(|h| h.flavour.as_str()).collect();
    assert_eq!(
        flavours,
        [
            "bookworm", "bookworm", "trixie", "trixie", "systemd", "systemd", "busybox", "busybox"
        ]
    );
    let status = lab.lab(&["status"]).success().stdout.clone();
    assert!(
        status.contains(" pc5      systemd  up "),
        "lab status shows each host's flavour:\n{status}"
    );
    for host in lab.hosts().iter().filter(|h| h.flavour == "busybox") {
        install_bash(&lab, host.index);
    }
    let pb = lab.playbook(PLAYBOOK);
    run(&lab, &pb, &[]).success();
    let first = assert_converged(&lab, "after the first run");

    // Facts from every flavour: the OS and its version; the machine-id (the GLPI UUID here, where
    // no DMI is readable).
    let inv = inventory(&lab);
    for host in lab.hosts() {
        let pc = inv["pcs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["mac"] == host.mac.as_str())
            .expect("PC recorded");
        let os = pc["facts"]["os"].as_str().unwrap_or_default();
        let want = match host.flavour.as_str() {
            "trixie" => "Debian GNU/Linux 13 (trixie)",
            _ => "Debian GNU/Linux 12 (bookworm)",
        };
        assert_eq!(os, want, "{}", host.hostname);
        let machine_id = lab
            .host_sh(host.index, "cat /etc/machine-id")
            .success()
            .stdout
            .trim()
            .to_string();
        assert_eq!(
            pc["facts"]["machine_id"],
            machine_id.as_str(),
            "{}",
            host.hostname
        );
    }

    // The GLPI export gives each PC the machine-id as its UUID (the lab's PCs have no readable DMI).
    let glpi = lab.dir().join("glpi");
    lab.rdplay()
        .args(["inventory", "export", "--format", "glpi", "-o"])
        .arg(glpi.to_str().unwrap())
        .args(["--db", common::fleet::db(&lab).to_str().unwrap()])
        .run()
        .success();
    for host in lab.hosts() {
        let file = glpi.join(format!("{}.json", host.mac.replace(':', "-")));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let id = lab
            .host_sh(host.index, "cat /etc/machine-id")
            .success()
            .stdout
            .trim()
            .to_string();
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            &id[..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..]
        );
        assert_eq!(
            doc["content"]["hardware"]["uuid"],
            uuid.as_str(),
            "{}",
            host.hostname
        );
    }

    // --check names, per PC, the tools the renewal will use.
    let check = lab
        .rdplay()
        .args(["run", "--check", pb.to_str().unwrap()])
        .run();
    // Exit 2: the plan changes PCs.
    check.code(2);
    for host in lab.hosts() {
        let plan = plan_of(&check.stdout, &host.hostname);
        let want = match host.flavour.as_str() {
            "busybox" => {
                "  ~ tools: busybox (addgroup, adduser -D, chpasswd -e, deluser, delgroup)\n"
            }
            "systemd" => {
                "  ~ tools: shadow (groupadd, useradd, chpasswd -e, userdel -r); systemd ("
            }
            _ => "  ~ tools: shadow (groupadd, useradd, chpasswd -e, userdel -r)\n",
        };
        assert!(
            format!("{plan}\n").contains(want),
            "{}: expected {want:?} in:\n{plan}",
            host.hostname
        );
    }

    run(&lab, &pb, &[]).success();
    let second = assert_converged(&lab, "after the second run");
    assert!(
        first.iter().zip(&second).all(|(a, b)| a != b),
        "passwords renewed"
    );
}

/// Puts a wrapper in front of the PC's busybox, earlier on the helper's PATH (/usr/sbin before
/// /usr/bin): it appends each call's arguments to /var/log/busybox-calls, then runs the real busybox
/// with them. What the helper asked busybox to do is then on record, and its stdin (the hash) is not.
fn record_busybox_calls(lab: &Lab, i: usize) {
    lab.host_sh(
        i,
        r#"cat >/usr/sbin/busybox <<'WRAPPER'
#!/bin/sh
printf '%s\n' "$*" >>/var/log/busybox-calls
exec /usr/bin/busybox "$@"
WRAPPER
chmod 0755 /usr/sbin/busybox && test "$(command -v busybox)" = /usr/sbin/busybox"#,
    )
    .success();
}

/// The account-making calls the helper made to busybox since the last call of this function (the
/// `--list` of its tool detection left out).
fn busybox_calls(lab: &Lab, i: usize) -> Vec<String> {
    let log = lab
        .host_sh(
            i,
            "cat /var/log/busybox-calls 2>/dev/null; rm -f /var/log/busybox-calls",
        )
        .success()
        .stdout
        .clone();
    assert!(
        !log.contains("$6$"),
        "no hash in busybox's arguments:\n{log}"
    );
    log.lines()
        .filter(|l| *l != "--list")
        .map(str::to_string)
        .collect()
}

/// Asserts that `account` on host `i` is as the helper makes it, whatever its tools: the mark in
/// the comment field, its uid as its own group's gid, a `$6$` hash in shadow, a 0700 home it owns.
#[track_caller]
fn assert_made_by_rdplay(lab: &Lab, i: usize, account: &str) {
    lab.host_sh(
        i,
        &format!(
            "u=$(id -u {account}) && \
             getent passwd {account} | grep -q \":$u:$u:rdplay managed account:/home/{account}:/bin/bash$\" && \
             getent group {account} | grep -q \"^{account}:x:$u:\" && getent shadow {account} | grep -q '^{account}:\\$6\\$' && \
             test \"$(stat -c %a:%U /home/{account})\" = 700:{account}"
        ),
    )
    .success();
}

/// Leaves a file of `account`'s outside its home on host `i` (/tmp/left-by-ACCOUNT).
fn leave_a_file(lab: &Lab, i: usize, account: &str) {
    lab.host_sh(
        i,
        &format!("su -s /bin/sh {account} -c 'touch /tmp/left-by-{account}'"),
    )
    .success();
}

/// Asserts that nothing of `account` is left on host `i`: no account, no group, no shadow line, no
/// home, not the file `leave_a_file` left.
#[track_caller]
fn assert_gone(lab: &Lab, i: usize, account: &str) {
    lab.host_sh(
        i,
        &format!(
            "! getent passwd {account} && ! getent group {account} && ! getent shadow {account} && \
             ! test -e /home/{account} && ! test -e /tmp/left-by-{account}"
        ),
    )
    .success();
}

/// The uid of `account` on host `i`.
fn uid_on_host(lab: &Lab, i: usize, account: &str) -> u32 {
    let out = lab
        .host_sh(i, &format!("id -u {account}"))
        .success()
        .stdout
        .clone();
    out.trim().parse().expect("a uid")
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn one_playbook_with_a_shell_list_renews_bookworm_and_busybox_pcs_each_with_its_shell() {
    let lab = Lab::up_mix(&[("bookworm", 2), ("busybox", 2)]);
    // bookworm PCs have bash and list it in /etc/shells; busybox PCs have none, and list /bin/sh.
    for i in [1, 2] {
        lab.host_sh(i, "test -x /bin/bash && grep -qx /bin/bash /etc/shells")
            .success();
    }
    for i in [3, 4] {
        lab.host_sh(i, "! test -e /bin/bash && grep -qx /bin/sh /etc/shells")
            .success();
    }
    let pb = lab.playbook(&format!(
        "{PLAYBOOK}account:\n  shell: [/bin/bash, /bin/sh]\n"
    ));
    let pb = pb.to_str().unwrap();
    let shells = ["/bin/bash", "/bin/bash", "/bin/sh", "/bin/sh"];
    let list = "the first of /bin/bash, /bin/sh";

    // Before first contact no PC can be probed (nor named): every plan names the rule.
    let check = lab.rdplay().args(["run", "--check", pb]).run();
    check.code(2);
    let rule = format!("(shell: {list} the PC has in /etc/shells, chosen after first contact");
    assert_eq!(check.stdout.matches(&rule).count(), 4, "{}", check.stdout);

    run(&lab, Path::new(pb), &[]).success();
    let first = assert_converged_with_shells(&lab, "after the first run", &shells);

    // Known PCs: --check shows which shell each one gets, in text and in JSON.
    let check = lab.rdplay().args(["run", "--check", pb]).run();
    check.code(2);
    for (host, shell) in lab.hosts().iter().zip(shells) {
        let plan = plan_of(&check.stdout, &host.hostname);
        assert!(
            plan.contains(&format!(
                "(shell {shell}, {list} this PC has in /etc/shells, home under /home"
            )),
            "{plan}"
        );
    }
    let json = lab
        .rdplay()
        .args(["run", "--check", "--format", "json", pb])
        .run();
    json.code(2);
    let mut chosen: Vec<(String, String)> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON plan"))
        .map(|p| {
            assert_eq!(
                p["create"]["shell_prefer"],
                serde_json::json!(["/bin/bash", "/bin/sh"])
            );
            (
                p["hostname"].as_str().unwrap_or_default().to_string(),
                p["create"]["shell"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    chosen.sort();
    let expected: Vec<(String, String)> = lab
        .hosts()
        .iter()
        .zip(shells)
        .map(|(h, s)| (h.hostname.clone(), s.to_string()))
        .collect();
    assert_eq!(chosen, expected);

    run(&lab, Path::new(pb), &[]).success();
    let second = assert_converged_with_shells(&lab, "after the second run", &shells);
    for (a, b) in first.iter().zip(&second) {
        assert_ne!(a, b, "every PC got a new password");
    }
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_busybox_pc_without_bash_is_refused_by_name_then_renewed_with_busyboxs_applets() {
    let lab = Lab::up_mix(&[("busybox", 1)]);
    // What a busybox PC is: none of shadow's tools; busybox as /bin/sh and as the account tools, with
    // the applets the helper needs; no bash.
    lab.host_sh(
        1,
        "! command -v useradd && ! command -v userdel && ! command -v usermod && ! command -v groupadd && \
         ! test -e /bin/bash && test \"$(readlink -f /bin/sh)\" = /usr/bin/busybox && \
         test \"$(readlink -f \"$(command -v chpasswd)\")\" = /usr/bin/busybox && \
         test \"$(readlink -f \"$(command -v adduser)\")\" = /usr/bin/busybox && \
         busybox --list | grep -qx deluser && busybox --list | grep -qx delgroup && busybox --list | grep -qx addgroup",
    )
    .success();
    let pb = lab.playbook(PLAYBOOK);
    let refused = run(&lab, &pb, &[]);
    refused.failure();
    assert!(
        refused
            .stdout
            .contains("the login shell /bin/bash does not exist on this PC")
            || refused
                .stderr
                .contains("the login shell /bin/bash does not exist on this PC"),
        "the missing shell is named:\n{refused}"
    );
    // Nothing was made on the PC; --check (the PC's key is pinned now) says why before any change.
    assert!(managed_on_host(&lab, 1).is_empty());
    lab.rdplay()
        .args(["run", "--check", pb.to_str().unwrap()])
        .run()
        .stdout_contains("the login shell /bin/bash does not exist on this PC");

    install_bash(&lab, 1);
    // The plan names busybox's applets for this PC.
    let check = lab
        .rdplay()
        .args(["run", "--check", pb.to_str().unwrap()])
        .run();
    check.code(2);
    insta::assert_snapshot!(
        "busybox_pc_check_text",
        Redact::lab(&lab).apply(&check.stdout)
    );

    record_busybox_calls(&lab, 1);
    run(&lab, &pb, &[]).success();
    assert_converged(&lab, "after bash was installed");
    let old = managed_on_host(&lab, 1).remove(0);
    let old_uid = uid_on_host(&lab, 1, &old);
    // Made by busybox's applets, in the helper's order: the group, the account (locked) with the mark,
    // the hash on chpasswd's stdin.
    assert_eq!(
        busybox_calls(&lab, 1),
        [
            format!("addgroup -g {old_uid} {old}"),
            format!(
                "adduser -D -h /home/{old} -s /bin/bash -g rdplay managed account -u {old_uid} -G {old} {old}"
            ),
            "chpasswd -e".to_string(),
        ]
    );
    assert_made_by_rdplay(&lab, 1, &old);
    leave_a_file(&lab, 1, &old);

    run(&lab, &pb, &[]).success();
    assert_converged(&lab, "after the second run");
    let new = managed_on_host(&lab, 1).remove(0);
    let new_uid = uid_on_host(&lab, 1, &new);
    assert!(new_uid > old_uid, "uid {new_uid} after {old_uid}");
    // The old account went through busybox's deluser (which also drops its group), the new one came
    // as the first did.
    assert_eq!(
        busybox_calls(&lab, 1),
        [
            format!("deluser {old}"),
            format!("addgroup -g {new_uid} {new}"),
            format!(
                "adduser -D -h /home/{new} -s /bin/bash -g rdplay managed account -u {new_uid} -G {new} {new}"
            ),
            "chpasswd -e".to_string(),
        ]
    );
    assert_gone(&lab, 1, &old);
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_pc_whose_busybox_lacks_the_account_applets_is_renewed_through_the_account_files() {
    let lab = Lab::up_mix(&[("busybox", 1)]);
    // Debian's own busybox package: no adduser, deluser, addgroup, delgroup or chpasswd applet.
    lab.host_sh(
        1,
        "dpkg -i /root/lab-debs/busybox_*.deb >/dev/null && ! busybox --list | grep -qx adduser",
    )
    .success();
    install_bash(&lab, 1);
    let pb = lab.playbook(PLAYBOOK);
    run(&lab, &pb, &[]).success();
    assert_converged(&lab, "after the first run");
    // The plan (the PC probed, now that its key is pinned) names the account files as its tools.
    run(&lab, &pb, &["--check"]).code(2).stdout_contains(
        "  ~ tools: the account files (/etc/passwd, shadow, group, gshadow edited by the helper)\n",
    );
    let old = managed_on_host(&lab, 1).remove(0);
    let old_uid = uid_on_host(&lab, 1, &old);
    // The helper wrote the account files itself.
    assert_made_by_rdplay(&lab, 1, &old);
    leave_a_file(&lab, 1, &old);

    run(&lab, &pb, &[]).success();
    assert_converged(&lab, "after the second run");
    let new = managed_on_host(&lab, 1).remove(0);
    assert!(uid_on_host(&lab, 1, &new) > old_uid);
    // Deleted the same way.
    assert_gone(&lab, 1, &old);
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn on_a_systemd_desktop_the_old_accounts_session_linger_and_restarting_service_end() {
    let lab = Lab::up_mix(&[("systemd", 1)]);
    let pb = lab.playbook(PLAYBOOK);
    run(&lab, &pb, &[]).success();
    let password = assert_converged(&lab, "after the first run").remove(0);
    let old = managed_on_host(&lab, 1).remove(0);
    let uid = lab
        .host_sh(1, &format!("id -u {old}"))
        .success()
        .stdout
        .trim()
        .to_string();

    // The student sits at the PC: a logind session over SSH, lingering, a user service systemd
    // restarts whenever it dies, and a cron job.
    let file = lab.dir().join("old-password");
    common::write_private(&file, password.as_bytes());
    let mut session = lab.spawn_ssh_password(1, &old, &file, "exec sleep 4141");
    wait_until(
        &lab,
        1,
        &format!("loginctl list-sessions --no-legend | grep -qw {old}"),
    );
    lab.host_sh(
        1,
        &format!(
            "set -e; d=/home/{old}/.config/systemd/user; mkdir -p $d/default.target.wants
             printf '[Service]\\nExecStart=/bin/sleep 4242\\nRestart=always\\nRestartSec=0\\n[Install]\\nWantedBy=default.target\\n' >$d/stay.service
             ln -s ../stay.service $d/default.target.wants/stay.service
             chown -R {old}: /home/{old}/.config
             loginctl enable-linger {old}
             echo '* * * * * sleep 4343' | crontab -u {old} -"
        ),
    )
    .success();
    // The session started the user manager before the unit existed: it reloads, then starts it.
    let user_systemctl =
        format!("runuser -u {old} -- env XDG_RUNTIME_DIR=/run/user/{uid} systemctl --user");
    lab.host_sh(
        1,
        &format!("{user_systemctl} daemon-reload && {user_systemctl} start stay.service"),
    )
    .success();
    let service = format!("pgrep -u {uid} -fx '/bin/sleep 4242'");
    wait_until(&lab, 1, &service);
    // systemd restarts it when it dies.
    lab.host_sh(1, &format!("pkill -u {uid} -fx '/bin/sleep 4242'"))
        .success();
    wait_until(&lab, 1, &service);
    lab.host_sh(
        1,
        &format!("test -e /var/lib/systemd/linger/{old} && systemctl is-active user@{uid}.service && test -e /var/spool/cron/crontabs/{old}"),
    )
    .success();

    run(&lab, &pb, &[]).success();
    let _ = session.kill();
    let _ = session.wait();
    let after = lab
        .host_sh(
            1,
            &format!(
                "echo procs=$(pgrep -u {uid} | wc -l); echo sessions=$(loginctl list-sessions --no-legend | grep -cw {old}); \
                 echo linger=$(ls /var/lib/systemd/linger); echo manager=$(systemctl is-active user@{uid}.service); \
                 echo home=$(test -e /home/{old} && echo kept || echo gone); echo cron=$(ls /var/spool/cron/crontabs)"
            ),
        )
        .success()
        .stdout
        .clone();
    // Nothing of the old account runs or will start again, however systemd is told to restart it.
    std::thread::sleep(Duration::from_secs(2));
    let later = lab
        .host_sh(1, &format!("pgrep -u {uid} | wc -l"))
        .success()
        .stdout
        .clone();
    assert_eq!(later.trim(), "0", "a process of uid {uid} came back");
    for want in [
        "procs=0",
        "sessions=0",
        "linger=\n",
        "manager=inactive",
        "home=gone",
        "cron=\n",
    ] {
        assert!(
            after.contains(want),
            "expected {want:?} after the renewal:\n{after}"
        );
    }
    assert_converged(&lab, "after the second run");

    // Teardown leaves none of the systemd host's cgroups on the machine.
    lab.lab(&["down"]).success();
    let cgroups = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("d=$(mktemp -d) && mount -t cgroup2 none $d && ls $d; umount $d; rmdir $d")
        .output()
        .expect("unshare runs");
    let cgroups = String::from_utf8_lossy(&cgroups.stdout);
    assert!(
        cgroups.contains("init.scope") || cgroups.contains("cgroup.procs"),
        "the cgroup2 hierarchy was listed: {cgroups}"
    );
    assert!(
        !cgroups.contains(&format!("rdplay-lab.{}.", lab.name())),
        "cgroups left: {cgroups}"
    );
}
