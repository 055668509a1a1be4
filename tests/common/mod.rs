//! The shared harness of rdplay's integration tests: a lab of real sshd PCs and the real binary.
//!
//! ```ignore
//! let lab = Lab::up(3);
//! let playbook = lab.playbook(LAB_PLAYBOOK_YAML);
//! lab.rdplay().args(["run", playbook.to_str().unwrap()]).run().success();
//! assert!(lab.host_sh(1, "id renew").success().stdout.contains("uid="));
//! ```
//!
//! Every [`Lab`] gets its own lab name and /24, so tests run in parallel, and test binaries run
//! one after another (or by several people at once), never collide. Dropping a `Lab`, even while
//! a test panics, runs `lab down`; a lab left behind by a crashed test process is removed by
//! the next test process that brings a lab up.
//!
//! Tests that need root (a lab, CUPS, a PostgreSQL cluster) are marked
//! `#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]`: without the
//! `lab` feature (Cargo.toml) `cargo test` lists them as ignored and says why; with it they run,
//! and panic when not root: they never skip silently. `.ci/run` runs them all, as root with
//! `--features lab`.
#![allow(dead_code)]

pub mod backend;
pub mod browser;
pub mod cups;
pub mod fleet;
pub mod journal;
pub mod pdf;
pub mod postgres;
pub mod snapshot;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The lab script every test drives.
pub const LAB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lab/lab");
/// The lab's bootstrap secret: the password of the `tech` admin account on every lab host.
pub const BOOTSTRAP_SECRET: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lab/bootstrap.secret");
/// The rdplay binary under test.
pub const RDPLAY: &str = env!("CARGO_BIN_EXE_rdplay");

/// Where the lab script keeps each lab's state, and where test processes claim lab names.
const RUN_ROOT: &str = "/run/rdplay-lab";
/// Test labs' names start with this letter; `rdlab`, the default lab, is never touched.
const TEST_PREFIX: char = 't';
/// How long one command of a test may run before it is killed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

/// One PC of the lab, as `lab list` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// 1-based index, as `lab host N` takes it.
    pub index: usize,
    /// Its IPv4 address, e.g. `10.150.3.2`.
    pub ip: String,
    /// Its MAC address, lowercase with colons.
    pub mac: String,
    /// Its hostname, `pcN`.
    pub hostname: String,
    /// Its flavour: `bookworm`, `trixie`, `systemd` or `busybox` (docs/LAB.md).
    pub flavour: String,
}

/// The result of a command: status and text output, with asserts that print everything.
#[derive(Debug)]
pub struct Run {
    /// The command as it was run, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the command succeeded; returns itself for more asserts.
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert!(self.status.success(), "expected success:\n{self}");
        self
    }

    /// Asserts the command failed; returns itself for more asserts.
    #[track_caller]
    pub fn failure(&self) -> &Self {
        assert!(!self.status.success(), "expected failure:\n{self}");
        self
    }

    /// Asserts the command exited with `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit code {code}:\n{self}"
        );
        self
    }

    /// Asserts stdout contains `needle`.
    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "expected {needle:?} on stdout:\n{self}"
        );
        self
    }

    /// Asserts stderr contains `needle`.
    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "expected {needle:?} on stderr:\n{self}"
        );
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to completion with optional stdin, killing it after `timeout`.
fn run(mut command: Command, stdin: Option<&[u8]>, timeout: Duration) -> Run {
    let text = format!("{command:?}");
    command
        .process_group(0)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {text}: {e}"));
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The command may exit without reading everything; that is its business.
            let _ = pipe.write_all(&data);
        })
    });
    let group = format!("-{}", child.id());
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(timeout).is_err() {
            // Still running: kill its whole process group so the test fails instead of hanging.
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {text}: {e}"));
    let _ = done_tx.send(());
    let _ = watchdog.join();
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Run {
        command: text,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Panics with a clear message unless the process runs as root.
#[track_caller]
pub fn require_root() {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("?");
    assert!(
        euid == "0",
        "these tests need root: run them as root with `--features lab`, as .ci/run does (effective uid is {euid})"
    );
}

/// The bootstrap password (the secret file's first line).
pub fn bootstrap_password() -> String {
    let text = fs::read_to_string(BOOTSTRAP_SECRET)
        .unwrap_or_else(|e| panic!("cannot read {BOOTSTRAP_SECRET}: {e}"));
    text.lines().next().unwrap_or_default().to_owned()
}

fn base36(mut n: u32, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(out).expect("ascii digits")
}

/// A claim on a lab name: an exclusive lock held as long as the lab lives. A claim file whose
/// lock nobody holds belongs to a test process that died: its lab is left-over and removed.
struct Claim {
    file: File,
    path: PathBuf,
}

fn claim_path(name: &str) -> PathBuf {
    Path::new(RUN_ROOT).join(format!(".claim-{name}"))
}

fn open_claim(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open the lab claim {}: {e}", path.display()))
}

/// Removes the labs of test processes that died without `lab down` (their claims are unlocked).
fn sweep_left_over_labs() {
    let Ok(entries) = fs::read_dir(RUN_ROOT) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str().and_then(|n| n.strip_prefix(".claim-")) else {
            continue;
        };
        if !name.starts_with(TEST_PREFIX) {
            continue;
        }
        let path = entry.path();
        let file = open_claim(&path);
        if file.try_lock().is_ok() {
            let down = lab_command(name, "10.0.0", &["down"]);
            let result = run(down, None, DEFAULT_TIMEOUT);
            if !result.status.success() {
                eprintln!("could not remove the left-over lab {name}:\n{result}");
                continue;
            }
            let _ = fs::remove_file(&path);
        }
    }
}

/// Claims a free lab name for this process: `t` + 3 base-36 digits of the pid + 2 of a counter.
fn claim_name() -> (String, String, Claim) {
    fs::create_dir_all(RUN_ROOT).unwrap_or_else(|e| panic!("cannot create {RUN_ROOT}: {e}"));
    let pid = std::process::id() % 36u32.pow(3);
    loop {
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        assert!(
            n < 36 * 36,
            "this test process brought up more than 1296 labs"
        );
        let name = format!("{TEST_PREFIX}{}{}", base36(pid, 3), base36(n, 2));
        let path = claim_path(&name);
        let file = open_claim(&path);
        if file.try_lock().is_ok() {
            // The network only has to be unique within this process (every lab is isolated in
            // its own namespaces); spreading it over the pid keeps labs apart in captures too.
            let seed = pid * 1296 + n;
            let net = format!("10.{}.{}", 100 + (seed / 256) % 100, seed % 256);
            return (name, net, Claim { file, path });
        }
    }
}

fn lab_command(name: &str, net: &str, args: &[&str]) -> Command {
    let mut command = Command::new(LAB_SCRIPT);
    command.args(args).env("LAB_NAME", name).env("LAB_NET", net);
    command
}

/// A running lab: a controller namespace and `hosts().len()` PCs with sshd. `lab down` on drop.
pub struct Lab {
    name: String,
    net: String,
    hosts: Vec<Host>,
    dir: tempfile::TempDir,
    claim: Option<Claim>,
}

impl Lab {
    /// Brings up a lab of `n` hosts through the real `examples/lab/lab` script.
    #[track_caller]
    pub fn up(n: usize) -> Lab {
        Lab::up_with(&[n.to_string()])
    }

    /// Brings up a lab of several flavours, in the order given: `Lab::up_mix(&[("bookworm", 2),
    /// ("systemd", 1)])` makes pc1 and pc2 bookworm hosts, pc3 a systemd one.
    #[track_caller]
    pub fn up_mix(mix: &[(&str, usize)]) -> Lab {
        let spec: Vec<String> = mix.iter().map(|(f, k)| format!("{f}:{k}")).collect();
        Lab::up_with(&["--mix".to_string(), spec.join(",")])
    }

    #[track_caller]
    fn up_with(args: &[String]) -> Lab {
        require_root();
        SWEEP.call_once(sweep_left_over_labs);
        let (name, net, claim) = claim_name();
        let dir = tempfile::Builder::new()
            .prefix(&format!("rdplay-lab-{name}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", dir.path().display()));
        // Built before `up` so that a failing `up` is cleaned by drop too.
        let mut lab = Lab {
            name,
            net,
            hosts: Vec::new(),
            dir,
            claim: Some(claim),
        };
        lab.reup_with(args);
        lab
    }

    /// Brings the lab up again with `n` fresh hosts (`lab up` removes the old ones first).
    #[track_caller]
    pub fn reup(&mut self, n: usize) {
        self.reup_with(&[n.to_string()]);
    }

    #[track_caller]
    fn reup_with(&mut self, args: &[String]) {
        let started = Instant::now();
        let mut up = vec!["up"];
        up.extend(args.iter().map(String::as_str));
        self.lab(&up).success();
        let list = self.lab(&["list"]);
        self.hosts = parse_list(&list.success().stdout);
        let n = self.hosts.len();
        eprintln!(
            "lab {} ({}.0/24): {n} hosts up in {:.1} s",
            self.name,
            self.net,
            started.elapsed().as_secs_f64()
        );
        if let [count] = args {
            assert_eq!(
                count,
                &n.to_string(),
                "lab list did not list {count} hosts:\n{list}"
            );
        }
    }

    /// The lab's name (`LAB_NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lab's network as three octets, e.g. `10.150.3`.
    pub fn net(&self) -> &str {
        &self.net
    }

    /// The lab's network in CIDR form, e.g. `10.150.3.0/24`.
    pub fn network(&self) -> String {
        format!("{}.0/24", self.net)
    }

    /// The controller's address (`.1`).
    pub fn controller_ip(&self) -> String {
        format!("{}.1", self.net)
    }

    /// The network namespace rdplay runs in.
    pub fn ctl_netns(&self) -> String {
        format!("{}-ctl", self.name)
    }

    /// Every host, in index order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Host `i` (1-based).
    #[track_caller]
    pub fn host(&self, i: usize) -> &Host {
        assert!(
            (1..=self.hosts.len()).contains(&i),
            "lab {} has hosts 1..={}, not {i}",
            self.name,
            self.hosts.len()
        );
        &self.hosts[i - 1]
    }

    /// A private (0700) temporary directory for this lab's playbooks, state and output.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `lab ARGS...` for this lab.
    pub fn lab(&self, args: &[&str]) -> Run {
        run(
            lab_command(&self.name, &self.net, args),
            None,
            DEFAULT_TIMEOUT,
        )
    }

    /// Runs a command in the controller namespace (`lab ctl ARGS...`).
    pub fn ctl(&self, args: &[&str]) -> Run {
        let mut all = vec!["ctl"];
        all.extend_from_slice(args);
        self.lab(&all)
    }

    /// Like [`Lab::ctl`], with `stdin` fed to the command.
    pub fn ctl_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut all = vec!["ctl"];
        all.extend_from_slice(args);
        run(
            lab_command(&self.name, &self.net, &all),
            Some(stdin),
            DEFAULT_TIMEOUT,
        )
    }

    /// Runs a shell script as root inside host `i` (`lab host i /bin/sh -c SCRIPT`).
    pub fn host_sh(&self, i: usize, script: &str) -> Run {
        self.host_sh_stdin(i, script, b"")
    }

    /// Like [`Lab::host_sh`], with `stdin` fed to the script.
    pub fn host_sh_stdin(&self, i: usize, script: &str, stdin: &[u8]) -> Run {
        let index = self.host(i).index.to_string();
        let command = lab_command(
            &self.name,
            &self.net,
            &["host", &index, "/bin/sh", "-c", script],
        );
        run(command, Some(stdin), DEFAULT_TIMEOUT)
    }

    /// `lab sshd i stop|start|restart`.
    #[track_caller]
    pub fn sshd(&self, i: usize, action: &str) {
        let index = self.host(i).index.to_string();
        self.lab(&["sshd", &index, action]).success();
    }

    /// `lab link i down|up`: unplugs or plugs host `i`.
    #[track_caller]
    pub fn link(&self, i: usize, state: &str) {
        let index = self.host(i).index.to_string();
        self.lab(&["link", &index, state]).success();
    }

    /// `lab tarpit i on|banner|off`: `on`, host `i`'s sshd is stopped and its port 22 accepts
    /// connections but never says a byte (a tarpit, a hung sshd); `banner`, the same after an SSH
    /// banner; `off`, sshd answers again.
    #[track_caller]
    pub fn tarpit(&self, i: usize, mode: &str) {
        let index = self.host(i).index.to_string();
        self.lab(&["tarpit", &index, mode]).success();
    }

    /// Gives host `i` new SSH host keys and restarts its sshd.
    #[track_caller]
    pub fn regen_hostkey(&self, i: usize) {
        let index = self.host(i).index.to_string();
        self.lab(&["hostkey", &index, "regen"]).success();
    }

    /// Whether host `i` accepts a TCP connection on port 22, seen from the controller.
    pub fn port22_open(&self, i: usize) -> bool {
        let target = format!("</dev/tcp/{}/22", self.host(i).ip);
        self.ctl(&["timeout", "3", "bash", "-c", &target])
            .status
            .success()
    }

    /// Host `i`'s SSH host key fingerprints, as the controller sees them (`ssh-keyscan`).
    #[track_caller]
    pub fn host_key_fingerprints(&self, i: usize) -> Vec<String> {
        let ip = &self.host(i).ip;
        let script = format!("ssh-keyscan -T 5 {ip} 2>/dev/null | ssh-keygen -lf -");
        let scan = self.ctl(&["sh", "-c", &script]);
        let fingerprints: Vec<String> = scan
            .success()
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
            .collect();
        assert!(
            !fingerprints.is_empty(),
            "no host key from host {i}:\n{scan}"
        );
        fingerprints
    }

    /// Runs `command` on host `i` over SSH as `user`, logging in with the password on the
    /// first line of `password_file` (sshpass reads the file: the password is never in argv).
    pub fn ssh_password(&self, i: usize, user: &str, password_file: &Path, command: &str) -> Run {
        self.ssh_password_stdin(i, user, password_file, command, b"")
    }

    /// Like [`Lab::ssh_password`], with `stdin` fed to the remote command.
    pub fn ssh_password_stdin(
        &self,
        i: usize,
        user: &str,
        password_file: &Path,
        command: &str,
        stdin: &[u8],
    ) -> Run {
        let args = self.ssh_password_args(i, user, password_file, command);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ctl_stdin(&args, stdin)
    }

    /// Starts `command` on host `i` over SSH as `user` (as [`Lab::ssh_password`]) and returns at once:
    /// a session that stays open until the child is killed (or the lab goes down).
    pub fn spawn_ssh_password(
        &self,
        i: usize,
        user: &str,
        password_file: &Path,
        command: &str,
    ) -> std::process::Child {
        let mut args = vec!["ctl".to_string()];
        args.extend(self.ssh_password_args(i, user, password_file, command));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab_command(&self.name, &self.net, &args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ssh to host {i}: {e}"))
    }

    /// `sshpass -f FILE ssh ... USER@HOST COMMAND`: a password login without host-key checks.
    fn ssh_password_args(
        &self,
        i: usize,
        user: &str,
        password_file: &Path,
        command: &str,
    ) -> Vec<String> {
        let target = format!("{user}@{}", self.host(i).ip);
        [
            "sshpass",
            "-f",
            &password_file.to_string_lossy(),
            "ssh",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            &target,
            command,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// The real rdplay binary, run inside the controller namespace, in [`Lab::dir`] by default.
    pub fn rdplay(&self) -> Rdplay<'_> {
        Rdplay {
            lab: self,
            args: Vec::new(),
            current_dir: self.dir().to_path_buf(),
            env: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Writes a playbook for this lab into [`Lab::dir`] and returns its path. The YAML text
    /// may use these placeholders:
    ///
    /// | placeholder | becomes |
    /// | --- | --- |
    /// | `@NETWORK@` | the lab's network, `10.x.y.0/24` |
    /// | `@NET@` | its three octets, `10.x.y` |
    /// | `@RANGE@` | the hosts' range of host numbers, `2-N+1` |
    /// | `@FIRST@` / `@LAST@` | the first and the last host's address |
    /// | `@SECRET@` | a 0600 copy of the bootstrap secret, in the lab's directory |
    /// | `@DIR@` | the lab's directory |
    ///
    /// Panics if a `@WORD@` placeholder is left that is not one of these.
    #[track_caller]
    pub fn playbook(&self, yaml: &str) -> PathBuf {
        self.playbook_named("playbook.yml", yaml)
    }

    /// Like [`Lab::playbook`], with the file name given.
    #[track_caller]
    pub fn playbook_named(&self, file_name: &str, yaml: &str) -> PathBuf {
        let secret = self.secret_file();
        let first = self.hosts.first().map(|h| h.ip.clone()).unwrap_or_default();
        let last = self.hosts.last().map(|h| h.ip.clone()).unwrap_or_default();
        let text = yaml
            .replace("@NETWORK@", &self.network())
            .replace("@NET@", &self.net)
            .replace("@RANGE@", &format!("2-{}", self.hosts.len() + 1))
            .replace("@FIRST@", &first)
            .replace("@LAST@", &last)
            .replace("@SECRET@", &secret.to_string_lossy())
            .replace("@DIR@", &self.dir().to_string_lossy());
        let unknown = text.split('@').skip(1).step_by(2).find(|word| {
            !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        });
        assert!(
            unknown.is_none(),
            "unknown playbook placeholder @{}@",
            unknown.unwrap_or("")
        );
        let path = self.dir().join(file_name);
        write_private(&path, text.as_bytes());
        path
    }

    /// A 0600 copy of the bootstrap secret in the lab's directory.
    pub fn secret_file(&self) -> PathBuf {
        let path = self.dir().join("bootstrap.secret");
        if !path.exists() {
            let text = fs::read(BOOTSTRAP_SECRET)
                .unwrap_or_else(|e| panic!("cannot read {BOOTSTRAP_SECRET}: {e}"));
            write_private(&path, &text);
        }
        path
    }
}

/// Writes `data` to `path`, mode 0600.
pub fn write_private(path: &Path, data: &[u8]) {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    file.write_all(data)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

impl Drop for Lab {
    fn drop(&mut self) {
        let down = self.lab(&["down"]);
        if down.status.success() {
            if let Some(claim) = self.claim.take() {
                let _ = fs::remove_file(&claim.path);
                drop(claim.file);
            }
        } else {
            // Keep the claim file: the next test process sees it unlocked and retries.
            eprintln!("lab down failed for lab {}:\n{down}", self.name);
        }
    }
}

/// Parses `lab list`: `INDEX IP MAC HOSTNAME FLAVOUR` per line.
#[track_caller]
pub fn parse_list(text: &str) -> Vec<Host> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [index, ip, mac, hostname, flavour] = fields[..] else {
                panic!("lab list: expected `INDEX IP MAC HOSTNAME FLAVOUR`, got {line:?}");
            };
            Host {
                index: index
                    .parse()
                    .unwrap_or_else(|e| panic!("lab list: bad index in {line:?}: {e}")),
                ip: ip.to_owned(),
                mac: mac.to_owned(),
                hostname: hostname.to_owned(),
                flavour: flavour.to_owned(),
            }
        })
        .collect()
}

/// A run of the real rdplay binary inside the lab's controller namespace.
pub struct Rdplay<'a> {
    lab: &'a Lab,
    args: Vec<String>,
    current_dir: PathBuf,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Rdplay<'_> {
    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs in `dir` instead of the lab's directory.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = dir.as_ref().to_path_buf();
        self
    }

    /// Sets an environment variable for rdplay.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Feeds `data` to rdplay's stdin (otherwise stdin is /dev/null).
    pub fn stdin(mut self, data: impl AsRef<[u8]>) -> Self {
        self.stdin = Some(data.as_ref().to_vec());
        self
    }

    /// Kills rdplay after `timeout` (default 300 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs it and returns status and output.
    pub fn run(self) -> Run {
        let mut command = lab_command(&self.lab.name, &self.lab.net, &["ctl", RDPLAY]);
        command.args(&self.args).current_dir(&self.current_dir);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        run(command, self.stdin.as_deref(), self.timeout)
    }
}

/// Starts the ignored test `test` of this very test binary as a child process, with `env` set to
/// `value`, and returns it once it printed `ready` on a line of its own: from then on it holds what
/// it took (a lock, an open run) until killed.
pub fn spawn_test_helper(
    test: &str,
    env: &str,
    value: &std::ffi::OsStr,
    ready: &str,
) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(env, value)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap().contains(ready)),
        "the helper {test} never got ready"
    );
    child
}
