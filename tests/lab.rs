//! Proves the lab that every other integration test stands on: real, distinct, isolated PCs
//! with sshd, looking like a school PC before rdplay's first contact, and a teardown that
//! leaves nothing behind.

mod common;

use common::{BOOTSTRAP_SECRET, LAB_SCRIPT, Lab, require_root};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn distinct<T: Ord + Clone>(items: &[T]) -> bool {
    items.iter().cloned().collect::<BTreeSet<_>>().len() == items.len()
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn hosts_are_distinct_pcs_reachable_on_port_22() {
    let lab = Lab::up(3);
    for host in lab.hosts() {
        assert!(lab.port22_open(host.index), "port 22 of {host:?} is closed");
        assert_eq!(host.hostname, format!("pc{}", host.index));
        assert_eq!(host.ip, format!("{}.{}", lab.net(), host.index + 1));
        let inside = lab.host_sh(
            host.index,
            "hostname; cat /etc/hostname; cat /sys/class/net/eth0/address; \
             grep -c \"$(hostname)\" /etc/hosts",
        );
        let lines: Vec<&str> = inside.success().stdout.lines().collect();
        assert_eq!(
            lines,
            [&host.hostname, &host.hostname, &host.mac, "1"],
            "{inside}"
        );
    }
    let names: Vec<_> = lab.hosts().iter().map(|h| h.hostname.clone()).collect();
    let macs: Vec<_> = lab.hosts().iter().map(|h| h.mac.clone()).collect();
    let keys: Vec<_> = (1..=3).map(|i| lab.host_key_fingerprints(i)).collect();
    assert!(distinct(&names), "hostnames repeat: {names:?}");
    assert!(distinct(&macs), "MACs repeat: {macs:?}");
    assert!(distinct(&keys.concat()), "host keys repeat: {keys:?}");
    let ids: Vec<_> = (1..=3)
        .map(|i| {
            lab.host_sh(i, "cat /etc/machine-id")
                .success()
                .stdout
                .clone()
        })
        .collect();
    assert!(distinct(&ids), "machine ids repeat: {ids:?}");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_host_sees_only_its_own_devices_and_mounts() {
    let lab = Lab::up(1);
    let devices = lab.host_sh(1, "ls /dev | tr '\\n' ' '; echo; find /dev -type b | wc -l");
    let lines: Vec<&str> = devices.success().stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ",
            "0"
        ],
        "{devices}"
    );
    // Its mount tree is its own: nothing of the machine's (pivot_root dropped it).
    let mounts = lab.host_sh(1, "cut -d' ' -f2 /proc/mounts | sort | tr '\\n' ' '");
    assert_eq!(
        mounts.success().stdout.trim(),
        "/ /dev /dev/pts /proc /run /sys",
        "{mounts}"
    );
    // Its pid namespace: pid 1 is its init, and the machine's processes are invisible.
    let ps = lab.host_sh(
        1,
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls -d /proc/[0-9]* | wc -l",
    );
    let lines: Vec<&str> = ps.success().stdout.lines().collect();
    assert_eq!(lines[0], "/bin/sh /usr/local/sbin/lab-init ", "{ps}");
    let count: usize = lines[1].trim().parse().expect("a count");
    assert!(count < 10, "host 1 sees {count} processes:\n{ps}");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn tech_logs_in_with_the_bootstrap_password_and_sudo_asks_for_it() {
    let lab = Lab::up(2);
    let secret = lab.secret_file();
    let password = common::bootstrap_password();
    let groups = lab.ssh_password(2, "tech", &secret, "id -nG; hostname");
    groups.success();
    let lines: Vec<&str> = groups.stdout.lines().collect();
    assert!(lines[0].split(' ').any(|g| g == "sudo"), "{groups}");
    assert_eq!(lines[1], "pc2", "{groups}");

    // sudo asks for the password: without it, it refuses; with it (on stdin), tech is root.
    lab.ssh_password(2, "tech", &secret, "sudo -n true")
        .failure()
        .stderr_contains("password is required");
    let stdin = format!("{password}\n");
    let sudo = lab.ssh_password_stdin(2, "tech", &secret, "sudo -S -p '' id -u", stdin.as_bytes());
    assert_eq!(sudo.success().stdout.trim(), "0", "{sudo}");

    // A wrong password is refused.
    let wrong = lab.dir().join("wrong.secret");
    common::write_private(&wrong, b"not-the-password\n");
    lab.ssh_password(2, "tech", &wrong, "true").failure();
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn root_logs_in_by_key_only_and_has_no_key_yet() {
    let lab = Lab::up(1);
    // Give root the bootstrap password, so only sshd's policy can refuse the login below.
    let password = common::bootstrap_password();
    lab.host_sh_stdin(1, "chpasswd", format!("root:{password}\n").as_bytes())
        .success();
    lab.ssh_password(1, "root", &lab.secret_file(), "true")
        .failure()
        .stderr_contains("Permission denied");
    lab.ssh_password(1, "tech", &lab.secret_file(), "true")
        .success();
    let config = lab.host_sh(
        1,
        "sshd -T | grep -E '^(permitrootlogin|passwordauthentication|usedns|maxsessions|maxstartups) '; \
         ls -A /root/.ssh 2>/dev/null | wc -l",
    );
    let lines: Vec<&str> = config.success().stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "maxsessions 20",
            "permitrootlogin without-password",
            "passwordauthentication yes",
            "usedns no",
            "maxstartups 100:30:200",
            "0"
        ],
        "{config}"
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn files_written_on_one_host_stay_on_it() {
    let lab = Lab::up(2);
    let marker = format!("/root/lab-marker-{}", lab.name());
    lab.host_sh(
        1,
        &format!("echo on-pc1 > {marker}; mkdir -p /srv/x && echo y > /srv/x/y"),
    )
    .success();
    let on_1 = lab.host_sh(1, &format!("cat {marker}"));
    assert_eq!(on_1.success().stdout, "on-pc1\n");
    lab.host_sh(2, &format!("test ! -e {marker} && test ! -e /srv/x"))
        .success();
    assert!(
        !Path::new(&marker).exists(),
        "{marker} leaked onto the machine"
    );
    assert!(
        !Path::new("/srv/x/y").exists(),
        "/srv/x/y leaked onto the machine"
    );
    // Nor into the shared root filesystem: a fresh host does not see it either.
    let rootfs = lab.lab(&["status"]);
    let lower = rootfs
        .success()
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("rootfs: "))
        .expect("status names the rootfs")
        .to_owned();
    assert!(
        !Path::new(&lower)
            .join(marker.trim_start_matches('/'))
            .exists()
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn unplugged_or_sshd_stopped_hosts_are_unreachable_until_restored() {
    let lab = Lab::up(2);
    lab.link(1, "down");
    assert!(!lab.port22_open(1), "host 1 answers with its link down");
    assert!(lab.port22_open(2), "host 2 went down with host 1");
    lab.link(1, "up");
    assert!(
        lab.port22_open(1),
        "host 1 does not answer with its link up again"
    );

    lab.sshd(2, "stop");
    assert!(!lab.port22_open(2), "host 2 answers with its sshd stopped");
    // `lab host` still reaches a host whose sshd is down.
    assert_eq!(lab.host_sh(2, "hostname").success().stdout, "pc2\n");
    lab.sshd(2, "start");
    assert!(
        lab.port22_open(2),
        "host 2 does not answer after sshd start"
    );
    lab.sshd(2, "restart");
    assert!(
        lab.port22_open(2),
        "host 2 does not answer after sshd restart"
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_tarpit_accepts_connections_and_never_speaks_until_turned_off() {
    let lab = Lab::up(1);
    let ip = lab.host(1).ip.clone();
    // What port 22 says within 2 s of connecting: the number of bytes, or its first line.
    let first_bytes = |script: &str| {
        let script = format!("exec 3<>/dev/tcp/{ip}/22; {script}");
        lab.ctl(&["bash", "-c", &script]).success().stdout.clone()
    };
    lab.tarpit(1, "on");
    assert!(lab.port22_open(1), "the tarpit does not accept connections");
    lab.lab(&["status"]).success().stdout_contains(" tarpit ");
    assert_eq!(first_bytes("timeout 2 head -c1 <&3 | wc -c").trim(), "0");
    lab.tarpit(1, "banner");
    let banner = first_bytes("timeout 2 head -n1 <&3");
    assert!(banner.starts_with("SSH-2.0-"), "{banner:?}");
    lab.tarpit(1, "off");
    assert!(!lab.host_key_fingerprints(1).is_empty());
    lab.lab(&["status"]).success().stdout_contains(" up ");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn regenerated_host_keys_differ() {
    let lab = Lab::up(1);
    let before = lab.host_key_fingerprints(1);
    lab.regen_hostkey(1);
    let after = lab.host_key_fingerprints(1);
    assert_eq!(before.len(), after.len());
    assert!(
        before.iter().all(|k| !after.contains(k)),
        "{before:?} vs {after:?}"
    );
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn the_controller_has_no_default_route() {
    let lab = Lab::up(1);
    let routes = lab.ctl(&["ip", "-4", "route", "show"]);
    assert_eq!(
        routes.success().stdout.trim(),
        format!(
            "{} dev br0 proto kernel scope link src {}",
            lab.network(),
            lab.controller_ip()
        ),
        "{routes}"
    );
    lab.ctl(&["ip", "-6", "route", "show", "default"])
        .success()
        .stdout
        .is_empty()
        .then_some(())
        .expect("an IPv6 default route in the controller");
    // So nothing but the lab is reachable from it: the kernel has no route for another address
    // (asked with `ip route get`, which sends nothing: tests never try to connect outside the lab).
    lab.ctl(&["ip", "route", "get", "10.255.255.1"])
        .failure()
        .stderr_contains("unreachable");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn teardown_leaves_nothing() {
    let lab = Lab::up(3);
    let name = lab.name().to_owned();
    // A tarpit (a process of the machine, in a host's network namespace) must go too.
    lab.tarpit(2, "on");
    let tarpit_pid = fs::read_to_string(
        Path::new("/run/rdplay-lab")
            .join(&name)
            .join("h2/tarpit.pid"),
    )
    .expect("the tarpit's pid is recorded");
    let tarpit = Path::new("/proc").join(tarpit_pid.trim());
    // A process started in the controller must go too.
    let mut sleeper = Command::new(LAB_SCRIPT)
        .args(["ctl", "sleep", "600"])
        .env("LAB_NAME", &name)
        .env("LAB_NET", lab.net())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("lab ctl sleep");
    let net = lab.net().to_owned();
    drop(lab);
    let killed = sleeper.wait().expect("wait for lab ctl sleep");
    assert!(
        !killed.success(),
        "lab ctl sleep 600 ended by itself: {killed}"
    );

    let netns = run_text("ip", &["netns", "list"]);
    assert!(!netns.contains(&format!("{name}-")), "{netns}");
    let mounts = run_text("findmnt", &["-rn", "-o", "TARGET,SOURCE,OPTIONS"]);
    assert!(!mounts.contains(&format!("/{name}")), "{mounts}");
    assert!(!mounts.contains(&format!("{name}-")), "{mounts}");
    let pgrep = Command::new("pgrep")
        .args(["-af", &name])
        .output()
        .expect("pgrep");
    let leftovers = String::from_utf8_lossy(&pgrep.stdout);
    assert!(leftovers.trim().is_empty(), "processes left: {leftovers}");
    // Killed; at most a zombie until whoever adopted it reaps it.
    let state = fs::read_to_string(tarpit.join("stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "the tarpit survived lab down: {state}"
    );
    assert!(!Path::new("/run/rdplay-lab").join(&name).exists());
    // `down` is idempotent.
    let again = Command::new(LAB_SCRIPT)
        .arg("down")
        .env("LAB_NAME", &name)
        .env("LAB_NET", &net)
        .output()
        .expect("lab down");
    assert!(again.status.success(), "{again:?}");
}

fn run_text(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn the_lab_script_refuses_non_root_and_bad_arguments_clearly() {
    require_root();
    let as_nobody = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            LAB_SCRIPT,
            "up",
        ])
        .output()
        .expect("setpriv");
    assert!(!as_nobody.status.success());
    let stderr = String::from_utf8_lossy(&as_nobody.stderr);
    assert!(stderr.contains("must run as root"), "{stderr}");

    for (env, args, message) in [
        (
            ("LAB_NAME", "Bad-Name"),
            &["list"][..],
            "LAB_NAME 'Bad-Name'",
        ),
        (("LAB_NET", "10.300.1"), &["list"][..], "octet above 255"),
        (
            ("LAB_NAME", "tnone"),
            &["up", "1001"][..],
            "must be 1..1000",
        ),
        // Above 250 hosts the lab takes a /22, which must start on a multiple of 4.
        (
            ("LAB_NET", "10.213.1"),
            &["up", "251"][..],
            "251 hosts need a /22: LAB_NET's third octet (1) must be a multiple of 4",
        ),
        (
            ("LAB_NAME", "tnone"),
            &["host", "1", "true"][..],
            "is not up",
        ),
        (
            ("LAB_NAME", "tnone"),
            &["frobnicate"][..],
            "unknown command",
        ),
        (
            ("LAB_NAME", "tnone"),
            &["up", "--mix", "bookworm:1,nope:1"][..],
            "unknown flavour 'nope' (flavours: bookworm, trixie, systemd, busybox)",
        ),
        (
            ("LAB_NAME", "tnone"),
            &["up", "--mix", "systemd"][..],
            "'systemd' is not FLAVOUR:COUNT",
        ),
        (
            ("LAB_NAME", "tnone"),
            &["up", "3", "--mix", "trixie:2"][..],
            "the mix has 2 hosts, not 3",
        ),
    ] {
        let out = Command::new(LAB_SCRIPT)
            .args(args)
            .env(env.0, env.1)
            .output()
            .expect("lab");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(Path::new(BOOTSTRAP_SECRET).exists());
}

/// Fifty hosts come up and all answer on port 22. Its time (target: under 15 s with a cached root
/// filesystem) is reported, not asserted: speed is measured by the benchmarks (docs/BENCHMARKS.md),
/// since a timed assertion fails on any busy machine. Ignored by default; `.ci/run` runs it alone.
#[test]
#[ignore = "fifty hosts; run alone: cargo test --test lab -- --ignored"]
fn fifty_hosts_come_up_and_answer() {
    let started = Instant::now();
    let lab = Lab::up(50);
    let elapsed = started.elapsed();
    eprintln!("lab up 50: {elapsed:.1?} (target: under 15 s on an idle machine)");
    let scan = lab.ctl(&["nmap", "-n", "-p22", "--open", "-oG", "-", &lab.network()]);
    let open = scan
        .success()
        .stdout
        .lines()
        .filter(|l| l.contains("22/open"))
        .count();
    assert_eq!(open, 50, "{scan}");
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn up_after_a_crashed_up_cleans_up_first() {
    let mut lab = Lab::up(1);
    // Crash an `up` of 6 hosts midway (SIGKILL: no trap runs), then bring the lab up again.
    let mut crashing = Command::new(LAB_SCRIPT)
        .args(["up", "6"])
        .env("LAB_NAME", lab.name())
        .env("LAB_NET", lab.net())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("lab up 6");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Path::new(&format!("/run/netns/{}-h4", lab.name())).exists() {
        assert!(Instant::now() < deadline, "lab up 6 never reached host 4");
        std::thread::sleep(Duration::from_millis(20));
    }
    crashing.kill().expect("kill lab up");
    crashing.wait().expect("wait for lab up");

    lab.reup(2);
    let netns = run_text("ip", &["netns", "list"]);
    let mut ours: Vec<&str> = netns
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{}-", lab.name())))
        .collect();
    ours.sort();
    let expected: Vec<String> = ["ctl", "h1", "h2"]
        .iter()
        .map(|s| format!("{}-{s}", lab.name()))
        .collect();
    assert_eq!(ours, expected, "{netns}");
    // Only the new hosts' processes are left in the lab's namespaces.
    let hosts = lab.lab(&["status"]);
    assert_eq!(
        hosts.success().stdout.matches(" up    up").count(),
        2,
        "{hosts}"
    );
    assert!(lab.port22_open(1) && lab.port22_open(2));
}
