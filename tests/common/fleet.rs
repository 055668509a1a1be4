//! What the renewal tests share: the lab playbook, running rdplay to its end, reading the inventory,
//! the accounts on a PC and the password on a sheet.

use super::{Lab, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A lab playbook: state and output in the lab's directory; `@STEP@` is replaced by the step timeout.
pub const PLAYBOOK: &str = "\
site: SS
target:
  network: \"@NETWORK@\"
  ranges: \"@RANGE@\"
exchange:
  admin_user: tech
  password: { file: \"@SECRET@\" }
connection:
  connect_timeout: 3s
  step_timeout: 60s
state_dir: state
output:
  dir: output
  formats: [pdf]
";

/// The lab playbook with another step timeout.
pub fn playbook_with_step_timeout(lab: &Lab, timeout: &str) -> PathBuf {
    lab.playbook(&PLAYBOOK.replace("step_timeout: 60s", &format!("step_timeout: {timeout}")))
}

/// The inventory database of [`PLAYBOOK`].
pub fn db(lab: &Lab) -> PathBuf {
    lab.dir().join("state/inventory.db")
}

/// `rdplay run PLAYBOOK EXTRA...`, to its end.
pub fn run(lab: &Lab, pb: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["run", pb.to_str().unwrap()];
    args.extend_from_slice(extra);
    lab.rdplay().args(args).run()
}

/// The inventory as `rdplay inventory export --format json`.
pub fn inventory(lab: &Lab) -> Value {
    let db = db(lab);
    let out = lab
        .rdplay()
        .args(["inventory", "export", "--format", "json", "--db"])
        .arg(db.to_str().unwrap())
        .run();
    out.success();
    serde_json::from_str(&out.stdout).expect("export is JSON")
}

/// The live (not deleted) accounts recorded for `mac`.
pub fn live_accounts(inv: &Value, mac: &str) -> Vec<Value> {
    inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["mac"] == mac && a["deleted_at"].is_null())
        .cloned()
        .collect()
}

/// The accounts on host `i` whose names the naming pattern makes (`USERSS...`).
pub fn managed_on_host(lab: &Lab, i: usize) -> Vec<String> {
    let passwd = lab.host_sh(i, "cat /etc/passwd").success().stdout.clone();
    passwd
        .lines()
        .filter(|l| l.starts_with("USERSS"))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

/// The text layer of a PDF (`pdftotext`, plus `-layout` when `layout`).
pub fn pdf_text_with(pdf: &Path, layout: bool) -> String {
    let mut command = Command::new("pdftotext");
    if layout {
        command.arg("-layout");
    }
    let out = command.arg(pdf).arg("-").output().expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext {}: {out:?}", pdf.display());
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The text layer of a PDF (pdftotext).
pub fn pdf_text(pdf: &Path) -> String {
    pdf_text_with(pdf, false)
}

/// The password printed on a user sheet (the first line after the "Password" label). `-layout`
/// matters: without it pdftotext joins a password ending in `-` with the next line, as if the
/// hyphen were a word broken at the end of a line.
pub fn sheet_password(pdf: &Path) -> String {
    let text = pdf_text_with(pdf, true);
    let mut lines = text.lines().map(str::trim).skip_while(|l| *l != "Password");
    lines.next();
    lines
        .find(|l| !l.is_empty())
        .unwrap_or_else(|| panic!("no password on {}:\n{text}", pdf.display()))
        .to_string()
}
