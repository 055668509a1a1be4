//! `rdplay reprint` and `rdplay escrow rekey`: reading escrowed passwords back with an admin's
//! identity. Every read is recorded in the inventory (when, which account, which key, who, why)
//! before the password is used; a read that fails records nothing and writes nothing.

use super::CommandError;
use crate::escrow::{Identity, Recipient, encrypt};
use crate::inventory::{AccountState, EscrowRecord, Inventory, ReadRecord, Store};
use crate::mac::Mac;
use crate::playbook::Playbook;
use crate::render::{Renderer, UserSheet};
use crate::secret::Secret;
use std::path::PathBuf;

/// `rdplay reprint`
#[derive(Debug, clap::Args)]
pub struct ReprintArgs {
    /// PCs (address, hostname or MAC) or account names.
    #[arg(value_name = "PC|ACCOUNT", required_unless_present = "all_live")]
    pub targets: Vec<String>,
    /// Every live account's sheet.
    #[arg(long, conflicts_with = "targets")]
    pub all_live: bool,
    /// The admin's age identity file or SSH private key (a recipient of the escrow).
    #[arg(long, value_name = "FILE")]
    pub identity: PathBuf,
    /// Print the password on the terminal instead of a sheet (refused when stdout is not a terminal).
    #[arg(long)]
    pub show: bool,
    /// Why it is read, kept in the audit of reads.
    #[arg(long)]
    pub reason: Option<String>,
    /// Also write every reprinted sheet into one file to print (`reprints.pdf`).
    #[arg(long)]
    pub batch: bool,
    /// The playbook (its inventory, output directory and templates).
    #[arg(long, value_name = "PLAYBOOK")]
    pub playbook: PathBuf,
}

/// `rdplay escrow ...`
#[derive(Debug, clap::Subcommand)]
pub enum EscrowCommand {
    /// Re-encrypt every live escrowed password to the playbook's current recipients.
    Rekey(RekeyArgs),
}

/// `rdplay escrow rekey`
#[derive(Debug, clap::Args)]
pub struct RekeyArgs {
    /// An identity that can read the escrowed passwords today.
    #[arg(long, value_name = "FILE")]
    pub identity: PathBuf,
    /// Why, kept in the audit of reads.
    #[arg(long)]
    pub reason: Option<String>,
    /// The playbook whose `escrow.recipients` to encrypt to.
    #[arg(long, value_name = "PLAYBOOK")]
    pub playbook: PathBuf,
}

/// What a reprint did.
pub struct Reprinted {
    /// Sheets written.
    pub files: Vec<PathBuf>,
    /// `--show`: account and password, to print on the terminal.
    pub shown: Vec<(String, Secret)>,
}

/// Reads the escrowed passwords of the targets back and reprints their sheets (or shows them).
pub fn reprint(args: &ReprintArgs) -> Result<Reprinted, CommandError> {
    let (pb, runtime) = super::load_with_runtime(&args.playbook)?;
    let identity = Identity::load(&args.identity)?;
    let (inventory, _lock) = Inventory::for_run(&pb.inventory, &pb.site, 1)?;
    let accounts = targets(&inventory, args)?;
    let renderer = Renderer::new(
        pb.output.user_sheet.as_deref(),
        pb.output.pc_sheet.as_deref(),
    )?;
    let formats: Vec<crate::render::Format> =
        pb.output.formats.iter().map(|f| (*f).into()).collect();
    let today = jiff::Zoned::now().date().to_string();
    let mut done = Reprinted {
        files: Vec::new(),
        shown: Vec::new(),
    };
    let mut sheets = Vec::new();
    for (mac, username) in accounts {
        let escrowed = newest_escrow(&inventory, &username)?;
        let password = identity.decrypt(&escrowed.ciphertext)?;
        let action = if args.show { "show" } else { "reprint" };
        // Recorded before the password is used.
        runtime.block_on(inventory.record_read(read_record(
            &mac,
            &username,
            action,
            &identity,
            args.reason.clone(),
        )))?;
        if args.show {
            done.shown.push((username, password));
            continue;
        }
        let sheet = sheet_of(
            &inventory, &pb, &mac, &username, &escrowed, password, &today,
        )?;
        done.files
            .extend(renderer.user_sheet(&sheet, &formats, &pb.output.dir)?);
        sheets.push(sheet);
    }
    if args.batch && !sheets.is_empty() {
        let path = pb.output.dir.join("reprints.pdf");
        renderer.user_batch(&sheets, &path)?;
        done.files.push(path);
    }
    Ok(done)
}

/// Re-encrypts every live escrowed password to the playbook's current recipients; the counts of
/// passwords rekeyed and of those this identity could not read.
pub fn rekey(args: &RekeyArgs) -> Result<(usize, usize), CommandError> {
    let (pb, runtime) = super::load_with_runtime(&args.playbook)?;
    let escrow = pb.escrow.as_ref().ok_or_else(|| {
        CommandError::Message(format!(
            "{} has no `escrow` section: no recipients to encrypt to",
            args.playbook.display()
        ))
    })?;
    let recipients: Vec<Recipient> = escrow
        .recipients
        .iter()
        .map(|r| Recipient::parse(r))
        .collect::<Result<_, _>>()?;
    let fingerprints: Vec<String> = recipients.iter().map(Recipient::fingerprint).collect();
    let identity = Identity::load(&args.identity)?;
    let (inventory, _lock) = Inventory::for_run(&pb.inventory, &pb.site, 1)?;
    let (mut rekeyed, mut unreadable) = (0, 0);
    for record in inventory.escrowed(None)? {
        let Ok(password) = identity.decrypt(&record.ciphertext) else {
            unreadable += 1;
            continue;
        };
        runtime.block_on(inventory.record_read(read_record(
            &record.mac,
            &record.username,
            "rekey",
            &identity,
            args.reason.clone(),
        )))?;
        let ciphertext = encrypt(&password, &recipients)?;
        runtime.block_on(inventory.rekey(record.id, fingerprints.clone(), ciphertext))?;
        rekeyed += 1;
    }
    Ok((rekeyed, unreadable))
}

/// The accounts to reprint: by account name, or a PC's live account, or every live account.
fn targets(inventory: &Inventory, args: &ReprintArgs) -> Result<Vec<(Mac, String)>, CommandError> {
    let accounts = inventory.accounts()?;
    if args.all_live {
        return Ok(accounts
            .into_iter()
            .filter(|a| a.state == AccountState::Live)
            .map(|a| (a.mac, a.username))
            .collect());
    }
    let mut out = Vec::new();
    for target in &args.targets {
        if let Some(a) = accounts.iter().rev().find(|a| &a.username == target) {
            if a.state == AccountState::Deleted {
                return Err(CommandError::Message(format!(
                    "{target} was deleted from its PC: its password opens nothing any more"
                )));
            }
            out.push((a.mac.clone(), a.username.clone()));
            continue;
        }
        let pc = inventory.find_pc(target)?;
        let live = accounts
            .iter()
            .rev()
            .find(|a| a.mac == pc.mac && a.state == AccountState::Live)
            .ok_or_else(|| {
                CommandError::Message(format!("{target} has no live account to reprint"))
            })?;
        out.push((pc.mac, live.username.clone()));
    }
    Ok(out)
}

fn newest_escrow(inventory: &Inventory, username: &str) -> Result<EscrowRecord, CommandError> {
    inventory
        .escrowed(Some(username))?
        .into_iter()
        .next()
        .ok_or_else(|| {
            CommandError::Message(format!(
                "no escrowed password for {username} (was `escrow` off when it was made?)"
            ))
        })
}

/// The user sheet again, from the inventory's records, marked as a reprint of `today`.
fn sheet_of(
    inventory: &Inventory,
    pb: &Playbook,
    mac: &Mac,
    username: &str,
    escrowed: &EscrowRecord,
    password: Secret,
    today: &str,
) -> Result<UserSheet, CommandError> {
    let pc = inventory
        .pc(mac)?
        .ok_or_else(|| CommandError::Message(format!("no PC {mac} in the inventory")))?;
    let facts = pc.facts.clone().unwrap_or_default();
    // The shell the account was given, as recorded; for an account recorded before rdplay kept it,
    // the playbook's (first) shell.
    let shell = inventory
        .accounts_of(mac)?
        .into_iter()
        .find(|a| a.username == username && a.request == escrowed.request)
        .and_then(|a| a.shell)
        .or_else(|| pb.account.shell.candidates().first().cloned())
        .unwrap_or_default();
    Ok(UserSheet {
        username: username.to_string(),
        password,
        request: escrowed.request.clone(),
        date: escrowed.at.strftime("%Y-%m-%d").to_string(),
        site: pb.site.clone(),
        hostname: pc
            .hostname
            .clone()
            .unwrap_or_else(|| facts.hostname.clone()),
        number: pc.number.unwrap_or(0),
        ip: pc.ip.to_string(),
        mac: mac.to_string(),
        shell,
        facts,
        reprint: Some(today.to_string()),
    })
}

/// Who reads: the identity's fingerprint (derived from the identity itself), the local user (see
/// [`local_user`]) and host.
fn read_record(
    mac: &Mac,
    username: &str,
    action: &str,
    identity: &Identity,
    reason: Option<String>,
) -> ReadRecord {
    let local_host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    ReadRecord {
        at: jiff::Timestamp::now(),
        username: username.to_string(),
        mac: mac.clone(),
        action: action.to_string(),
        identity: identity.fingerprint.clone(),
        local_user: local_user(),
        local_host,
        reason,
    }
}

/// The user reading, for the audit: the process's real uid (which the kernel vouches for, and
/// `$USER` cannot change) with its name in the passwd database, then, when sudo's variables are set,
/// the user they say ran sudo, marked unverified (any process can set them).
fn local_user() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    describe_user(
        uid,
        user_name(uid).as_deref(),
        std::env::var("SUDO_USER").ok().as_deref(),
        std::env::var("SUDO_UID").ok().as_deref(),
    )
}

/// `NAME (uid N)`, and `; via sudo from NAME, uid N, unverified` inside the brackets when sudo's
/// variables claim one (each part they leave out is `?`).
fn describe_user(
    uid: u32,
    name: Option<&str>,
    sudo_user: Option<&str>,
    sudo_uid: Option<&str>,
) -> String {
    let inert = |s: &str| crate::text::inert(s, 64);
    let name = name.map_or_else(|| "?".to_string(), inert);
    if sudo_user.is_none() && sudo_uid.is_none() {
        return format!("{name} (uid {uid})");
    }
    format!(
        "{name} (uid {uid}; via sudo from {}, uid {}, unverified)",
        sudo_user.map_or_else(|| "?".to_string(), inert),
        sudo_uid.map_or_else(|| "?".to_string(), inert),
    )
}

/// The name of `uid` in the passwd database (as NSS is set up: files, LDAP...), if it has one.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `entry`, `buf` (of the length given) and `found` are valid for writes for the
        // whole call; getpwuid_r fills `entry`, with its strings in `buf`, and points `found` at it.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                entry.as_mut_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() {
            return None;
        }
        // SAFETY: `found` is not null, so it points at `entry`, filled, whose `pw_name` is a
        // NUL-terminated string in `buf`, still alive.
        let name = unsafe { std::ffi::CStr::from_ptr((*found).pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_is_the_real_uid_and_sudo_only_a_claim() {
        assert_eq!(
            describe_user(1000, Some("alice"), None, None),
            "alice (uid 1000)"
        );
        assert_eq!(
            describe_user(0, Some("root"), Some("mallory"), Some("1001")),
            "root (uid 0; via sudo from mallory, uid 1001, unverified)"
        );
        assert_eq!(
            describe_user(4242, None, Some("x\ny"), None),
            "? (uid 4242; via sudo from x\\x0ay, uid ?, unverified)"
        );
        // This process's: its real uid from the kernel's own account of it, and the passwd name.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let uid: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let name = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.get(2) == Some(&uid.to_string().as_str()))
            .map(|f| f[0].to_string());
        assert_eq!(user_name(uid), name);
        let expected = format!("{} (uid {uid}", name.as_deref().unwrap_or("?"));
        assert!(
            local_user().starts_with(&expected),
            "{} / {expected}",
            local_user()
        );
    }
}
