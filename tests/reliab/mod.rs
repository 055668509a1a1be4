//! What the reliability tests (tests/reliability.rs) and the stress tests (tests/stress.rs) share:
//! the lab playbook, rdplay started in the background (to kill it, unplug a PC or take a lock while it
//! runs); the convergence check every fault test ends with is `fleet::assert_converged`.
#![allow(dead_code)]

pub use crate::common::fleet::*;
use crate::common::{Lab, RDPLAY, Run};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Makes host `i`'s `useradd` slow: it touches `/run/useradd-started`, sleeps `secs`, then runs the
/// real one. Gives a test a wide, known moment in the middle of exec.
pub fn slow_useradd(lab: &Lab, i: usize, secs: f64) {
    lab.host_sh(
        i,
        &format!(
            "test -e /usr/sbin/useradd.real || mv /usr/sbin/useradd /usr/sbin/useradd.real
             printf '#!/bin/sh\\ntouch /run/useradd-started\\nsleep {secs}\\nexec /usr/sbin/useradd.real \"$@\"\\n' > /usr/sbin/useradd
             chmod 755 /usr/sbin/useradd
             rm -f /run/useradd-started"
        ),
    )
    .success();
}

/// Waits until host `i`'s slow `useradd` (see [`slow_useradd`]) has started while `bg` runs.
#[track_caller]
pub fn wait_useradd_started(lab: &Lab, i: usize, bg: &mut Background, timeout: Duration) {
    let started = Instant::now();
    while !lab
        .host_sh(i, "test -e /run/useradd-started")
        .status
        .success()
    {
        if !bg.running() || started.elapsed() > timeout {
            let out = bg.finish_now();
            panic!("host {i}'s useradd did not start within {timeout:?}:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// rdplay running in the lab's controller namespace in the background, its stderr read line by line.
pub struct Background {
    child: Child,
    command: String,
    lines: Receiver<String>,
    stderr_seen: Vec<String>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts `rdplay ARGS...` (in the lab's directory, through `ip netns exec`, which execs rdplay:
    /// the child's pid is rdplay's).
    pub fn start(lab: &Lab, args: &[&str]) -> Background {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &lab.ctl_netns(), RDPLAY])
            .args(args)
            .current_dir(lab.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let text = format!("{command:?}");
        let mut child = command.spawn().expect("rdplay starts");
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            buf
        });
        let err = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        let stderr = std::thread::spawn(move || {
            let mut reader = BufReader::new(err);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
                line.clear();
            }
        });
        Background {
            child,
            command: text,
            lines,
            stderr_seen: Vec::new(),
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// Whether rdplay still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait for rdplay").is_none()
    }

    /// rdplay's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the `n`th stderr line matching `pred` (counting every line seen so far). Returns
    /// false if rdplay's stderr ended first or `timeout` passed.
    pub fn wait_lines(&mut self, n: usize, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr_seen.iter().filter(|l| pred(l)).count() >= n {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Waits for the `n`th "step done" debug line (needs `--log-level debug`).
    pub fn wait_steps(&mut self, n: usize, timeout: Duration) -> bool {
        self.wait_lines(n, timeout, |l| l.contains("step done"))
    }

    /// Sends `signal` (e.g. `-KILL`, `-INT`) to rdplay.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {} failed", self.pid());
    }

    /// Kills rdplay if it still runs and returns its status and output so far.
    pub fn finish_now(&mut self) -> Run {
        self.finish_mut(Duration::ZERO)
    }

    /// Waits for rdplay to end (killing it after `timeout`) and returns its status and output.
    pub fn finish(mut self, timeout: Duration) -> Run {
        self.finish_mut(timeout)
    }

    fn finish_mut(&mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for rdplay") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("wait for rdplay");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // ssh masters rdplay left behind (after kill -9) may hold the pipes: don't wait for EOF forever.
        let stdout = (self.stdout.take()).and_then(|h| join_within(h, Duration::from_secs(5)));
        let _ = (self.stderr.take()).and_then(|h| join_within(h, Duration::from_secs(5)));
        while let Ok(line) = self.lines.try_recv() {
            self.stderr_seen.push(line);
        }
        Run {
            command: self.command.clone(),
            status,
            stdout: String::from_utf8_lossy(&stdout.unwrap_or_default()).into_owned(),
            stderr: self.stderr_seen.concat(),
        }
    }
}

fn join_within<T: Send + 'static>(handle: JoinHandle<T>, timeout: Duration) -> Option<T> {
    let deadline = Instant::now() + timeout;
    while !handle.is_finished() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    handle.join().ok()
}

/// Kills rdplay with `signal` after its `n`th "step done" line (`n == 0`: as soon as it logged that
/// the run started), then returns how the killed run ended.
pub fn run_and_signal_after_steps(lab: &Lab, pb: &Path, signal: &str, n: usize) -> Run {
    let mut bg = Background::start(lab, &["run", pb.to_str().unwrap(), "--log-level", "debug"]);
    let reached = if n == 0 {
        bg.wait_lines(1, Duration::from_secs(60), |l| l.contains("run started"))
    } else {
        bg.wait_steps(n, Duration::from_secs(60))
    };
    if reached {
        bg.signal(signal);
    }
    bg.finish(Duration::from_secs(60))
}
