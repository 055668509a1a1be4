//! What changed since last time, against real PCs: a PC's hardware and system between two runs,
//! PCs cloned from one image, and a stranger on the network — each reported once, kept in the
//! inventory, and (with `inventory.fail_on`) a failure for monitoring.

mod common;

use std::path::Path;

use common::Lab;
use common::backend::Inventory;
use common::fleet::{PLAYBOOK, run};

/// Makes PC `to` a clone of PC `from`: the same SSH host keys and machine-id (as a disk image
/// copied to several PCs gives), before rdplay ever met it.
fn clone_identity(lab: &Lab, from: usize, to: usize) {
    for file in [
        "/etc/machine-id",
        "/etc/ssh/ssh_host_ed25519_key",
        "/etc/ssh/ssh_host_ed25519_key.pub",
        "/etc/ssh/ssh_host_ecdsa_key",
        "/etc/ssh/ssh_host_ecdsa_key.pub",
    ] {
        let bytes = lab
            .host_sh(from, &format!("cat {file}"))
            .success()
            .stdout
            .clone();
        lab.host_sh_stdin(to, &format!("cat > {file}"), bytes.as_bytes())
            .success();
    }
    lab.sshd(to, "restart");
}

fn changes_cmd(lab: &Lab, inv: &Inventory, pb: &Path, extra: &[&str]) -> common::Run {
    lab.rdplay()
        .args(["inventory", "changes"])
        .args(inv.source(lab, pb))
        .args(extra)
        .run()
}

lab_on_both!(
    hardware_changes_clones_and_strangers_are_reported_once_and_kept,
    |inv| {
        let lab = Lab::up(4);
        clone_identity(&lab, 1, 2);
        // pc4's admin password is not the fleet's: not one of our PCs.
        lab.host_sh(4, "echo 'tech:somebody-elses-password' | chpasswd")
            .success();
        let pb =
            lab.playbook(&inv.playbook(&lab, &format!("{PLAYBOOK}inventory:\n  history: 2\n")));

        let first = run(&lab, &pb, &[]);
        first
            .code(3)
            .stdout_contains("changes since last time (3):");
        let line = |out: &common::Run, needle: &str| -> String {
            out.stdout
                .lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?}:\n{}", out.stdout))
                .to_string()
        };
        // Both clones are renewed, and flagged.
        for i in [1, 2] {
            assert!(line(&first, &lab.host(i).ip).contains("ok (first contact)"));
        }
        let clone = line(&first, "same SSH host key as pc1");
        assert!(
            clone.contains("warning") && clone.contains("pc2:"),
            "{clone}"
        );
        assert!(clone.contains("regenerate the host keys"), "{clone}");
        line(&first, "same machine-id as pc1");
        let stranger = line(&first, "first contact failed");
        assert!(stranger.contains(&lab.host(4).ip), "{stranger}");
        assert!(
            common::fleet::managed_on_host(&lab, 4).is_empty(),
            "a stranger is left untouched"
        );

        // Between terms a memory module walks out of pc3, and its system is upgraded.
        lab.host_sh(
        3,
        "sed 's/^MemTotal:.*/MemTotal:        4194304 kB/' /proc/meminfo > /run/meminfo \
         && mount --bind /run/meminfo /proc/meminfo \
         && sed -i 's/^PRETTY_NAME=.*/PRETTY_NAME=\"Debian GNU\\/Linux 13 (trixie)\"/' /etc/os-release",
    )
    .success();
        // --check already sees it, from its probe.
        let check = lab
            .rdplay()
            .args(["run", "--check", pb.to_str().unwrap()])
            .run();
        let seen = line(&check, "~ changed: memory");
        assert!(seen.contains("→ 4.0 GiB (warning)"), "{seen}");

        let second = run(&lab, &pb, &[]);
        // Only what is new this run: the clones and the stranger were reported already.
        second.stdout_contains("changes since last time (2):");
        let memory = line(&second, "memory");
        assert!(
            memory.contains("warning") && memory.contains("pc3: memory"),
            "{memory}"
        );
        assert!(memory.contains("→ 4.0 GiB since 20"), "{memory}");
        let os = line(&second, "trixie");
        assert!(
            os.contains("info") && os.contains("pc3: system Debian GNU/Linux 12"),
            "{os}"
        );

        // Nothing new: no changes section; everything stays in `inventory changes`.
        let third = run(&lab, &pb, &[]);
        assert!(
            !third.stdout.contains("changes since last time"),
            "{}",
            third.stdout
        );
        let all = changes_cmd(&lab, &inv, &pb, &[]);
        all.success();
        assert_eq!(all.stdout.lines().count(), 5, "{}", all.stdout);
        let json = changes_cmd(&lab, &inv, &pb, &["--format", "json", "--run", "2"]);
        let events: Vec<serde_json::Value> = json
            .success()
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 2, "{}", json.stdout);
        assert!(events.iter().all(|e| e["mac"] == lab.host(3).mac.as_str()));
        // The history of facts is bounded: two sets kept for pc3 after three renewals.
        assert_eq!(inv.rows_of_pc(&lab, "facts_history", 3), 2);

        // For monitoring: warnings fail the run (exit 3), information does not.
        let watch = lab.playbook_named(
            "watch.yml",
            &inv.playbook(
                &lab,
                &format!("{PLAYBOOK}inventory:\n  history: 2\n  fail_on: warning\n"),
            ),
        );
        lab.host_sh(3, "umount /proc/meminfo").success();
        let more = run(&lab, &watch, &["--limit", &lab.host(3).ip]);
        more.success();
        line(&more, "info");
        lab.host_sh(3, "mount --bind /run/meminfo /proc/meminfo")
            .success();
        let less = run(&lab, &watch, &["--limit", &lab.host(3).ip]);
        less.code(3);
        assert!(
            line(&less, &lab.host(3).ip).contains(" ok"),
            "the PC itself was renewed"
        );
    }
);
