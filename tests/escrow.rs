//! Password escrow against real PCs: a lost sheet reprinted with an admin's SSH key, every read
//! audited, wrong keys refused, recipients changed with rekey, history bounded; and the login check
//! that keeps a sheet from lying.

mod common;

use common::Lab;
use common::backend::Inventory;
use common::fleet::{PLAYBOOK, managed_on_host, run, sheet_password};
use std::path::{Path, PathBuf};

/// An SSH key pair for an admin, made with ssh-keygen in the lab's directory.
fn admin_key(lab: &Lab, name: &str) -> (PathBuf, String) {
    let key = lab.dir().join(name);
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub"))
        .or_else(|_| std::fs::read_to_string(format!("{}.pub", key.display())))
        .unwrap();
    (key, public.trim().to_string())
}

fn escrow_playbook(
    lab: &Lab,
    inv: &Inventory,
    file: &str,
    recipients: &[&str],
    keep: u32,
) -> PathBuf {
    let list: String = recipients
        .iter()
        .map(|r| format!("    - \"{r}\"\n"))
        .collect();
    let yaml = format!("{PLAYBOOK}escrow:\n  keep: {keep}\n  recipients:\n{list}");
    lab.playbook_named(file, &inv.playbook(lab, &yaml))
}

fn reprint(lab: &Lab, pb: &Path, key: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "reprint".to_string(),
        "--playbook".into(),
        pb.display().to_string(),
        "--identity".into(),
        key.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    lab.rdplay().args(args).run()
}

fn audit(lab: &Lab, inv: &Inventory, pb: &Path) -> String {
    lab.rdplay()
        .args(["inventory", "audit"])
        .args(inv.source(lab, pb))
        .run()
        .success()
        .stdout
        .clone()
}

lab_on_both!(
    a_lost_sheet_is_reprinted_from_escrow_and_every_read_is_audited,
    |inv| {
        let lab = Lab::up(2);
        let (alice, alice_pub) = admin_key(&lab, "alice_ed25519");
        let (bob, bob_pub) = admin_key(&lab, "bob_ed25519");
        let (mallory, _) = admin_key(&lab, "mallory_ed25519");
        let pb = escrow_playbook(&lab, &inv, "pb.yml", &[&alice_pub, &bob_pub], 2);
        run(&lab, &pb, &[]).success();
        let account = managed_on_host(&lab, 1).remove(0);
        let sheet = lab.dir().join(format!("output/users/{account}.pdf"));
        let original = sheet_password(&sheet);
        // The inventory holds no password in clear.
        let bytes = inv.bytes(&lab);
        assert!(
            !bytes
                .windows(original.len())
                .any(|w| w == original.as_bytes()),
            "the password is in the inventory's bytes"
        );

        // The student lost the sheet.
        std::fs::remove_file(&sheet).unwrap();
        // A key that is not a recipient: refused, nothing written, nothing audited.
        let wrong = reprint(&lab, &pb, &mallory, &[&account]);
        wrong
            .code(1)
            .stderr_contains("is not one of the recipients");
        assert!(!sheet.exists());
        assert!(audit(&lab, &inv, &pb).contains("no escrowed password was ever read"));

        // Alice reprints it by the PC's address.
        let out = reprint(
            &lab,
            &pb,
            &alice,
            &[&lab.host(1).ip, "--reason", "lost by the student"],
        );
        out.success()
            .stdout_contains(&format!("users/{account}.pdf"));
        let again = sheet_password(&sheet);
        assert_eq!(again, original);
        assert!(common::fleet::pdf_text(&sheet).contains("reprinted"));
        // Its password logs in to the PC.
        let secret = lab.dir().join("reprinted.secret");
        common::write_private(&secret, again.as_bytes());
        lab.ssh_password(1, &account, &secret, "id -un").success();
        let log = audit(&lab, &inv, &pb);
        assert_eq!(
            log.lines().count(),
            2,
            "a header and exactly one read:\n{log}"
        );
        assert!(log.contains("reprint") && log.contains(&account), "{log}");
        assert!(log.contains("lost by the student"), "{log}");
        assert!(log.contains("SHA256:"), "the key's fingerprint: {log}");

        // Bob, the other recipient, can read it too; after a rekey without Bob, he no longer can.
        reprint(&lab, &pb, &bob, &[&account]).success();
        let only_alice = escrow_playbook(&lab, &inv, "alice-only.yml", &[&alice_pub], 2);
        lab.rdplay()
            .args(["escrow", "rekey", "--playbook"])
            .arg(only_alice.to_str().unwrap())
            .arg("--identity")
            .arg(alice.to_str().unwrap())
            .run()
            .success()
            .stdout_contains("rekeyed 2 escrowed password(s)");
        reprint(&lab, &pb, &bob, &[&account])
            .code(1)
            .stderr_contains("is not one of the recipients");
        reprint(&lab, &only_alice, &alice, &["--all-live"]).success();

        // keep: 2 — after more renewals, two escrowed passwords remain per PC.
        run(&lab, &only_alice, &[]).success();
        run(&lab, &only_alice, &[]).success();
        assert_eq!(inv.rows_of_pc(&lab, "escrow", 1), 2);
    }
);

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_password_that_does_not_log_in_gets_no_sheet() {
    let lab = Lab::up(2);
    let pb = lab.playbook(PLAYBOOK);
    // pc2's chpasswd is sabotaged: it says it worked and changes nothing.
    lab.host_sh(
        2,
        "printf '#!/bin/sh\\ncat >/dev/null\\nexit 0\\n' > /usr/sbin/chpasswd && chmod 755 /usr/sbin/chpasswd",
    )
    .success();
    let out = run(&lab, &pb, &[]);
    out.code(3);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&lab.host(2).ip))
        .unwrap();
    assert!(
        line.contains("FAILED at exec") && line.contains("does not log in"),
        "{line}"
    );
    let account = managed_on_host(&lab, 2).remove(0);
    assert!(
        !lab.dir()
            .join(format!("output/users/{account}.pdf"))
            .exists(),
        "no sheet for a password that does not work"
    );
    // pc1 was renewed and verified.
    let ok = out
        .stdout
        .lines()
        .find(|l| l.contains(&lab.host(1).ip))
        .unwrap();
    assert!(ok.contains(" ok"), "{ok}");
}
