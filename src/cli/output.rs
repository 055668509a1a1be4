//! What `rdplay run` prints at the end: a table of PCs, the run directory and the output tree.

use crate::run::{Done, Outcome};
use crate::text::inert;
use std::path::Path;
use std::time::Duration;

/// Prints the final table (PC, IP, MAC, old → new account, request, outcome, duration) and where things are.
pub fn print_run(
    outcomes: &[Outcome],
    skipped: usize,
    run_dir: &Path,
    log_file: &Path,
    out_dir: &Path,
    elapsed: Duration,
) {
    println!("{}", table(outcomes));
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let kept = outcomes
        .iter()
        .filter(|o| matches!(&o.result, Ok(Done { kept: Some(_), .. })))
        .count();
    println!(
        "{} renewed, {} kept by the renewal policy, {} failed, {} addresses without SSH skipped, in {:.1} s",
        outcomes.len() - failed - kept,
        kept,
        failed,
        skipped,
        elapsed.as_secs_f64()
    );
    println!("run directory: {}", run_dir.display());
    println!("log file:      {}", log_file.display());
    println!("output:        {}", out_dir.display());
    print!("{}", tree(out_dir));
}

/// The outcome table, one line per PC, columns aligned.
pub fn table(outcomes: &[Outcome]) -> String {
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
        let result = match &o.result {
            Ok(Done {
                kept: Some(reason), ..
            }) => reason.clone(),
            Ok(done) if done.first_contact => "ok (first contact)".to_string(),
            Ok(_) => "ok".to_string(),
            Err(e) => format!("FAILED at {}: {}", e.step, inert(&e.reason, 200)),
        };
        rows.push([
            inert(o.hostname.as_deref().unwrap_or("?"), 32),
            o.ip.to_string(),
            o.mac.clone().unwrap_or_else(|| "?".into()),
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
