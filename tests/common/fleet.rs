//! What the renewal tests share: the lab playbook, running rdplay to its end, reading the inventory,
//! the accounts on a PC and the password on a sheet.

use super::{Lab, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A lab playbook: state and output in the lab's directory. It renews on every run (`renewal:
/// always`), as the tests run it again and again; [`with_renewal`] gives it another policy.
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
renewal: always
state_dir: state
output:
  dir: output
  formats: [pdf]
";

/// [`PLAYBOOK`] with another renewal policy, e.g. `{ older_than: 30d }`; `None`: the default.
pub fn with_renewal(policy: Option<&str>) -> String {
    PLAYBOOK.replace(
        "renewal: always\n",
        &policy
            .map(|p| format!("renewal: {p}\n"))
            .unwrap_or_default(),
    )
}

/// The lab playbook over a range wider than the lab (`2-40`), so a PC can move inside it.
pub fn wide_playbook(lab: &Lab) -> PathBuf {
    lab.playbook(&PLAYBOOK.replace("ranges: \"@RANGE@\"", "ranges: \"2-40\""))
}

/// Gives host `i` another address in the lab's network, `NET.last`, as a DHCP lease would, and waits
/// until its SSH port answers there (a neighbour entry may still be being learnt on a busy machine).
/// Returns its old and new addresses.
pub fn move_host(lab: &Lab, i: usize, last: u8) -> (String, String) {
    let (old_ip, new_ip) = (lab.host(i).ip.clone(), format!("{}.{last}", lab.net()));
    lab.host_sh(
        i,
        &format!("ip addr del {old_ip}/24 dev eth0 && ip addr add {new_ip}/24 dev eth0"),
    )
    .success();
    lab.ctl(&[
        "bash",
        "-c",
        &format!(
            "for i in $(seq 50); do timeout 1 bash -c '</dev/tcp/{new_ip}/22' 2>/dev/null && exit 0; sleep 0.2; done; exit 1"
        ),
    ])
    .success();
    (old_ip, new_ip)
}

/// Asserts that rdplay's output shows nothing at `ip` (no table row, no plan).
#[track_caller]
pub fn assert_not_shown(out: &Run, ip: &str) {
    assert!(
        !out.stdout.contains(&format!("{ip} ")),
        "{ip}:\n{}",
        out.stdout
    );
}

/// The audit log of the last run.
pub fn last_audit(lab: &Lab) -> String {
    let runs = lab.dir().join("state/runs");
    let mut stamps: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    stamps.sort();
    std::fs::read_to_string(stamps.last().unwrap().join("audit.jsonl")).unwrap()
}

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

/// The first user sheet of a recorded account.
pub fn user_sheet(account: &Value) -> PathBuf {
    PathBuf::from(
        account["user_sheet"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no user sheet recorded: {account}")),
    )
}

/// Asserts that every host has converged ([`assert_host_converged`]); returns the sheets' passwords,
/// by host order. `context` names the moment in failure messages.
#[track_caller]
pub fn assert_converged(lab: &Lab, context: &str) -> Vec<String> {
    let shells = vec!["/bin/bash"; lab.hosts().len()];
    assert_converged_with_shells(lab, context, &shells)
}

/// [`assert_converged`], each host's account with its own login shell (`shells`, by host order).
#[track_caller]
pub fn assert_converged_with_shells(lab: &Lab, context: &str, shells: &[&str]) -> Vec<String> {
    assert_eq!(shells.len(), lab.hosts().len(), "one shell per host");
    let inv = inventory(lab);
    lab.hosts()
        .iter()
        .zip(shells)
        .map(|(host, shell)| {
            assert_host_converged_with_shell(lab, &inv, host.index, shell, context)
        })
        .collect()
}

/// Asserts the kill -9 property on host `i`: exactly one managed account on the PC, recorded live in
/// the inventory `inv` (exactly one live record), whose sheet's password logs in over ssh with bash.
/// Returns that password.
#[track_caller]
pub fn assert_host_converged(lab: &Lab, inv: &Value, i: usize, context: &str) -> String {
    assert_host_converged_with_shell(lab, inv, i, "/bin/bash", context)
}

/// [`assert_host_converged`] with the login shell `shell`: the PC's account database gives it to the
/// account, the inventory records it, and the password's login runs it.
#[track_caller]
pub fn assert_host_converged_with_shell(
    lab: &Lab,
    inv: &Value,
    i: usize,
    shell: &str,
    context: &str,
) -> String {
    let host = lab.host(i);
    let on_pc = managed_on_host(lab, i);
    assert_eq!(
        on_pc.len(),
        1,
        "{context}: {}: managed accounts on the PC {on_pc:?}",
        host.hostname
    );
    let live = live_accounts(inv, &host.mac);
    assert_eq!(
        live.len(),
        1,
        "{context}: {}: live records {live:?}",
        host.hostname
    );
    assert_eq!(live[0]["username"], on_pc[0].as_str(), "{context}");
    assert_eq!(
        live[0]["shell"], shell,
        "{context}: {}: the recorded shell",
        host.hostname
    );
    let passwd = lab
        .host_sh(i, &format!("getent passwd {} | cut -d: -f7", on_pc[0]))
        .success()
        .stdout
        .clone();
    assert_eq!(
        passwd.trim(),
        shell,
        "{context}: {}: the account's shell on the PC",
        host.hostname
    );
    let password = sheet_password(&user_sheet(&live[0]));
    let file = lab.dir().join(format!("pw-{i}"));
    super::write_private(&file, password.as_bytes());
    let login = lab.ssh_password(i, &on_pc[0], &file, "id -un; echo $SHELL");
    assert!(
        login.status.success()
            && login.stdout.contains(&on_pc[0])
            && login.stdout.lines().any(|l| l.trim() == shell),
        "{context}: {}: the sheet's password does not log in to {shell}:\n{login}",
        host.hostname
    );
    let _ = std::fs::remove_file(&file);
    password
}
