//! Exec: run the uploaded helper — close sessions, remove what the recorded accounts own outside their
//! homes and delete them, create the new one with a uid never given on the PC from a hash on stdin,
//! collect facts — and validate what it reports.

use super::sftp::Workdir;
use super::{StepError, StepKind};
use crate::facts::Facts;
use crate::remote::{Connection, RemoteOutput};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The remote helper, POSIX sh, compiled into the binary.
pub const HELPER: &str = include_str!("helper.sh");

/// A PC's report is at most this big; more is hostile or broken.
pub const REPORT_CAP: usize = 256 * 1024;

/// What exec must do on one PC.
#[derive(Debug)]
pub struct Change {
    /// Accounts recorded for this PC that must go (never root, never uid < 1000: checked here and remotely).
    pub delete: Vec<String>,
    /// Pre-existing accounts adopted through `account.adopt` (not made by rdplay), to delete too.
    pub adopt: Vec<String>,
    /// The new account.
    pub create: String,
    /// Its password hash (sha512-crypt), for `chpasswd -e` on stdin.
    pub hash: Secret,
    /// Login shell.
    pub shell: String,
    /// Directory under which its home is made.
    pub home_base: String,
    /// Supplementary groups.
    pub groups: Vec<String>,
    /// The lowest uid the new account may get: 1 + the highest uid rdplay recorded for this PC (the
    /// helper also goes above every uid and gid the PC shows), so that no uid is ever given twice.
    pub min_uid: Option<u32>,
}

/// The helper's JSON report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// `renew` or `probe`.
    pub mode: String,
    /// The tools the helper uses (renew) or would use (probe) on this PC.
    pub tools: Tools,
    /// Accounts deleted.
    pub deleted: Vec<String>,
    /// Accounts to delete that were not on the PC.
    pub absent: Vec<String>,
    /// Accounts to delete that were present before (with their home and process count).
    pub present: Vec<Present>,
    /// The account created.
    pub created: Option<String>,
    /// Its uid, also the gid of its own group (renew mode).
    pub created_uid: Option<u32>,
    /// Local accounts with uid 1000-59999 (after the changes, in renew mode).
    pub local: Vec<String>,
    /// The mount points of the filesystems the leftover walk covers (probe) or covered (renew): the
    /// PC's own permanent local filesystems, never one mounted at run time.
    pub walk: Vec<String>,
    /// What the probe saw of each login shell `account.shell` names (probe mode; empty in renew
    /// mode): the planner chooses the new account's shell from it.
    #[serde(default)]
    pub shells: Vec<ShellSeen>,
    /// The login shell of the account created, as the PC's account database has it (renew mode).
    #[serde(default)]
    pub created_shell: Option<String>,
    /// The PC's facts.
    pub facts: Facts,
}

/// The tools the helper found on a PC: how it makes and deletes accounts, and whether it must end the
/// old accounts' systemd sessions, user managers and lingering first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tools {
    pub accounts: AccountTools,
    /// systemd runs the PC: `loginctl` and `systemctl` end sessions, `user@UID.service` and lingering.
    pub systemd: bool,
}

/// Which programs make and delete accounts on a PC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountTools {
    /// shadow's `groupadd`, `useradd`, `chpasswd -e`, `userdel -r` (Debian, Ubuntu, most desktops).
    Shadow,
    /// busybox's `addgroup`, `adduser -D`, `chpasswd -e`, `deluser`, `delgroup` (thin clients, kiosks
    /// whose busybox has them; Debian's has not).
    Busybox,
    /// Neither: the helper edits /etc/passwd, shadow, group and gshadow itself, each file replaced
    /// whole by a rename, under /etc/.pwd.lock.
    Files,
}

impl Tools {
    /// "shadow (useradd, userdel), systemd (loginctl, user@UID.service)": what `--check` shows.
    pub fn describe(&self) -> String {
        let accounts = match self.accounts {
            AccountTools::Shadow => "shadow (groupadd, useradd, chpasswd -e, userdel -r)",
            AccountTools::Busybox => {
                "busybox (addgroup, adduser -D, chpasswd -e, deluser, delgroup)"
            }
            AccountTools::Files => {
                "the account files (/etc/passwd, shadow, group, gshadow edited by the helper)"
            }
        };
        if self.systemd {
            format!(
                "{accounts}; systemd (loginctl disable-linger, terminate-user; systemctl stop user@UID.service)"
            )
        } else {
            accounts.to_string()
        }
    }
}

/// A login shell as the probe saw it on a PC.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellSeen {
    pub path: String,
    /// It is an executable file there.
    pub exists: bool,
    /// It is a line of the PC's /etc/shells.
    pub listed: bool,
}

/// An account present on the PC, as the helper saw it before acting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Present {
    pub name: String,
    pub home: String,
    pub processes: u32,
    /// What it owns outside its home on the PC's local filesystems, by uid: the files (anything but
    /// directories) the renewal removes (probe mode) or removed (renew mode).
    pub leftover_files: u64,
    /// Their size in bytes.
    pub leftover_bytes: u64,
}

/// What deleted accounts left outside their homes, summed over a PC's accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    pub files: u64,
    pub bytes: u64,
}

impl Leftovers {
    /// "12 files, 3.4 MB".
    pub fn describe(&self) -> String {
        format!(
            "{} file{}, {}",
            self.files,
            if self.files == 1 { "" } else { "s" },
            crate::text::bytes(self.bytes)
        )
    }
}

impl Report {
    /// What the probe saw of the login shell `path`: (exists, listed in /etc/shells); a shell the
    /// report does not mention counts as absent.
    pub fn shell_seen(&self, path: &str) -> (bool, bool) {
        self.shells
            .iter()
            .find(|s| s.path == path)
            .map_or((false, false), |s| (s.exists, s.listed))
    }

    /// What the present accounts left outside their homes, summed (removed, in renew mode).
    pub fn leftovers(&self) -> Leftovers {
        self.present
            .iter()
            .fold(Leftovers::default(), |sum, p| Leftovers {
                files: sum.files.saturating_add(p.leftover_files),
                bytes: sum.bytes.saturating_add(p.leftover_bytes),
            })
    }
}

/// The parameters the helper reads on stdin (one `key=value` per line). Carries the hash: never logged.
pub fn renew_params(change: &Change) -> Secret {
    let mut p = String::from("mode=renew\n");
    for d in &change.delete {
        p.push_str(&format!("delete={d}\n"));
    }
    for a in &change.adopt {
        p.push_str(&format!("adopt={a}\n"));
    }
    p.push_str(&format!("create={}\n", change.create));
    p.push_str(&format!("hash={}\n", change.hash.expose()));
    p.push_str(&format!("shell={}\n", change.shell));
    p.push_str(&format!("home_base={}\n", change.home_base));
    if !change.groups.is_empty() {
        p.push_str(&format!("groups={}\n", change.groups.join(",")));
    }
    if let Some(min) = change.min_uid {
        p.push_str(&format!("min_uid={min}\n"));
    }
    Secret::new(p)
}

/// Why the helper must never be asked to delete or create `name` (root, odd characters), if so.
pub fn refusal(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name != "root"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (!valid).then(|| {
        format!(
            "refusing to handle account name {:?}",
            crate::text::inert(name, 40)
        )
    })
}

/// Refuses names the helper must never be asked to delete or create (defence in depth: the planner
/// and the helper check too).
pub fn check_names(change: &Change) -> Result<(), StepError> {
    for name in change
        .delete
        .iter()
        .chain(&change.adopt)
        .chain(std::iter::once(&change.create))
    {
        if let Some(why) = refusal(name) {
            return Err(StepError::new(StepKind::Exec, why));
        }
    }
    Ok(())
}

/// The shell command that runs the helper uploaded in `workdir` as root: through `sudo -n` for a
/// connection user other than root (only the helper does; the work directory is that user's own).
pub fn helper_command(conn: &impl Connection, workdir: &Workdir) -> String {
    let root: String = conn.as_root().iter().map(|w| format!("{w} ")).collect();
    format!("{root}sh {}/helper.sh", workdir.path())
}

/// Runs the helper in renew mode and removes its directory whatever happens.
pub async fn renew(
    conn: &impl Connection,
    workdir: Workdir,
    change: &Change,
    timeout: Duration,
) -> Result<Report, StepError> {
    if let Err(e) = check_names(change) {
        super::sftp::remove(conn, &workdir).await;
        return Err(e);
    }
    let params = renew_params(change);
    let script = format!(
        "{}; rc=$?; rm -rf {dir}; exit $rc",
        helper_command(conn, &workdir),
        dir = workdir.path()
    );
    let result = conn
        .run(
            "helper",
            "sh",
            &["-c", &script],
            params.expose().as_bytes(),
            REPORT_CAP,
            timeout,
        )
        .await;
    match result {
        Ok(out) => parse_report(&out, "renew").and_then(|report| answers(report, change)),
        Err(e) => {
            // The helper may still hold its directory: remove it through a fresh channel.
            super::sftp::remove(conn, &workdir).await;
            Err(StepError::caused(StepKind::Exec, "", e))
        }
    }
}

/// Checks a renewal's report against what was asked: the account created is the one asked for, with a
/// uid and the login shell the plan chose; every account deleted was asked to be deleted; every account asked for is deleted or absent.
/// A report that says otherwise fails the PC here, naming the mismatch, instead of surfacing later as
/// an unknown account.
pub fn answers(report: Report, change: &Change) -> Result<Report, StepError> {
    let wrong = |what: String| {
        Err(StepError::new(
            StepKind::Exec,
            format!("the PC's report does not answer the request: {what}"),
        ))
    };
    let asked: Vec<&String> = change.delete.iter().chain(&change.adopt).collect();
    if report.created.as_deref() != Some(change.create.as_str()) || report.created_uid.is_none() {
        return wrong(format!(
            "it created {:?}, not {}",
            report
                .created
                .as_deref()
                .map(|n| crate::text::inert(n, 40))
                .unwrap_or_default(),
            change.create
        ));
    }
    if report.created_shell.as_deref() != Some(change.shell.as_str()) {
        return wrong(format!(
            "its account has the login shell {:?}, not {}",
            report
                .created_shell
                .as_deref()
                .map(|s| crate::text::inert(s, 100))
                .unwrap_or_default(),
            change.shell
        ));
    }
    if let Some(extra) = report.deleted.iter().find(|d| !asked.contains(d)) {
        return wrong(format!(
            "it deleted {:?}, which was not asked",
            crate::text::inert(extra, 40)
        ));
    }
    if let Some(left) = asked
        .iter()
        .find(|a| !report.deleted.contains(a) && !report.absent.contains(a))
    {
        return wrong(format!("{left} is neither deleted nor absent"));
    }
    Ok(report)
}

/// Runs the helper read-only through `sh -s` (nothing uploaded, nothing written): what the planner
/// needs to know of a PC — the recorded accounts present (home, processes), local accounts, facts, the
/// tools it has, and whether each of the login `shells` exists there and is listed in /etc/shells.
pub async fn probe(
    conn: &impl Connection,
    delete: &[String],
    shells: &[String],
    timeout: Duration,
) -> Result<Report, StepError> {
    let mut params = String::from("mode=probe\n");
    for d in delete {
        params.push_str(&format!("delete={d}\n"));
    }
    for shell in shells {
        params.push_str(&format!("shell={shell}\n"));
    }
    let script = format!(
        "RDPLAY_PARAMS={}\n{}",
        crate::ssh::shell_quote(&params),
        HELPER
    );
    let command: Vec<&str> = conn.as_root().iter().copied().chain(["sh", "-s"]).collect();
    let out = conn
        .run(
            "probe",
            command[0],
            &command[1..],
            script.as_bytes(),
            REPORT_CAP,
            timeout,
        )
        .await
        .map_err(|e| StepError::caused(StepKind::Exec, "", e))?;
    parse_report(&out, "probe")
}

/// Where the PC allows no password login: checks on the PC that the account's stored hash is
/// exactly `hash` (sent on stdin) and that the account has not expired.
pub async fn check_hash(
    conn: &impl Connection,
    user: &str,
    hash: &Secret,
    timeout: Duration,
) -> Result<(), StepError> {
    const SCRIPT: &str = r#"IFS= read -r h
e=$(getent shadow "$1") || { echo "rdplay-check: $1 has no password entry" >&2; exit 3; }
IFS=:; set -- $e
[ "$2" = "$h" ] || { echo "rdplay-check: the stored password hash is not the one rdplay sent" >&2; exit 3; }
today=$(( $(date +%s) / 86400 ))
[ -z "$8" ] || [ "$8" -gt "$today" ] || { echo "rdplay-check: the account has expired" >&2; exit 3; }"#;
    let command: Vec<&str> = conn
        .as_root()
        .iter()
        .copied()
        .chain(["sh", "-c", SCRIPT, "rdplay-check", user])
        .collect();
    let mut stdin = hash.expose().as_bytes().to_vec();
    stdin.push(b'\n');
    let out = conn
        .run(
            "hashcheck",
            command[0],
            &command[1..],
            &stdin,
            1024,
            timeout,
        )
        .await;
    stdin.fill(0);
    let out = out.map_err(|e| StepError::caused(StepKind::Exec, "checking the new password", e))?;
    match out.code {
        Some(0) => Ok(()),
        _ => Err(StepError::new(
            StepKind::Exec,
            format!("the new password cannot be proven: {}", out.reason()),
        )),
    }
}

/// Validates the helper's output: exit code, size, UTF-8 (lossy), JSON shape, mode.
pub fn parse_report(out: &RemoteOutput, mode: &str) -> Result<Report, StepError> {
    match out.code {
        Some(0) => {}
        Some(3) => {
            return Err(StepError::new(
                StepKind::Exec,
                format!("the PC refused: {}", out.reason()),
            ));
        }
        Some(code) if out.reason().starts_with("sudo:") => {
            return Err(StepError::new(
                StepKind::Exec,
                format!(
                    "the connection user may not run the helper as root ({}, exit {code}): give it \
                     passwordless sudo on the PC, or connect as root (connection.user)",
                    out.reason()
                ),
            ));
        }
        Some(code) => {
            return Err(StepError::new(
                StepKind::Exec,
                format!("helper exited with {code}: {}", out.reason()),
            ));
        }
        None => {
            return Err(StepError::new(
                StepKind::Exec,
                "helper was killed by a signal",
            ));
        }
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut report: Report = serde_json::from_str(text.trim()).map_err(|e| {
        StepError::new(
            StepKind::Exec,
            format!("the PC's report is not what rdplay expects ({e})"),
        )
    })?;
    if report.mode != mode {
        return Err(StepError::new(
            StepKind::Exec,
            "the PC's report is for another mode",
        ));
    }
    report.facts = std::mem::take(&mut report.facts).without_nul();
    let uid_ok = match (&report.created, report.created_uid) {
        (None, None) => true,
        (Some(_), Some(uid)) => (1000..60000).contains(&uid),
        _ => false,
    };
    if !uid_ok {
        return Err(StepError::new(
            StepKind::Exec,
            "the PC's report gives the new account no uid, or one outside 1000-59999",
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i32, stdout: &[u8]) -> RemoteOutput {
        RemoteOutput {
            code: Some(code),
            stdout: stdout.to_vec(),
            stderr: b"rdplay-helper: refused: x\n".to_vec(),
        }
    }

    /// A renewal that deletes `old` and creates NEW1 with `hash`.
    fn change(old: &str, hash: &str) -> Change {
        Change {
            delete: vec![old.into()],
            adopt: vec![],
            create: "NEW1".into(),
            hash: Secret::new(hash),
            shell: "/bin/bash".into(),
            home_base: "/home".into(),
            groups: vec![],
            min_uid: None,
        }
    }

    #[test]
    fn hostile_reports_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"\xff\xfe\x00garbage",
            b"{\"mode\":\"renew\"}",
            b"{\"mode\":\"renew\",\"deleted\":[],\"absent\":[],\"present\":[],\"created\":null,\"created_uid\":null,\"local\":[],\"facts\":{\"hostname\":\"x\",\"extra\":1}}",
            b"{\"mode\":\"renew\",\"deleted\":[],\"absent\":[],\"present\":[],\"created\":\"x\",\"created_uid\":0,\"local\":[],\"facts\":{\"hostname\":\"x\"}}",
            b"{\"mode\":\"renew\",\"deleted\":[],\"absent\":[],\"present\":[{\"name\":\"a\",\"home\":\"/h\",\"processes\":0,\"leftover_files\":-1,\"leftover_bytes\":0}],\"created\":null,\"created_uid\":null,\"local\":[],\"facts\":{\"hostname\":\"x\"}}",
            b"{\"mode\":\"renew\",\"deleted\":[],\"absent\":[],\"present\":[{\"name\":\"a\",\"home\":\"/h\",\"processes\":0,\"leftover_files\":1,\"leftover_bytes\":99999999999999999999999}],\"created\":null,\"created_uid\":null,\"local\":[],\"facts\":{\"hostname\":\"x\"}}",
            b"[1,2,3]",
        ] {
            assert!(parse_report(&out(0, bad), "renew").is_err());
        }
        assert!(
            parse_report(&out(3, b""), "renew")
                .unwrap_err()
                .to_string()
                .contains("refused")
        );
    }

    #[test]
    fn a_nul_a_pc_reports_in_its_facts_is_stored_as_a_replacement_character() {
        let report = br#"{"mode":"renew","tools":{"accounts":"shadow","systemd":false},"deleted":[],"absent":[],"present":[],"created":null,"created_uid":null,"local":[],"walk":["/"],"facts":{"hostname":"pc\u0000one","disks":[{"name":"sda","size_bytes":1,"model":"\u0000"}],"logged_in":["a\u0000"]}}"#;
        let facts = parse_report(&out(0, report), "renew").unwrap().facts;
        assert_eq!(facts.hostname, "pc\u{fffd}one");
        assert_eq!(facts.disks[0].model.as_deref(), Some("\u{fffd}"));
        assert_eq!(facts.logged_in, ["a\u{fffd}"]);
    }

    #[test]
    fn a_report_that_does_not_answer_the_request_fails_the_pc() {
        let change = change("OLD1", "$6$x");
        let report_with = |deleted: &str, absent: &str, created: &str, shell: &str| {
            let json = format!(
                r#"{{"mode":"renew","tools":{{"accounts":"shadow","systemd":false}},"deleted":[{deleted}],"absent":[{absent}],"present":[],"created":{created},"created_uid":1001,"local":[],"walk":["/"],"shells":[],"created_shell":{shell},"facts":{{"hostname":"pc"}}}}"#
            );
            parse_report(&out(0, json.as_bytes()), "renew").expect("well formed")
        };
        let report = |deleted: &str, absent: &str, created: &str| {
            report_with(deleted, absent, created, r#""/bin/bash""#)
        };
        assert!(answers(report(r#""OLD1""#, "", r#""NEW1""#), &change).is_ok());
        assert!(answers(report("", r#""OLD1""#, r#""NEW1""#), &change).is_ok());
        for (bad, why) in [
            (
                report(r#""OLD1""#, "", r#""NEW2""#),
                "it created \"NEW2\", not NEW1",
            ),
            (
                report(r#""OLD1","alice""#, "", r#""NEW1""#),
                "it deleted \"alice\", which was not asked",
            ),
            (
                report("", "", r#""NEW1""#),
                "OLD1 is neither deleted nor absent",
            ),
            (
                report_with(r#""OLD1""#, "", r#""NEW1""#, r#""/bin/sh""#),
                "its account has the login shell \"/bin/sh\", not /bin/bash",
            ),
            (
                report_with(r#""OLD1""#, "", r#""NEW1""#, "null"),
                "its account has the login shell \"\", not /bin/bash",
            ),
        ] {
            let e = answers(bad, &change).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn params_carry_the_hash_but_never_print_it() {
        let change = Change {
            min_uid: Some(1234),
            ..change("OLD1", "$6$salt$hash")
        };
        let p = renew_params(&change);
        assert!(p.expose().contains("hash=$6$salt$hash\n"));
        assert!(p.expose().contains("min_uid=1234\n"));
        assert!(!format!("{p:?} {p}").contains("salt"));
    }

    #[test]
    fn root_and_odd_names_are_refused() {
        for bad in ["root", "-rf", "a b", "", "x;y"] {
            let change = change(bad, "$6$x");
            assert!(check_names(&change).is_err(), "{bad}");
        }
    }
}
