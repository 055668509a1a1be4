//! Live progress on stderr: PCs per step and how many are done or failed. Hidden when stderr is not a
//! terminal (CI, logs), where the log lines say the same.

use crate::tasks::StepKind;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;

/// Counts PCs per step and draws them on one line.
pub struct Progress {
    bar: ProgressBar,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    /// The step each PC in flight is in.
    in_flight: std::collections::HashMap<std::net::Ipv4Addr, StepKind>,
    done: usize,
    failed: usize,
}

impl Progress {
    /// A bar for `total` PCs.
    pub fn new(total: usize, quiet: bool) -> Progress {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} PCs  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Progress {
            bar,
            counts: Mutex::new(Counts::default()),
        }
    }

    fn draw(&self, c: &Counts) {
        let steps: Vec<String> = [
            StepKind::Exchange,
            StepKind::Sftp,
            StepKind::Archive,
            StepKind::Exec,
            StepKind::Inventory,
            StepKind::Render,
        ]
        .iter()
        .map(|s| (s, c.in_flight.values().filter(|v| *v == s).count()))
        // Archive is a step only with `account.archive`: shown while some PC is in it.
        .filter(|(s, n)| **s != StepKind::Archive || *n > 0)
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
        self.bar.set_message(format!(
            "in flight: {}  | done {} failed {}",
            steps.join(" · "),
            c.done,
            c.failed
        ));
    }

    /// Removes the bar before the final table is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl crate::engine::Observer for Progress {
    fn found(&self, _ip: std::net::Ipv4Addr) {
        self.bar.inc_length(1);
    }

    fn enter(&self, ip: std::net::Ipv4Addr, step: StepKind) {
        if let Ok(mut c) = self.counts.lock() {
            c.in_flight.insert(ip, step);
            self.draw(&c);
        }
    }

    fn finished(&self, ip: std::net::Ipv4Addr, ok: bool) {
        if let Ok(mut c) = self.counts.lock() {
            c.in_flight.remove(&ip);
            if ok {
                c.done += 1;
            } else {
                c.failed += 1;
            }
            self.bar.inc(1);
            self.draw(&c);
        }
    }
}
