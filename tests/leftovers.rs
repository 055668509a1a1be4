//! Nothing of the previous account is readable by the next (docs/SECURITY.md): what the old account
//! owned outside its home goes with it, no uid is ever given twice on a PC, and a human's files stay,
//! even next to the old account's. Real PCs (see tests/common).

mod common;

use common::fleet::{PLAYBOOK, assert_converged, inventory, managed_on_host, run};
use common::{Lab, Run};
use std::path::Path;

/// Runs `script` on host `i` as `user` (a login shell is not needed: `su -s /bin/sh`). `script` must not
/// hold a single quote.
fn as_user(lab: &Lab, i: usize, user: &str, script: &str) -> Run {
    assert!(!script.contains('\''), "{script}");
    lab.host_sh(i, &format!("su -s /bin/sh {user} -c '{script}'"))
}

fn uid(lab: &Lab, i: usize, user: &str) -> u32 {
    let out = lab.host_sh(i, &format!("id -u {user}"));
    out.success().stdout.trim().parse().expect("a uid")
}

/// Every uid in host `i`'s passwd.
fn uids(lab: &Lab, i: usize) -> Vec<u32> {
    let out = lab.host_sh(i, "cut -d: -f3 /etc/passwd");
    out.success()
        .stdout
        .lines()
        .map(|l| l.trim().parse().expect("a uid"))
        .collect()
}

/// What the old account `old` leaves on host `i` outside its home: files in /tmp, /var/tmp, /dev/shm
/// and a shared directory, a directory tree, a symlink to a file of the human's, a FIFO, a crontab
/// and a mail spool. Ten files, 3000 + 6 * 2 + 11 + 16 + crontab + mail bytes; the paths.
const OLD_LITTER: &[&str] = &[
    "/tmp/notes",
    "/var/tmp/download",
    "/dev/shm/cache",
    "/srv/shared/work",
    "/tmp/tree",
    "/tmp/link-passwd",
    "/tmp/link-alice",
    "/tmp/fifo",
];

fn litter(lab: &Lab, i: usize, old: &str) {
    lab.host_sh(
        i,
        "mkdir -p /srv/shared && chmod 1777 /srv/shared && useradd -m -u 1500 alice && \
         su -s /bin/sh alice -c 'echo alice > /tmp/alice-notes'",
    )
    .success();
    as_user(
        lab,
        i,
        old,
        "echo notes > /tmp/notes && echo dl > /var/tmp/download && \
         head -c 3000 /dev/zero > /dev/shm/cache && echo wk > /srv/shared/work && \
         mkdir -p /tmp/tree/a/b && echo de > /tmp/tree/a/b/deep && \
         mkdir /srv/shared/open && chmod 777 /srv/shared/open && \
         ln -s /etc/passwd /tmp/link-passwd && ln -s /tmp/alice-notes /tmp/link-alice && \
         mkfifo /tmp/fifo",
    )
    .success();
    // cron and a mail transport are not installed in the lab: their files, as they would write them.
    lab.host_sh(
        i,
        &format!(
            "mkdir -p /var/spool/cron/crontabs && echo '* * * * * true' > /var/spool/cron/crontabs/{old} && \
             chown {old} /var/spool/cron/crontabs/{old} && chmod 600 /var/spool/cron/crontabs/{old} && \
             echo 'From x' > /var/mail/{old} && chown {old}:mail /var/mail/{old}"
        ),
    )
    .success();
    // The human's files next to the old account's, and inside a directory the old account made.
    as_user(
        lab,
        i,
        "alice",
        "echo alice > /srv/shared/alice-work && echo alice > /srv/shared/open/alice-inside && \
         echo alice > /var/tmp/alice-dl && ln -s /tmp/notes /tmp/alice-link",
    )
    .success();
}

/// The audit log of the last run.
fn last_audit(dir: &Path) -> String {
    let mut runs: Vec<_> = std::fs::read_dir(dir.join("state/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    std::fs::read_to_string(runs.last().unwrap().join("audit.jsonl")).unwrap()
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn nothing_of_the_previous_account_is_readable_by_the_next() {
    let lab = Lab::up(1);
    let pb = lab.playbook(PLAYBOOK);
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    let old_uid = uid(&lab, 1, &old);
    litter(&lab, 1, &old);
    let seen_before = uids(&lab, 1);

    // --check counts what would go, and changes nothing.
    let check = lab
        .rdplay()
        .args(["run", "--check", pb.to_str().unwrap()])
        .run();
    check.code(2).stdout_contains("10 files");
    lab.host_sh(1, "test -e /tmp/notes").success();

    let out = run(&lab, &pb, &[]);
    out.success().stdout_contains("(10 files, ");
    out.stdout_contains("left behind, removed)");
    let new = managed_on_host(&lab, 1).remove(0);
    for path in OLD_LITTER.iter().map(|p| p.to_string()).chain([
        format!("/var/spool/cron/crontabs/{old}"),
        format!("/var/mail/{old}"),
    ]) {
        lab.host_sh(1, &format!("test ! -e {path} && test ! -L {path}"))
            .success();
    }
    // Of the old uid, only the directory that holds the human's file is left (empty of its files).
    let owned = lab.host_sh(
        1,
        &format!("find / /dev/shm -xdev -uid {old_uid} 2>/dev/null"),
    );
    assert_eq!(owned.success().stdout.trim(), "/srv/shared/open", "{owned}");
    // The new account cannot be the old one: a uid above every uid the PC ever showed.
    let new_uid = uid(&lab, 1, &new);
    assert!(
        seen_before.iter().all(|u| *u < new_uid || *u >= 60000),
        "{new_uid} vs {seen_before:?}"
    );
    let gid = lab.host_sh(1, &format!("id -g {new}"));
    assert_eq!(
        gid.success().stdout.trim(),
        new_uid.to_string(),
        "own group"
    );
    let audit = last_audit(lab.dir());
    let outcome: serde_json::Value = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"outcome\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .next_back()
        .unwrap();
    assert_eq!(outcome["leftovers"]["files"], 10, "{outcome}");

    // Two renewals more: uids only go up; an account deleted by hand does not free its uid (the
    // inventory remembers it).
    let mut given = vec![old_uid, new_uid];
    run(&lab, &pb, &[]).success();
    given.push(uid(&lab, 1, &managed_on_host(&lab, 1)[0]));
    let last = managed_on_host(&lab, 1).remove(0);
    lab.host_sh(1, &format!("userdel -r {last}")).success();
    run(&lab, &pb, &[]).success();
    given.push(uid(&lab, 1, &managed_on_host(&lab, 1)[0]));
    assert!(given.windows(2).all(|w| w[0] < w[1]), "{given:?}");
    let inv = inventory(&lab);
    let recorded: Vec<u64> = inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["uid"].as_u64().expect("a uid recorded"))
        .collect();
    assert_eq!(
        recorded,
        given.iter().map(|u| u64::from(*u)).collect::<Vec<_>>()
    );
    assert_converged(&lab, "after four renewals");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_human_accounts_files_next_to_the_old_accounts_are_untouched() {
    let lab = Lab::up(1);
    let pb = lab.playbook(PLAYBOOK);
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    litter(&lab, 1, &old);
    let alice = |lab: &Lab| {
        lab.host_sh(
            1,
            "for f in /tmp/alice-notes /srv/shared/alice-work /srv/shared/open/alice-inside \
             /var/tmp/alice-dl; do stat -c '%n %U %s' $f; cat $f; done; \
             stat -c '%n %U %N' /tmp/alice-link; id alice; ls -d /home/alice",
        )
        .success()
        .stdout
        .clone()
    };
    let before = alice(&lab);
    run(&lab, &pb, &[]).success();
    assert_eq!(alice(&lab), before);
    // The old account's link to the human's file went, not the file it pointed to.
    lab.host_sh(1, "test ! -L /tmp/link-alice && test -f /tmp/alice-notes")
        .success();
}
