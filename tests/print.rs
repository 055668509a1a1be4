//! Printing through a real CUPS (a private `cupsd` and the cups-pdf virtual printer, see
//! tests/common/cups.rs): at the end of a lab run, again later with `rdplay print`, and with CUPS
//! down, when the run must still succeed and say so.

mod common;

use common::Lab;
use common::cups::{Cups, QUEUE};
use common::fleet::{PLAYBOOK, inventory, pdf_text, pdf_text_with, sheet_password, user_sheet};
use common::pdf::{pages, qr_codes};
use std::path::{Path, PathBuf};

/// The lab playbook, printing slips, labels, user and PC sheets to the test queue; `other` may be
/// named by `rdplay print --printer`.
fn playbook(lab: &Lab) -> PathBuf {
    lab.playbook(&format!(
        "{PLAYBOOK}  slips: {{}}\n  labels: {{ sheet: avery-l7163 }}\n  print:\n    printer: {QUEUE}\n    printers: [other]\n    what: [user_slips, pc_labels, user_sheets, pc_sheets]\n    options: {{ media: A4 }}\n"
    ))
}

fn run(lab: &Lab, cups: &Cups, args: &[&str]) -> common::Run {
    lab.rdplay()
        .env("CUPS_SERVER", &cups.server())
        .args(args)
        .run()
}

fn audit_logs(lab: &Lab) -> String {
    let runs = lab.dir().join("state/runs");
    let mut text = String::new();
    for entry in std::fs::read_dir(&runs).expect("runs").flatten() {
        text.push_str(
            &std::fs::read_to_string(entry.path().join("audit.jsonl")).unwrap_or_default(),
        );
    }
    text
}

/// The printed PDF of `what` (cups-pdf names it after the job's title, `rdplay WHAT RUN`) and the
/// document CUPS received for it.
#[track_caller]
fn printed_of(cups: &Cups, printed: &[(u32, PathBuf)], what: &str) -> (PathBuf, PathBuf) {
    let (number, pdf) = printed
        .iter()
        .rev()
        .find(|(_, p)| p.to_string_lossy().contains(&format!("rdplay_{what}_")))
        .unwrap_or_else(|| panic!("no printed {what}: {printed:?}"));
    let submitted = cups.submitted(*number);
    assert_eq!(submitted.len(), 1, "job {number}: {submitted:?}");
    (pdf.clone(), submitted[0].clone())
}

fn job_ids(audit: &str) -> Vec<String> {
    audit
        .lines()
        .filter(|l| l.contains(r#""event":"print""#))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["job"].as_str().map(str::to_string))
        .collect()
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn a_run_prints_its_sheets_and_print_last_prints_them_again() {
    let lab = Lab::up(2);
    let cups = Cups::start();
    let pb = playbook(&lab);
    let pb_arg = pb.to_str().unwrap();
    let out = run(&lab, &cups, &["run", pb_arg]);
    out.success();
    assert!(!out.stdout.contains("warning"), "{out}");

    // One job each of slips, labels, user sheets and PC sheets.
    let printed = cups.wait_for_jobs(4);
    assert_eq!(printed.len(), 4, "{printed:?}");
    let inv = inventory(&lab);
    let accounts: Vec<_> = inv["accounts"].as_array().unwrap().clone();
    assert_eq!(accounts.len(), 2);
    let first_user = accounts[0]["username"].as_str().unwrap();
    let (users_pdf, users_doc) = printed_of(&cups, &printed, "user_sheets");
    assert_eq!(pages(&users_pdf), 2);
    let users_text = pdf_text_with(&users_doc, true);
    for account in &accounts {
        assert!(users_text.contains(account["username"].as_str().unwrap()));
        // The password printed is the one on the sheet on disk.
        let password = sheet_password(&user_sheet(account));
        assert!(
            users_text.contains(&password),
            "the printed sheet lacks the password of {}",
            account["username"]
        );
    }
    let (pcs_pdf, _) = printed_of(&cups, &printed, "pc_sheets");
    assert_eq!(pages(&pcs_pdf), 2);
    let mut macs: Vec<String> = lab.hosts().iter().map(|h| h.mac.clone()).collect();
    macs.sort();
    assert_eq!(qr_codes(&pcs_pdf), macs);
    // Labels: both PCs on one sheet; slips: both accounts on one page, with their passwords.
    let (labels_pdf, _) = printed_of(&cups, &printed, "pc_labels");
    assert_eq!(pages(&labels_pdf), 1);
    assert_eq!(qr_codes(&labels_pdf), macs);
    let (slips_pdf, slips_doc) = printed_of(&cups, &printed, "user_slips");
    assert_eq!(pages(&slips_pdf), 1);
    let slips_text = pdf_text_with(&slips_doc, true);
    for account in &accounts {
        let password = sheet_password(&user_sheet(account));
        assert!(slips_text.contains(&password), "{slips_text}");
    }

    // Each job's id is in the run's audit log.
    let audit = audit_logs(&lab);
    let ids = job_ids(&audit);
    assert_eq!(ids.len(), 4, "{audit}");
    assert!(
        ids.iter().all(|id| id.starts_with(&format!("{QUEUE}-"))),
        "{ids:?}"
    );

    // Later, again: only the user sheets.
    let again = run(
        &lab,
        &cups,
        &[
            "print",
            "--last",
            "--what",
            "user_sheets",
            "--playbook",
            pb_arg,
        ],
    );
    again.success().stdout_contains("user_sheets: run ");
    let printed = cups.wait_for_jobs(5);
    let (reprinted, doc) = printed_of(&cups, &printed, "user_sheets");
    assert_ne!(reprinted, users_pdf);
    assert_eq!(pages(&reprinted), 2);
    assert!(pdf_text(&doc).contains(first_user));
    assert_eq!(job_ids(&audit_logs(&lab)).len(), 5);

    // Never to a printer the playbook does not name.
    run(
        &lab,
        &cups,
        &[
            "print",
            "--last",
            "--printer",
            "elsewhere",
            "--playbook",
            pb_arg,
        ],
    )
    .code(1)
    .stderr_contains("elsewhere is not a printer of the playbook");
    assert_eq!(cups.printed().len(), 5);
}

#[test]
#[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
fn with_cups_down_the_run_succeeds_with_a_warning_and_prints_later() {
    let lab = Lab::up(2);
    let mut cups = Cups::start();
    cups.stop();
    let pb = playbook(&lab);
    let pb_arg = pb.to_str().unwrap();
    let out = run(&lab, &cups, &["run", pb_arg]);
    out.code(0)
        .stdout_contains("warning: print: could not print user_slips to rdtest")
        .stdout_contains("rdplay print --last");
    // The sheets are there, and the audit log says why nothing was printed.
    let inv = inventory(&lab);
    for account in inv["accounts"].as_array().unwrap() {
        assert!(Path::new(&user_sheet(account)).is_file());
    }
    let audit = audit_logs(&lab);
    assert!(
        audit.contains(r#""event":"print""#) && audit.contains(r#""error":"#),
        "{audit}"
    );
    assert!(job_ids(&audit).is_empty());

    // CUPS is back: `rdplay print --last` prints what the run could not.
    cups.resume();
    run(&lab, &cups, &["print", "--last", "--playbook", pb_arg])
        .success()
        .stdout_contains("user_sheets: run ")
        .stdout_contains("pc_sheets: run ");
    let printed = cups.wait_for_jobs(4);
    assert_eq!(printed.len(), 4);
    assert_eq!(job_ids(&audit_logs(&lab)).len(), 4);
}
