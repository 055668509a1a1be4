//! What `rdplay run` prints: the plans of `--check` (text or JSON lines) and, after a run, a table of
//! PCs, the run directory and the output tree.

use crate::commands::check::CheckReport;
use crate::commands::run::RunReport;
use crate::engine::outcome::{Outcome, PcReport};
use crate::text::inert;
use std::path::Path;

/// The plans as `--check` shows them, with a summary line.
pub fn check_text(report: &CheckReport) -> String {
    let mut t: String = report.plans.iter().map(|p| p.text()).collect();
    let (renew, kept, blocked) = crate::engine::plan::counts(&report.plans);
    t.push_str(&format!(
        "plan: {renew} PCs to renew, {kept} kept by the renewal policy, {blocked} PCs failing, {} addresses without SSH skipped{}\n",
        report.skipped,
        if report.interrupted { " (interrupted)" } else { "" }
    ));
    t.push_str(LEGEND);
    t
}

/// What the marks of `--check`'s text mean (docs/PLAN.md, "Reading the text").
pub const LEGEND: &str = "\
legend: + added  - deleted  ~ changed  ! needs attention (a first contact, or why the PC fails)
        = kept as it is  #N the PC's number  ? no hostname known yet (a PC never contacted)
";

/// The plans as JSON: one object per PC, one per line (the shape of the run's audit log).
pub fn check_json(report: &CheckReport) -> Result<String, serde_json::Error> {
    let mut t = String::new();
    for plan in &report.plans {
        t.push_str(&serde_json::to_string(plan)?);
        t.push('\n');
    }
    Ok(t)
}

/// Prints the final table (PC, IP, MAC, old → new account, request, outcome, duration) and where things are.
pub fn print_run(report: &RunReport) {
    println!("{}", table(&report.pcs));
    let failed = report.pcs.iter().filter(|o| o.outcome.failed()).count();
    let kept = report
        .pcs
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Kept { .. }))
        .count();
    println!(
        "{} renewed, {} kept by the renewal policy, {} failed, {} addresses without SSH skipped, in {:.1} s{}",
        report.pcs.len() - failed - kept,
        kept,
        failed,
        report.skipped,
        report.elapsed.as_secs_f64(),
        if report.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    print!("{}", changes(&report.changes, report.run));
    print!("{}", warnings(&report.warnings));
    for e in &report.unrecorded {
        println!("error: {}", inert(e, 1000));
    }
    println!("run directory: {}", report.run_dir.display());
    println!("log file:      {}", report.log_file.display());
    println!("output:        {}", report.out_dir.display());
    print!("{}", tree(&report.out_dir));
}

/// The run's warnings: what failed after the renewals without undoing them (a print job...).
pub fn warnings(warnings: &[String]) -> String {
    let mut t = String::new();
    for w in warnings {
        t.push_str(&format!("warning: {}\n", inert(w, 1000)));
    }
    if warnings.iter().any(|w| w.starts_with("print:")) {
        t.push_str(
            "warning: the sheets are written; print them later with `rdplay print --last --playbook PLAYBOOK`\n",
        );
    }
    t
}

/// The most change lines shown after a run; the rest are counted, with where to read them.
const CHANGES_SHOWN: usize = 20;

/// The run's "changes" section: one sentence per change, warnings first, at most a screenful.
pub fn changes(events: &[crate::inventory::EventRecord], run: crate::inventory::RunId) -> String {
    if events.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<_> = events.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.event.severity));
    let mut t = format!("changes since last time ({}):\n", events.len());
    for e in sorted.iter().take(CHANGES_SHOWN) {
        t.push_str(&format!(
            "  {:<7}  {}\n",
            e.event.severity.as_str(),
            e.sentence()
        ));
    }
    if events.len() > CHANGES_SHOWN {
        t.push_str(&format!(
            "  … and {} more: rdplay inventory changes --run {} --playbook PLAYBOOK\n",
            events.len() - CHANGES_SHOWN,
            run.0
        ));
    }
    t
}

/// The outcome table, one line per PC, columns aligned.
pub fn table(outcomes: &[PcReport]) -> String {
    let mut rows = vec![[
        "PC".to_string(),
        "IP".into(),
        "MAC".into(),
        "ACCOUNT (old -> new)".into(),
        "REQUEST".into(),
        "OUTCOME".into(),
        "TIME".into(),
    ]];
    for o in outcomes {
        let account = match (&o.old[..], &o.new) {
            ([current], None) => format!("= {current}"),
            ([], Some(new)) => format!("+ {new}"),
            (old, Some(new)) => format!("{} -> {new}", old.join(",")),
            _ => "-".into(),
        };
        let mut result = match &o.outcome {
            Outcome::Kept { reason } => reason.clone(),
            Outcome::Renewed {
                first_contact: true,
                ..
            } => "ok (first contact)".to_string(),
            Outcome::Renewed { .. } => "ok".to_string(),
            Outcome::Failed(e) => format!("FAILED at {}: {}", e.step, inert(&e.reason(), 200)),
        };
        if let Some(left) = o.leftovers.filter(|l| l.files > 0) {
            result.push_str(&format!(" ({} left behind, removed)", left.describe()));
        }
        for why in &o.unarchived {
            result.push_str(&format!(" (deleted without archive: {})", inert(why, 200)));
        }
        rows.push([
            inert(o.hostname.as_deref().unwrap_or("?"), 32),
            o.ip.to_string(),
            o.mac.as_ref().map_or_else(|| "?".into(), |m| m.to_string()),
            account,
            o.request.clone().unwrap_or_else(|| "-".into()),
            result,
            format!("{:.1}s", o.duration.as_secs_f64()),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 6 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// The output directory as a tree (the seed's last step), two levels deep.
pub fn tree(dir: &Path) -> String {
    fn entries(dir: &Path) -> Vec<std::fs::DirEntry> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .map(|r| r.flatten().collect())
            .unwrap_or_default();
        v.sort_by_key(|e| e.file_name());
        v
    }
    let mut text = format!("{}\n", dir.display());
    let top = entries(dir);
    for (i, e) in top.iter().enumerate() {
        let last = i + 1 == top.len();
        text.push_str(&format!(
            "{} {}\n",
            if last { "└──" } else { "├──" },
            e.file_name().to_string_lossy()
        ));
        if e.path().is_dir() {
            let inner = entries(&e.path());
            for (j, f) in inner.iter().enumerate() {
                let branch = if j + 1 == inner.len() {
                    "└──"
                } else {
                    "├──"
                };
                text.push_str(&format!(
                    "{}   {branch} {}\n",
                    if last { " " } else { "│" },
                    f.file_name().to_string_lossy()
                ));
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::exec::Leftovers;

    #[test]
    fn the_table_says_what_the_old_account_left_behind() {
        let mut pc = PcReport::new(
            "10.0.0.2".parse().expect("an address"),
            None,
            Outcome::Renewed {
                first_contact: false,
                files: vec![],
            },
        );
        pc.leftovers = Some(Leftovers {
            files: 2,
            bytes: 3400,
        });
        assert!(
            table(std::slice::from_ref(&pc)).contains("ok (2 files, 3.4 kB left behind, removed)")
        );
        pc.leftovers = Some(Leftovers::default());
        assert!(!table(std::slice::from_ref(&pc)).contains("left behind"));
    }
}
