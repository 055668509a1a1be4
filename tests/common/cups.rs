//! A private CUPS for the print tests: the system's `cupsd` with a throwaway configuration, spool
//! and state in a temporary directory, listening only on a Unix socket there (no network at all),
//! and one queue, `rdtest`, on the virtual PDF printer (Debian's `printer-driver-cups-pdf`).
//!
//! ```ignore
//! let cups = Cups::start();
//! lab.rdplay().env("CUPS_SERVER", &cups.server()).args([...]).run();
//! let pdfs = cups.wait_for_jobs(2);
//! ```
//!
//! The cups-pdf backend reads its configuration from `/etc/cups/cups-pdf-INSTANCE.conf`, where the
//! queue's URI is `cups-pdf:/INSTANCE`: each `Cups` writes its own instance file there (output in its
//! temporary directory) and removes it when dropped, with the daemon.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The queue every test prints to.
pub const QUEUE: &str = "rdtest";
const PPD: &str = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd";
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A running private `cupsd` with the queue [`QUEUE`].
pub struct Cups {
    dir: tempfile::TempDir,
    instance: String,
    daemon: Option<Child>,
}

impl Cups {
    /// Starts `cupsd` and adds the queue; panics with the daemon's log when it cannot.
    #[track_caller]
    pub fn start() -> Cups {
        super::require_root();
        for tool in ["cupsd", "lpadmin", "lp", "/usr/lib/cups/backend/cups-pdf"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                found,
                "{tool} is missing: apt-get install cups printer-driver-cups-pdf (.ci/run does)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("rdplay-cups-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        // cupsd runs its filters as `lp`: they must reach the spool.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.path().display()));
        for sub in [
            "conf/ppd",
            "spool/tmp",
            "cache",
            "state",
            "log",
            "out",
            "pdf-spool",
        ] {
            fs::create_dir_all(dir.path().join(sub))
                .unwrap_or_else(|e| panic!("cannot create {sub}: {e}"));
        }
        let d = dir.path().display();
        write(
            &dir.path().join("conf/cups-files.conf"),
            &format!(
                "SystemGroup root\nUser lp\nGroup lp\nServerRoot {d}/conf\nRequestRoot {d}/spool\n\
                 TempDir {d}/spool/tmp\nCacheDir {d}/cache\nStateDir {d}/state\n\
                 AccessLog {d}/log/access_log\nErrorLog {d}/log/error_log\nPageLog {d}/log/page_log\n\
                 ServerBin /usr/lib/cups\nDataDir /usr/share/cups\n"
            ),
        );
        write(
            &dir.path().join("conf/cupsd.conf"),
            &format!(
                "LogLevel debug\nListen {d}/cups.sock\nBrowsing No\nWebInterface No\nPreserveJobFiles Yes\n\
                 DefaultAuthType None\n<Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
                 <Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
            ),
        );
        let instance = format!(
            "rdplay{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // `Label 2`: every file is named `TITLE-job_N.pdf`, N the CUPS job number.
        write(
            &instance_conf(&instance),
            &format!(
                "Out {d}/out\nAnonDirName {d}/out\nSpool {d}/pdf-spool\nLabel 2\nUserUMask 0077\n\
                 Log {d}/log\nLogType 3\n"
            ),
        );
        let mut cups = Cups {
            dir,
            instance,
            daemon: None,
        };
        cups.start_daemon();
        let uri = format!("cups-pdf:/{}", cups.instance);
        // poppler's pdftops keeps the sheets' fonts (and so their text) through PostScript.
        let add = cups.client(
            "lpadmin",
            &[
                "-p",
                QUEUE,
                "-E",
                "-v",
                &uri,
                "-m",
                PPD,
                "-o",
                "pdftops-renderer-default=pdftops",
            ],
        );
        assert!(add.0, "lpadmin failed: {}\n{}", add.1, cups.log());
        cups
    }

    fn start_daemon(&mut self) {
        let conf = self.dir.path().join("conf");
        let child = Command::new("cupsd")
            .arg("-f")
            .arg("-c")
            .arg(conf.join("cupsd.conf"))
            .arg("-s")
            .arg(conf.join("cups-files.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start cupsd: {e}"));
        self.daemon = Some(child);
        let socket = self.socket();
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "cupsd did not open {} in 15 s:\n{}",
                socket.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The socket exists a moment before cupsd answers on it.
        let started = Instant::now();
        while !self.client("lpstat", &["-r"]).0 {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "cupsd does not answer:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The value of `CUPS_SERVER` that reaches this CUPS (its socket's path).
    pub fn server(&self) -> String {
        self.socket().to_string_lossy().into_owned()
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("cups.sock")
    }

    /// Stops the daemon (SIGTERM, then waits); its queue and files stay. `resume` starts it again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if started.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = fs::remove_file(self.socket());
        }
    }

    /// Starts the stopped daemon again, with the same queue.
    pub fn resume(&mut self) {
        self.stop();
        self.start_daemon();
    }

    /// Runs a CUPS client tool against this CUPS: (success, stdout + stderr).
    pub fn client(&self, tool: &str, args: &[&str]) -> (bool, String) {
        let output = Command::new(tool)
            .args(args)
            .env("CUPS_SERVER", self.server())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    /// The PDFs the virtual printer wrote so far, by job number.
    pub fn printed(&self) -> Vec<(u32, PathBuf)> {
        let mut found: Vec<(u32, PathBuf)> = fs::read_dir(self.dir.path().join("out"))
            .map(|entries| entries.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_string();
                let (_, number) = name.strip_suffix(".pdf")?.rsplit_once("-job_")?;
                let number = number.parse().ok()?;
                Some((number, p))
            })
            .collect();
        found.sort();
        found
    }

    /// The documents CUPS received for job `number`, byte for byte as `lp` sent them (the daemon
    /// keeps them: `PreserveJobFiles`). The virtual printer's PDFs went through PostScript and lost
    /// their text layer; these have it.
    pub fn submitted(&self, number: u32) -> Vec<PathBuf> {
        let prefix = format!("d{number:05}-");
        let mut docs: Vec<PathBuf> = fs::read_dir(self.dir.path().join("spool"))
            .map(|entries| entries.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect();
        docs.sort();
        docs
    }

    /// Waits until the virtual printer wrote `n` PDFs (at most 60 s) and no job is left; returns them.
    #[track_caller]
    pub fn wait_for_jobs(&self, n: usize) -> Vec<(u32, PathBuf)> {
        let started = Instant::now();
        loop {
            let printed = self.printed();
            let pending = self.client("lpstat", &["-o"]).1;
            if printed.len() >= n && pending.trim().is_empty() {
                return printed;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "expected {n} printed PDFs, found {printed:?}; queue: {pending}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The end of cupsd's error log, for failure messages.
    pub fn log(&self) -> String {
        let text = fs::read_to_string(self.dir.path().join("log/error_log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Cups {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_file(instance_conf(&self.instance));
    }
}

fn instance_conf(instance: &str) -> PathBuf {
    PathBuf::from(format!("/etc/cups/cups-pdf-{instance}.conf"))
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
