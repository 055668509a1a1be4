//! `account.archive` against real PCs: the old account's home and leftovers come to the controller
//! as a .tar.gz recorded with its SHA-256 before anything is deleted; over `max_size` the PC fails and
//! keeps its account; a controller killed mid-archive leaves nothing half done.

mod common;
mod reliab;

use common::Lab;
use reliab::{Background, PLAYBOOK, assert_converged, managed_on_host, run};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn playbook(lab: &Lab, archive: &str) -> PathBuf {
    lab.playbook(&format!("{PLAYBOOK}account:\n  archive: {archive}\n"))
}

/// The files in host 1's archive directory (`archives/<MAC>/`), temporary ones included.
fn archive_files(lab: &Lab) -> Vec<PathBuf> {
    let dir = lab
        .dir()
        .join("archives")
        .join(lab.host(1).mac.replace(':', ""));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn sha256sum(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `rdplay inventory show` of host 1.
fn show(lab: &Lab, pb: &Path) -> String {
    let out = lab
        .rdplay()
        .args(["inventory", "show", &lab.host(1).mac, "--playbook"])
        .arg(pb.to_str().unwrap())
        .run();
    out.success();
    out.stdout.clone()
}

/// Makes host 1's `tar` slow: it touches `/tmp/tar-started` (it runs as the old account) and sleeps `secs` before running.
fn slow_tar(lab: &Lab, secs: u32) {
    lab.host_sh(
        1,
        &format!(
            "test -e /usr/bin/tar.real || mv /usr/bin/tar /usr/bin/tar.real
             printf '#!/bin/sh\\ntouch /tmp/tar-started\\nsleep {secs}\\nexec /usr/bin/tar.real \"$@\"\\n' > /usr/bin/tar
             chmod 755 /usr/bin/tar; rm -f /tmp/tar-started"
        ),
    )
    .success();
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn the_old_accounts_work_is_archived_on_the_controller_with_its_sha256_before_it_goes() {
    let lab = Lab::up(1);
    let pb = playbook(&lab, "{ dir: archives, keep: 2 }");
    run(&lab, &pb, &[]).success();
    assert!(archive_files(&lab).is_empty(), "nothing to archive yet");
    let old = managed_on_host(&lab, 1).remove(0);
    lab.host_sh(
        1,
        &format!(
            "su -s /bin/sh {old} -c 'echo essay > ~/essay.txt && mkdir -p ~/work/b && \
             echo x > ~/work/b/notes && echo t > /tmp/draft && echo s > /dev/shm/session'"
        ),
    )
    .success();
    let check = lab
        .rdplay()
        .args(["run", "--check", "--format", "json", pb.to_str().unwrap()])
        .run();
    check.code(2).stdout_contains("\"archive\":true");

    let out = run(&lab, &pb, &[]);
    out.success();
    let files = archive_files(&lab);
    assert_eq!(files.len(), 1, "{files:?}");
    let archive = &files[0];
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("{old}-")) && name.ends_with(".tar.gz"),
        "{name}"
    );
    assert_eq!(mode(archive), 0o600);
    assert_eq!(mode(archive.parent().unwrap()), 0o700);
    assert_eq!(mode(&lab.dir().join("archives")), 0o700);
    // The inventory records it with the SHA-256 of the very file.
    let shown = show(&lab, &pb);
    assert!(shown.contains(&sha256sum(archive)), "{shown}");
    assert!(shown.contains(&archive.display().to_string()), "{shown}");
    let list = std::process::Command::new("tar")
        .arg("tzf")
        .arg(archive)
        .output()
        .expect("tar runs");
    assert!(list.status.success());
    let list = String::from_utf8_lossy(&list.stdout);
    for member in [
        format!("home/{old}/essay.txt"),
        format!("home/{old}/work/b/notes"),
        format!("home/{old}/.bashrc"),
        "tmp/draft".to_string(),
        "dev/shm/session".to_string(),
    ] {
        assert!(
            list.lines().any(|l| l == member),
            "{member} not in:\n{list}"
        );
    }
    // The account went only after: gone, with its files.
    lab.host_sh(1, &format!("! id {old} && test ! -e /tmp/draft"))
        .success();

    // keep: 2 — after two more renewals, the first archive is gone, and recorded as removed.
    run(&lab, &pb, &[]).success();
    run(&lab, &pb, &[]).success();
    let now = archive_files(&lab);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(!archive.exists());
    assert!(show(&lab, &pb).contains("removed 20"));
    assert_converged(&lab, "after three archived renewals");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn an_archive_over_max_size_fails_the_pc_and_its_old_account_stays() {
    let lab = Lab::up(1);
    let pb = playbook(&lab, "{ dir: archives, max_size: 1KiB }");
    run(&lab, &pb, &[]).success();
    let old = managed_on_host(&lab, 1).remove(0);
    lab.host_sh(
        1,
        &format!("su -s /bin/sh {old} -c 'head -c 100000 /dev/urandom > ~/big'"),
    )
    .success();
    let out = run(&lab, &pb, &[]);
    out.code(3)
        .stdout_contains("FAILED at archive")
        .stdout_contains("larger than account.archive.max_size (1.0 kB, 1024 bytes)")
        .stdout_contains("nothing was deleted");
    assert_eq!(managed_on_host(&lab, 1), vec![old.clone()]);
    lab.host_sh(1, &format!("test -s /home/{old}/big"))
        .success();
    assert!(archive_files(&lab).is_empty(), "{:?}", archive_files(&lab));
    // The PC's side of the stream ended with it (at once, or within seconds once its channel
    // closed): no tar left running, no work directory.
    let started = Instant::now();
    loop {
        let left = lab.host_sh(
            1,
            "pgrep -x tar; pgrep -x gzip; ls -d /tmp/rdplay.* 2>/dev/null",
        );
        if left.stdout.trim().is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{left}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // With room enough, the next run archives and renews.
    let pb = playbook(&lab, "{ dir: archives, max_size: 10MiB }");
    run(&lab, &pb, &[]).success();
    assert_eq!(archive_files(&lab).len(), 1);
    assert_converged(&lab, "after the archive fitted");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn kill_9_during_an_archive_then_a_normal_run_converges_and_keeps_the_archives_made() {
    let lab = Lab::up(1);
    let pb = playbook(&lab, "{ dir: archives, keep: 5 }");
    run(&lab, &pb, &[]).success();
    run(&lab, &pb, &[]).success();
    let made = archive_files(&lab);
    assert_eq!(made.len(), 1);
    let sha = sha256sum(&made[0]);

    // The next archive starts slowly: rdplay is killed while it streams.
    slow_tar(&lab, 3);
    let mut bg = Background::start(&lab, &["run", pb.to_str().unwrap()]);
    let started = Instant::now();
    while !lab.host_sh(1, "test -e /tmp/tar-started").status.success() {
        assert!(
            bg.running() && started.elapsed() < Duration::from_secs(60),
            "the archive did not start:\n{}",
            bg.finish_now()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        archive_files(&lab)
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".part")),
        "the archive is being written: {:?}",
        archive_files(&lab)
    );
    bg.signal("-KILL");
    let killed = bg.finish(Duration::from_secs(10));
    assert_eq!(killed.status.code(), None, "{killed}");
    // Nothing was deleted: the account the killed run was archiving is still there.
    assert_eq!(managed_on_host(&lab, 1).len(), 1);

    run(&lab, &pb, &[]).success();
    assert_converged(&lab, "after kill -9 mid-archive");
    let after = archive_files(&lab);
    assert_eq!(after.len(), 2, "no temporary file left: {after:?}");
    assert!(after.contains(&made[0]));
    assert_eq!(
        sha256sum(&made[0]),
        sha,
        "the archive made before is intact"
    );
    for f in &after {
        assert!(show(&lab, &pb).contains(&sha256sum(f)));
    }
}
