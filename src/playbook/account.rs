//! The account rdplay creates on each PC, and its naming pattern.
//!
//! The pattern is a minijinja template rendered once per PC. Its variables ([`NameVars`]):
//!
//! | variable | value | example |
//! | --- | --- | --- |
//! | `site` | the playbook's site code | `SS` |
//! | `number` | the PC's own number, given by the inventory the first time rdplay meets its MAC and kept for good (DHCP does not change it) | `6` |
//! | `index` | the address's position among the target's addresses, sorted, from 1: it changes when the PC's address does | `6` |
//! | `ip` | the PC's address | `192.168.122.7` |
//! | `octet` | the last octet of the address | `7` |
//! | `hostname` | the PC's host name (not assumed unique) | `pc-lab-07` |
//! | `mac` | the PC's MAC, lower case with colons | `52:54:00:12:34:56` |
//! | `request` | the run's request number | `REQ-20261124-000042` |
//! | `date` | the run's date | `2026-11-24` |
//! | `date_compact` | the same without dashes | `20261124` |
//!
//! Functions `random_digits(n)` and `random_letters(n)` (lower case; `| upper` for capitals)
//! draw from the OS random source; the filter `pad(width)` left-pads a number with zeros.
//! Undefined variables are errors, never silently empty.

use super::password::{ByteSource, RandomError};
use minijinja::{Environment, UndefinedBehavior, Value};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The longest Linux user name (`LOGIN_NAME_MAX` - 1 on glibc is 255, but `useradd` and
/// utmp records keep 32).
pub const MAX_USERNAME_LEN: usize = 32;

/// The variables a naming pattern (and the QR template) can use.
pub const PATTERN_VARIABLES: &[&str] = &[
    "site",
    "number",
    "index",
    "ip",
    "octet",
    "hostname",
    "mac",
    "request",
    "date",
    "date_compact",
];

/// Variables that differ on every PC of a playbook's target, so a pattern using one gives
/// every PC its own name. `hostname` is not one: cloned PCs often share it.
const PER_PC_VARIABLES: &[&str] = &["number", "index", "ip", "mac"];

/// The account rdplay creates on each PC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The naming pattern (minijinja).
    pub pattern: String,
    /// Login shell: one, or a preference list.
    pub shell: LoginShell,
    /// Supplementary groups.
    pub groups: Vec<String>,
    /// The directory that holds home directories.
    pub home_base: PathBuf,
    /// A regular expression over whole user names: accounts made before rdplay that it may
    /// take over.
    pub adopt: Option<String>,
    /// Prove the new password logs in before its sheet is written.
    pub verify_login: bool,
    /// Archive the old account's work before deleting it.
    pub archive: Option<Archive>,
}

/// The new account's login shell (`account.shell`). Which one a PC gets is the planner's decision,
/// from what the PC's probe reports of each candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginShell {
    /// One path, used wherever it exists on the PC (an executable file); a PC without it is not
    /// renewed.
    Path(String),
    /// Paths in order of preference: a PC gets the first that exists on it and is listed in its
    /// /etc/shells; a PC with none of them is not renewed.
    Prefer(Vec<String>),
}

impl LoginShell {
    /// The paths the probe looks at, in order of preference.
    pub fn candidates(&self) -> &[String] {
        match self {
            LoginShell::Path(path) => std::slice::from_ref(path),
            LoginShell::Prefer(paths) => paths,
        }
    }

    /// The shell a PC gets, given what its probe saw of each candidate (`exists`: an executable
    /// file; `listed`: a line of its /etc/shells); `Err` says why it gets none.
    pub fn choose(&self, seen: impl Fn(&str) -> (bool, bool)) -> Result<String, String> {
        match self {
            LoginShell::Path(path) if seen(path).0 => Ok(path.clone()),
            LoginShell::Path(path) => Err(format!(
                "the login shell {path} does not exist on this PC (install it there, or choose another account.shell)"
            )),
            LoginShell::Prefer(paths) => paths
                .iter()
                .find(|p| seen(p) == (true, true))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "none of the login shells {} exists on this PC and is listed in its /etc/shells (install one there, or add another to account.shell)",
                        paths.join(", ")
                    )
                }),
        }
    }

    /// How `--check` and the docs say it: `/bin/bash`, or `the first of /bin/bash, /bin/sh that the
    /// PC has in /etc/shells`.
    pub fn describe(&self) -> String {
        match self {
            LoginShell::Path(path) => path.clone(),
            LoginShell::Prefer(paths) => format!(
                "the first of {} that the PC has and lists in /etc/shells",
                paths.join(", ")
            ),
        }
    }
}

/// Where and how old accounts' work is archived (`account.archive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The archive directory on the controller (absolute); one directory per PC under it.
    pub dir: PathBuf,
    /// The largest archive of one account, in bytes.
    pub max_size: u64,
    /// How many archives to keep per PC (at least 1).
    pub keep: u32,
    /// What a failed archive does: keep the account and fail the PC, or delete it without archive.
    pub on_failure: super::ArchiveFailure,
}

/// What one PC's name is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameVars {
    /// Site code.
    pub site: String,
    /// The PC's number, kept by the inventory for its MAC.
    pub number: u32,
    /// The address's position among the target's sorted addresses, from 1.
    pub index: u32,
    /// The PC's address.
    pub ip: Ipv4Addr,
    /// The PC's host name.
    pub hostname: String,
    /// The PC's MAC, lower case with colons.
    pub mac: String,
    /// The run's request number, e.g. `REQ-20261124-000042`.
    pub request: String,
    /// The run's date.
    pub date: jiff::civil::Date,
}

/// A naming pattern that cannot be rendered, or renders a name Linux refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The template has a syntax error or failed to render.
    #[error("the pattern cannot be rendered: {0}")]
    Render(String),
    /// The template uses a variable that does not exist.
    #[error("the pattern uses `{name}`, which is not a naming variable")]
    UnknownVariable {
        /// The unknown name.
        name: String,
        /// The closest known variable, if any is close.
        suggestion: Option<String>,
    },
    /// The rendered name breaks Linux's rules.
    #[error("the pattern renders `{name}`, which is not a valid Linux user name: {reason}")]
    InvalidName {
        /// The rendered name.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },
}

impl NameVars {
    /// Sample values for the PC at position `index` at `ip` (its number the same), as `rdplay
    /// validate` and previews use: a MAC made from the address, the host name `pc`, request 42.
    pub fn sample(site: &str, index: u32, ip: Ipv4Addr) -> NameVars {
        let o = ip.octets();
        NameVars {
            site: site.to_string(),
            number: index,
            index,
            ip,
            hostname: "pc".to_string(),
            mac: format!("52:54:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3]),
            request: "REQ-20261124-000042".to_string(),
            date: jiff::civil::date(2026, 11, 24),
        }
    }

    /// The template context: every variable of [`PATTERN_VARIABLES`].
    pub fn context(&self) -> HashMap<&'static str, Value> {
        let mut ctx = HashMap::new();
        ctx.insert("site", Value::from(self.site.clone()));
        ctx.insert("number", Value::from(self.number));
        ctx.insert("index", Value::from(self.index));
        ctx.insert("ip", Value::from(self.ip.to_string()));
        ctx.insert("octet", Value::from(self.ip.octets()[3]));
        ctx.insert("hostname", Value::from(self.hostname.clone()));
        ctx.insert("mac", Value::from(self.mac.to_lowercase()));
        ctx.insert("request", Value::from(self.request.clone()));
        ctx.insert("date", Value::from(self.date.to_string()));
        ctx.insert(
            "date_compact",
            Value::from(self.date.strftime("%Y%m%d").to_string()),
        );
        ctx
    }
}

/// How the random helpers behave: real draws, or a fixed skeleton that counts their bits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Randomness {
    Real,
    Skeleton,
}

/// The template environment for patterns: strict undefined, the random helpers, `pad`.
/// In skeleton mode the helpers return fixed text and add their entropy to `bits`.
fn environment(mode: Randomness, bits: Arc<Mutex<f64>>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter(
        "pad",
        |value: Value, width: usize| -> Result<String, minijinja::Error> {
            let width = width.min(MAX_USERNAME_LEN);
            Ok(format!("{:0>width$}", value.to_string()))
        },
    );
    for (name, alphabet, fixed) in [
        ("random_digits", &b"0123456789"[..], '0'),
        ("random_letters", &b"abcdefghijklmnopqrstuvwxyz"[..], 'a'),
    ] {
        let bits = Arc::clone(&bits);
        env.add_function(name, move |n: usize| -> Result<String, minijinja::Error> {
            if n == 0 || n > MAX_USERNAME_LEN {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("{name}(n) takes n from 1 to {MAX_USERNAME_LEN}"),
                ));
            }
            if mode == Randomness::Skeleton {
                if let Ok(mut b) = bits.lock() {
                    *b += n as f64 * (alphabet.len() as f64).log2();
                }
                return Ok(std::iter::repeat_n(fixed, n).collect());
            }
            let mut rng = ByteSource::new();
            (0..n)
                .map(|_| rng.below(alphabet.len()).map(|i| char::from(alphabet[i])))
                .collect::<Result<String, RandomError>>()
                .map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                })
        });
    }
    env
}

/// Renders `template` with `vars` (plus `extra` variables) in a strict environment.
pub(crate) fn render_template(
    template: &str,
    vars: &NameVars,
    extra: &[(&'static str, Value)],
) -> Result<String, PatternError> {
    let extra_names: Vec<&str> = extra.iter().map(|(k, _)| *k).collect();
    Pattern::compile(
        template,
        Randomness::Real,
        &extra_names,
        Arc::new(Mutex::new(0.0)),
    )?
    .render(vars, extra)
}

/// A compiled pattern, rendered for many PCs without recompiling.
struct Pattern {
    env: Environment<'static>,
}

impl Pattern {
    /// Compiles `template` and refuses variables that are neither naming variables nor
    /// `extra_names`.
    fn compile(
        template: &str,
        mode: Randomness,
        extra_names: &[&str],
        bits: Arc<Mutex<f64>>,
    ) -> Result<Pattern, PatternError> {
        let mut env = environment(mode, bits);
        env.add_template_owned("pattern", template.to_string())
            .map_err(|e| PatternError::Render(describe(&e)))?;
        let compiled = env
            .get_template("pattern")
            .map_err(|e| PatternError::Render(describe(&e)))?;
        let mut known: Vec<&str> = PATTERN_VARIABLES.to_vec();
        known.extend(extra_names);
        let mut unknown: Vec<String> = compiled
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !known.contains(&v.as_str()) && env.globals().all(|(g, _)| g != v.as_str()))
            .collect();
        unknown.sort();
        if let Some(name) = unknown.into_iter().next() {
            let suggestion = super::suggest::closest(&name, known.iter().copied());
            return Err(PatternError::UnknownVariable { name, suggestion });
        }
        Ok(Pattern { env })
    }

    fn render(
        &self,
        vars: &NameVars,
        extra: &[(&'static str, Value)],
    ) -> Result<String, PatternError> {
        let mut ctx = vars.context();
        ctx.extend(extra.iter().cloned());
        self.env
            .get_template("pattern")
            .and_then(|t| t.render(ctx))
            .map_err(|e| PatternError::Render(describe(&e)))
    }
}

/// A minijinja error in one line, with its own cause.
fn describe(e: &minijinja::Error) -> String {
    let mut text = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Checks a user or group name against the rules rdplay applies (those of `useradd`, made
/// portable): 1 to 32 characters, letters, digits, `_`, `.` and `-`, beginning with a letter or
/// `_`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > MAX_USERNAME_LEN {
        return Err(format!(
            "it has {} characters, more than {MAX_USERNAME_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "`{}` is not allowed (letters, digits, `_`, `.` and `-` only)",
            c.escape_default()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err("it must begin with a letter or `_`".into());
    }
    Ok(())
}

impl Account {
    /// Renders the pattern for one PC and checks the result against Linux's rules.
    pub fn username(&self, vars: &NameVars) -> Result<String, PatternError> {
        let name = render_template(&self.pattern, vars, &[])?;
        check_name(&name).map_err(|reason| PatternError::InvalidName {
            name: name.clone(),
            reason,
        })?;
        Ok(name)
    }
}

/// What the fleet-wide check of a pattern found: an example name, or the problem.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FleetCheck {
    /// Every PC gets a valid name, distinct by a per-PC variable or by enough random bits.
    Unique {
        /// The name rendered for the first address (random parts drawn for real).
        example: String,
    },
    /// The pattern itself is broken.
    Invalid(PatternError),
    /// Names may collide.
    NotUnique {
        /// The message.
        message: String,
        /// What to change.
        help: String,
    },
}

/// Renders the pattern for every address (sample MAC and host name), checks every name, and
/// that names cannot collide: either the pattern's fixed part differs per PC, or its random
/// part makes a collision in the fleet less likely than one in 10,000.
pub(crate) fn check_fleet(account: &Account, site: &str, addresses: &[Ipv4Addr]) -> FleetCheck {
    let mut skeletons: HashMap<String, u32> = HashMap::new();
    let mut max_bits = 0.0f64;
    let mut largest_group = 1u32;
    let bits = Arc::new(Mutex::new(0.0));
    let pattern = match Pattern::compile(
        &account.pattern,
        Randomness::Skeleton,
        &[],
        Arc::clone(&bits),
    ) {
        Ok(p) => p,
        Err(e) => return FleetCheck::Invalid(e),
    };
    for (i, ip) in addresses.iter().enumerate() {
        let vars = NameVars::sample(site, i as u32 + 1, *ip);
        if let Ok(mut b) = bits.lock() {
            *b = 0.0;
        }
        let name = match pattern.render(&vars, &[]) {
            Ok(name) => name,
            Err(e) => return FleetCheck::Invalid(e),
        };
        if let Err(reason) = check_name(&name) {
            return FleetCheck::Invalid(PatternError::InvalidName { name, reason });
        }
        max_bits = max_bits.max(bits.lock().map(|b| *b).unwrap_or(0.0));
        let count = skeletons.entry(name).or_insert(0);
        *count += 1;
        largest_group = largest_group.max(*count);
    }
    let Some(first) = addresses.first() else {
        return FleetCheck::Invalid(PatternError::Render("no address to name".into()));
    };
    if largest_group > 1 {
        // Birthday bound: pairs / 2^bits.
        let n = f64::from(largest_group);
        let pairs = n * (n - 1.0) / 2.0;
        let chance = (pairs / max_bits.exp2()).min(1.0);
        if chance > 1e-4 {
            let needed = (pairs / 1e-4).log2();
            let per_pc = PER_PC_VARIABLES
                .iter()
                .map(|v| format!("`{{{{ {v} }}}}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return FleetCheck::NotUnique {
                message: format!(
                    "the pattern gives {largest_group} PCs the same name apart from its random part \
                     ({max_bits:.1} random bits): two of them share a name with a chance of {:.2}%",
                    chance * 100.0
                ),
                help: format!(
                    "add a per-PC variable ({per_pc}), or at least {:.0} random bits ({} random digits)",
                    needed.ceil(),
                    (needed / 10f64.log2()).ceil()
                ),
            };
        }
    }
    let vars = NameVars::sample(site, 1, *first);
    if max_bits == 0.0 {
        // The same PC renewed another day, by another run: the same name is the old account's.
        let later = NameVars {
            request: "REQ-20270301-000043".into(),
            date: jiff::civil::date(2027, 3, 1),
            ..vars.clone()
        };
        if let (Ok(now), Ok(again)) = (pattern.render(&vars, &[]), pattern.render(&later, &[]))
            && now == again
        {
            return FleetCheck::NotUnique {
                message: format!(
                    "the pattern gives a PC the same name at every renewal ({now} for PC #1), \
                     and rdplay never gives the new account the old one's name: whatever knows \
                     an account by its name (sudo rules, ACLs on shares, mail, a school's web \
                     services) would hand the old account's rights and history to the new user"
                ),
                help: "keep the name's fixed part and add a part that changes at each renewal: \
                       `{{ random_digits(4) }}`, or `{{ request }}`"
                    .into(),
            };
        }
    }
    match account.username(&vars) {
        Ok(example) => FleetCheck::Unique { example },
        Err(e) => FleetCheck::Invalid(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(pattern: &str) -> Account {
        Account {
            pattern: pattern.into(),
            shell: LoginShell::Path("/bin/bash".into()),
            groups: vec![],
            home_base: "/home".into(),
            adopt: None,
            verify_login: true,
            archive: None,
        }
    }

    #[test]
    fn a_single_shell_needs_only_to_exist_and_a_list_gives_the_first_that_exists_and_is_listed() {
        let on_pc = |exists: &'static [&'static str], listed: &'static [&'static str]| {
            move |p: &str| (exists.contains(&p), listed.contains(&p))
        };
        let one = LoginShell::Path("/bin/bash".into());
        // Today's meaning: /etc/shells is not asked.
        assert_eq!(
            one.choose(on_pc(&["/bin/bash"], &[])).as_deref(),
            Ok("/bin/bash")
        );
        let e = one.choose(on_pc(&["/bin/sh"], &["/bin/sh"])).unwrap_err();
        assert!(
            e.contains("the login shell /bin/bash does not exist on this PC"),
            "{e}"
        );
        let list = LoginShell::Prefer(vec!["/bin/bash".into(), "/bin/sh".into()]);
        let both = on_pc(&["/bin/bash", "/bin/sh"], &["/bin/bash", "/bin/sh"]);
        assert_eq!(list.choose(both).as_deref(), Ok("/bin/bash"));
        let busybox = on_pc(&["/bin/sh"], &["/bin/sh"]);
        assert_eq!(list.choose(busybox).as_deref(), Ok("/bin/sh"));
        // bash installed but not in /etc/shells: not a login shell there.
        let unlisted = on_pc(&["/bin/bash", "/bin/sh"], &["/bin/sh"]);
        assert_eq!(list.choose(unlisted).as_deref(), Ok("/bin/sh"));
        let e = list
            .choose(on_pc(&["/bin/sh"], &["/bin/bash"]))
            .unwrap_err();
        assert!(
            e.contains("none of the login shells /bin/bash, /bin/sh exists on this PC and is listed in its /etc/shells"),
            "{e}"
        );
        assert_eq!(list.candidates(), ["/bin/bash", "/bin/sh"]);
        assert_eq!(one.candidates(), ["/bin/bash"]);
    }

    fn vars() -> NameVars {
        NameVars {
            site: "SS".into(),
            number: 12,
            index: 6,
            ip: Ipv4Addr::new(192, 168, 122, 7),
            hostname: "pc-lab-07".into(),
            mac: "52:54:00:AB:cd:01".into(),
            request: "REQ-20261124-000042".into(),
            date: jiff::civil::date(2026, 11, 24),
        }
    }

    #[test]
    fn every_variable_renders_as_documented() {
        let cases = [
            ("{{ site }}", "SS"),
            ("{{ number | pad(3) }}", "012"),
            ("{{ index }}", "6"),
            ("{{ index | pad(3) }}", "006"),
            ("{{ ip }}", "192.168.122.7"),
            ("{{ octet }}", "7"),
            ("{{ hostname }}", "pc-lab-07"),
            ("{{ mac }}", "52:54:00:ab:cd:01"),
            ("{{ mac | replace(':', '') }}", "525400abcd01"),
            ("{{ request }}", "REQ-20261124-000042"),
            ("{{ date }}", "2026-11-24"),
            ("{{ date_compact }}", "20261124"),
            ("{{ site | lower }}", "ss"),
        ];
        for (template, want) in cases {
            assert_eq!(
                render_template(template, &vars(), &[]).unwrap(),
                want,
                "{template}"
            );
        }
    }

    #[test]
    fn random_helpers_draw_the_right_characters() {
        let d = render_template("{{ random_digits(12) }}", &vars(), &[]).unwrap();
        assert_eq!(d.len(), 12);
        assert!(d.bytes().all(|b| b.is_ascii_digit()), "{d}");
        let l = render_template("{{ random_letters(12) }}", &vars(), &[]).unwrap();
        assert!(l.bytes().all(|b| b.is_ascii_lowercase()), "{l}");
        assert!(render_template("{{ random_digits(0) }}", &vars(), &[]).is_err());
        assert!(render_template("{{ random_digits(99) }}", &vars(), &[]).is_err());
    }

    #[test]
    fn the_seed_pattern_renders_the_seed_name() {
        let name = account(super::super::raw::DEFAULT_PATTERN)
            .username(&vars())
            .unwrap();
        // The default pattern names a PC by its number (12 in these variables), not its index.
        assert!(name.starts_with("USERSS012-"), "{name}");
        assert_eq!(name.len(), "USERSS006-1291".len());
    }

    #[test]
    fn unknown_variables_are_named_with_a_suggestion() {
        let err = account("u{{ idx }}").username(&vars()).unwrap_err();
        assert_eq!(
            err,
            PatternError::UnknownVariable {
                name: "idx".into(),
                suggestion: Some("index".into())
            }
        );
    }

    #[test]
    fn linux_rules() {
        assert!(check_name("USERSS006-1291").is_ok());
        assert!(check_name("_svc.backup").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("1user").is_err());
        assert!(check_name("-user").is_err());
        assert!(check_name("user name").is_err());
        assert!(check_name("user:x").is_err());
        assert!(check_name(&"a".repeat(33)).is_err());
        assert!(check_name(&"a".repeat(32)).is_ok());
        assert!(check_name("usér").is_err());
    }

    fn addrs(n: u8) -> Vec<Ipv4Addr> {
        (2..2 + n).map(|o| Ipv4Addr::new(10, 0, 0, o)).collect()
    }

    #[test]
    fn fleet_uniqueness() {
        let ok = check_fleet(
            &account("USER{{ site }}{{ number | pad(3) }}-{{ random_digits(4) }}"),
            "SS",
            &addrs(200),
        );
        assert!(
            matches!(ok, FleetCheck::Unique { ref example } if example.starts_with("USERSS001-")),
            "{ok:?}"
        );
        // Only 4 random digits for 200 PCs: collisions are likely.
        let weak = check_fleet(&account("user-{{ random_digits(4) }}"), "SS", &addrs(200));
        assert!(
            matches!(weak, FleetCheck::NotUnique { ref message, .. } if message.contains("200 PCs")),
            "{weak:?}"
        );
        // 14 random letters is 65.8 bits: enough.
        let strong = check_fleet(&account("u{{ random_letters(14) }}"), "SS", &addrs(200));
        assert!(matches!(strong, FleetCheck::Unique { .. }), "{strong:?}");
        // hostname is not unique on cloned PCs.
        let host = check_fleet(&account("{{ hostname }}-user"), "SS", &addrs(3));
        assert!(matches!(host, FleetCheck::NotUnique { .. }), "{host:?}");
        let long = check_fleet(
            &account("a-much-too-long-user-name-{{ mac | replace(':', '') }}"),
            "SS",
            &addrs(3),
        );
        assert!(
            matches!(long, FleetCheck::Invalid(PatternError::InvalidName { .. })),
            "{long:?}"
        );
        let octet = check_fleet(&account("pc{{ octet }}-{{ request }}"), "SS", &addrs(3));
        assert!(
            matches!(octet, FleetCheck::Unique { ref example } if example == "pc2-REQ-20261124-000042"),
            "{octet:?}"
        );
        // The same name at every renewal of a PC: refused.
        let fixed = check_fleet(&account("pc{{ octet }}"), "SS", &addrs(3));
        assert!(
            matches!(fixed, FleetCheck::NotUnique { ref message, .. } if message.contains("same name at every renewal")),
            "{fixed:?}"
        );
    }
}
