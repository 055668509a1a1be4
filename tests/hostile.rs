//! A renewal that the old account's owner cannot turn against the PC, and that never touches a
//! bystander's data (docs/SECURITY.md, "The old account fights back"). On real lab PCs a real old
//! account does the hostile thing while, or before, the renewal runs; each test asserts what is on
//! the PC afterwards (files, accounts, uids, processes, mounts) and what the archive holds.

mod common;

use common::fleet::{PLAYBOOK, managed_on_host, run};
use common::{Lab, Run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The remote helper, as rdplay uploads it.
const HELPER: &str = include_str!("../src/tasks/helper.sh");

/// Runs `script` on host `i` as `user` (`su -s /bin/sh`). `script` must not hold a single quote.
fn as_user(lab: &Lab, i: usize, user: &str, script: &str) -> Run {
    assert!(!script.contains('\''), "{script}");
    lab.host_sh(i, &format!("su -s /bin/sh {user} -c '{script}'"))
}

/// Starts `script` on host `i` as `user`, detached (its own session, no terminal), and returns.
fn spawn_as_user(lab: &Lab, i: usize, user: &str, script: &str) {
    assert!(!script.contains('\'') && !script.contains('"'), "{script}");
    lab.host_sh(
        i,
        &format!(
            "su -s /bin/sh {user} -c 'setsid sh -c \"{script}\" </dev/null >/dev/null 2>&1 &'"
        ),
    )
    .success();
}

fn uid(lab: &Lab, i: usize, user: &str) -> u32 {
    let out = lab.host_sh(i, &format!("id -u {user}"));
    out.success().stdout.trim().parse().expect("a uid")
}

/// How many processes of uid `uid` run on host `i`.
fn processes_of(lab: &Lab, i: usize, uid: u32) -> usize {
    let out = lab.host_sh(i, "ps -e -o ruid= -o euid=");
    out.success()
        .stdout
        .lines()
        .filter(|l| l.split_whitespace().any(|n| n == uid.to_string()))
        .count()
}

/// The one archive file of host 1 under `archives/`.
fn the_archive(lab: &Lab) -> PathBuf {
    let dir = lab
        .dir()
        .join("archives")
        .join(lab.host(1).mac.replace(':', ""));
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// `tar` over an archive: `t` lists it, `O` writes every member's content (but the sparse file's
/// terabyte of zeros).
fn tar(archive: &Path, what: &str) -> String {
    let out = Command::new("tar")
        .arg(format!("-z{what}f"))
        .arg(archive)
        .arg("--exclude=*/sparse")
        .output()
        .expect("tar runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the archive holds the sparse file (listed without the exclusion).
fn tar_list_sparse(archive: &Path) -> String {
    let out = Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .expect("tar runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with("/sparse"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Runs the helper itself on host `i` with `params` on its stdin.
fn helper(lab: &Lab, i: usize, params: &str) -> Run {
    lab.host_sh_stdin(i, "cat > /root/helper.sh", HELPER.as_bytes())
        .success();
    lab.host_sh_stdin(i, "sh /root/helper.sh", params.as_bytes())
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn the_archive_is_read_as_the_old_account_after_it_is_stopped() {
    let lab = Lab::up(1);
    let pb = lab.playbook(&format!(
        "{PLAYBOOK}account:\n  archive: {{ dir: archives }}\n"
    ));
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    let old_uid = uid(&lab, 1, &old);
    // Its own files, named like root's; a sparse file of 1 TB; then two processes of its own: one
    // that forks without end, one that swaps its `docs` for a symlink to /etc in a tight loop.
    as_user(
        &lab,
        1,
        &old,
        "echo essay > ~/essay.txt && mkdir -p ~/docs/ssh && echo mine > ~/docs/shadow && \
         echo mine > ~/docs/ssh/ssh_host_ed25519_key && truncate -s 1T ~/sparse",
    )
    .success();
    spawn_as_user(&lab, 1, &old, "while :; do /bin/true; done");
    spawn_as_user(
        &lab,
        1,
        &old,
        "cd; while :; do mv docs d2 && ln -s /etc docs && rm -f docs && mv d2 docs; done",
    );
    assert!(processes_of(&lab, 1, old_uid) >= 2);
    // And, deterministically, the swap between the listing and the reading: the PC's tar first
    // waits for the list, then swaps `docs` (or `d2`, wherever the loop left the directory) for a
    // symlink to /etc (as whoever runs tar), then reads.
    lab.host_sh(
        1,
        &format!(
            "mv /usr/bin/tar /usr/bin/tar.real
             printf '#!/bin/sh\\nsleep 1\\nfor p in /home/{old}/docs /home/{old}/d2; do if [ -d $p ] && [ ! -L $p ]; then mv $p $p.real && ln -s /etc $p; fi; done\\nexec /usr/bin/tar.real \"$@\"\\n' > /usr/bin/tar
             chmod 755 /usr/bin/tar"
        ),
    )
    .success();

    let out = run(&lab, &pb, &[]);
    out.success();

    let archive = the_archive(&lab);
    let list = tar(&archive, "t");
    let list = list + &tar_list_sparse(&archive);
    assert!(list.contains(&format!("home/{old}/essay.txt")), "{list}");
    assert!(list.contains(&format!("home/{old}/sparse")), "{list}");
    let content = tar(&archive, "xO");
    assert!(content.contains("essay"), "{content}");
    // Nothing that only root can read: no shadow line, no host key.
    assert!(
        !content.lines().any(|l| l.starts_with("root:")),
        "root's /etc/shadow in the archive:\n{list}\n{content}"
    );
    assert!(
        !content.contains("PRIVATE KEY"),
        "a host key in the archive"
    );
    // Nothing of the old account runs, and it is gone with its home.
    assert_eq!(processes_of(&lab, 1, old_uid), 0);
    lab.host_sh(1, &format!("! id {old} && test ! -e /home/{old}"))
        .success();
    lab.host_sh(1, "mv -f /usr/bin/tar.real /usr/bin/tar")
        .success();
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn jobs_lingering_forks_and_an_edited_comment_do_not_outlive_the_renewal_on_systemd() {
    let lab = Lab::up_mix(&[("systemd", 1)]);
    let pb = lab.playbook(PLAYBOOK);
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    let old_uid = uid(&lab, 1, &old);
    // A cron job every minute, an at job, lingering (its user manager runs without a session), a
    // process that forks without end, and a comment field its owner changed (chfn, AccountsService).
    lab.host_sh(
        1,
        &format!(
            "echo '* * * * * touch /tmp/cron-ran' | crontab -u {old} - && \
             loginctl enable-linger {old} && usermod -c 'Jane Student' {old}"
        ),
    )
    .success();
    as_user(&lab, 1, &old, "echo sleep 600 | at now + 5 minutes").success();
    spawn_as_user(&lab, 1, &old, "while :; do sleep 0.01 & done");
    assert_eq!(
        lab.host_sh(1, "atq | wc -l").success().stdout.trim(),
        "1",
        "the at job is queued"
    );
    assert!(processes_of(&lab, 1, old_uid) >= 2);

    run(&lab, &pb, &[]).success();

    lab.host_sh(
        1,
        &format!(
            "! id {old} && test ! -e /home/{old} && test ! -e /var/spool/cron/crontabs/{old} && \
             test ! -e /var/lib/systemd/linger/{old} && test -z \"$(atq)\""
        ),
    )
    .success();
    assert_eq!(processes_of(&lab, 1, old_uid), 0);
    // The proof that rdplay made the new account is root's record, not its comment field: changed,
    // it does not block the next renewal either.
    let new = managed_on_host(&lab, 1).remove(0);
    let new_uid = uid(&lab, 1, &new);
    let record = lab.host_sh(
        1,
        "stat -c '%U %a' /var/lib/rdplay /var/lib/rdplay/accounts && cat /var/lib/rdplay/accounts",
    );
    record.success();
    assert_eq!(
        record.stdout,
        format!("root 700\nroot 600\n{new} {new_uid}\n"),
        "{record}"
    );
    lab.host_sh(1, &format!("usermod -c 'Somebody else' {new}"))
        .success();
    run(&lab, &pb, &[]).success();
    lab.host_sh(1, &format!("! id {new}")).success();
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn bystanders_disks_orphans_and_mounts_in_the_home_are_handled_and_the_home_never_survives() {
    let lab = Lab::up(1);
    let pb = lab.playbook(&PLAYBOOK.replace("step_timeout: 60s", "step_timeout: 20s"));
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    let old_uid = uid(&lab, 1, &old);

    // A visitor's ext4 disk, mounted at run time under /media (as udisks would), holding a file
    // of the old account's number.
    let disk = Disk::new(&lab.dir().join("usb.img"));
    lab.host_sh(
        1,
        &format!(
            "mknod {dev} b 7 {minor} && mkdir -p /media/usb && mount -t ext4 {dev} /media/usb && \
             echo theirs > /media/usb/work && chown {old_uid} /media/usb/work",
            dev = disk.device,
            minor = disk.minor
        ),
    )
    .success();
    // Orphans: files of uids no account has (an account deleted before rdplay came), right where
    // the next uid would be, and a subordinate uid range right above them.
    lab.host_sh(
        1,
        &format!(
            "touch /var/tmp/orphan1 /srv/orphan2 && chown {a} /var/tmp/orphan1 && chown {b} /srv/orphan2 && \
             echo 'someone:{c}:5' >> /etc/subuid",
            a = old_uid + 1,
            b = old_uid + 2,
            c = old_uid + 3
        ),
    )
    .success();
    // A mount inside the old home (what a dead FUSE mount looks like to root).
    lab.host_sh(
        1,
        &format!(
            "mkdir /home/{old}/m && mount -t tmpfs none /home/{old}/m && echo x > /home/{old}/m/f"
        ),
    )
    .success();
    // /etc/os-release broken: one line of 4 MiB before the name.
    lab.host_sh(
        1,
        "head -c 4194304 /dev/zero | tr '\\000' a > /etc/os-release && \
         echo 'PRETTY_NAME=\"Lab\"' >> /etc/os-release",
    )
    .success();

    // --check names the filesystems the walk covers: not the visitor's disk.
    let check = lab
        .rdplay()
        .args(["run", "--check", pb.to_str().unwrap()])
        .run();
    check.code(2).stdout_contains("~ leftover walk: / ");
    assert!(!check.stdout.contains("/media"), "{check}");

    let out = run(&lab, &pb, &[]);
    out.success();

    // The visitor's file stays; the home and everything mounted in it are gone.
    let theirs = lab.host_sh(1, "stat -c %u /media/usb/work && cat /media/usb/work");
    assert_eq!(theirs.success().stdout, format!("{old_uid}\ntheirs\n"));
    lab.host_sh(
        1,
        &format!("test ! -e /home/{old} && ! grep -q ' /home/{old}' /proc/self/mountinfo"),
    )
    .success();
    // The new uid owns no file and lies in no subordinate range; root's high-water mark says it.
    let new = managed_on_host(&lab, 1).remove(0);
    let new_uid = uid(&lab, 1, &new);
    assert!(new_uid >= old_uid + 8, "{new_uid} after {old_uid}");
    let high = lab.host_sh(1, "cat /var/lib/rdplay/uid-high");
    assert_eq!(high.success().stdout.trim(), new_uid.to_string());

    // An existing directory where the new home would go is refused, with shadow's tools too;
    // and a human account that carries rdplay's comment is not rdplay's.
    lab.host_sh(
        1,
        "mkdir /home/ghost && useradd -m -c 'rdplay managed account' alice",
    )
    .success();
    let refused = helper(
        &lab,
        1,
        "mode=renew\ncreate=ghost\nhash=$6$x$y\nshell=/bin/sh\nhome_base=/home\n",
    );
    refused
        .code(3)
        .stderr_contains("/home/ghost already exists");
    let refused = helper(
        &lab,
        1,
        "mode=renew\ndelete=alice\ncreate=ghost2\nhash=$6$x$y\nshell=/bin/sh\nhome_base=/home\n",
    );
    refused
        .code(3)
        .stderr_contains("alice (uid 1")
        .stderr_contains("not in /var/lib/rdplay/accounts");
    lab.host_sh(1, "id alice && test -d /home/alice && ! id ghost2")
        .success();
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn on_busybox_a_forking_account_with_a_mount_in_its_home_goes_whole() {
    let lab = Lab::up_mix(&[("busybox", 1)]);
    let pb = lab.playbook(&format!("{PLAYBOOK}account:\n  shell: /bin/sh\n"));
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    let old_uid = uid(&lab, 1, &old);
    spawn_as_user(&lab, 1, &old, "while :; do sleep 0.01 & done");
    lab.host_sh(
        1,
        &format!(
            "mkdir /home/{old}/m && mount -t tmpfs none /home/{old}/m && echo x > /home/{old}/m/f"
        ),
    )
    .success();
    assert!(processes_of(&lab, 1, old_uid) >= 1);

    run(&lab, &pb, &[]).success();

    assert_eq!(processes_of(&lab, 1, old_uid), 0);
    lab.host_sh(
        1,
        &format!(
            "! grep -q '^{old}:' /etc/passwd && test ! -e /home/{old} && \
             ! grep -q ' /home/{old}' /proc/self/mountinfo"
        ),
    )
    .success();
}

/// A small ext4 image on a loop device of the machine, detached on drop (after the lab is down,
/// or, still mounted in a PC, as soon as it is unmounted: `losetup -d` marks it to autoclear).
struct Disk {
    device: String,
    minor: u32,
}

impl Disk {
    fn new(image: &Path) -> Disk {
        let ok = |c: &mut Command| {
            let out = c.output().expect("runs");
            assert!(
                out.status.success(),
                "{c:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        ok(Command::new("truncate").args(["-s", "32M"]).arg(image));
        ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(image));
        let device = ok(Command::new("losetup").args(["-f", "--show"]).arg(image));
        let minor = device
            .trim_start_matches("/dev/loop")
            .parse()
            .unwrap_or_else(|_| panic!("a loop device: {device}"));
        Disk { device, minor }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}
