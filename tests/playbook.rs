//! The playbook as a user meets it: the repository's playbooks, error messages, the schema,
//! and the `validate`, `schema` and `init` commands run through the real binary.

mod common;

use common::snapshot::Redact;
use proptest::prelude::*;
use rdplay::playbook::{Playbook, PlaybookError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Validates `text` as the playbook `/play/pb.yml` (nothing exists under /play).
fn load_text(text: &str) -> Result<Playbook, PlaybookError> {
    Playbook::from_text(
        text.as_bytes(),
        "pb.yml",
        PathBuf::from("/play/pb.yml"),
        PathBuf::from("/play"),
        String::new(),
    )
}

/// The rendered errors of an invalid playbook.
fn errors(text: &str) -> String {
    match load_text(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const BASE: &str = "\
site: SS
target:
  network: 10.0.0.0/24
  ranges: 2-40
exchange:
  admin_user: tech
  password: prompt
";

fn rdplay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rdplay"))
        .args(args)
        .output()
        .expect("run rdplay")
}

fn playbooks_in(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() && !name.starts_with('.') && name != "output" {
            playbooks_in(&path, out);
        } else if name.ends_with(".yml") || name.ends_with(".yaml") {
            out.push(path);
        }
    }
}

#[test]
fn every_playbook_in_the_repository_validates_and_names_the_schema() {
    let mut found = Vec::new();
    for dir in ["playbooks", "examples"] {
        playbooks_in(&Path::new(ROOT).join(dir), &mut found);
    }
    assert!(found.len() >= 5, "{found:?}");
    for path in found {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let schema = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{} does not start with the schema line", path.display()));
        let schema_path = path.parent().unwrap().join(schema);
        assert!(
            schema_path.canonicalize().unwrap()
                == Path::new(ROOT)
                    .join("schemas/playbook.schema.json")
                    .canonicalize()
                    .unwrap(),
            "{}: {schema} is not schemas/playbook.schema.json",
            path.display()
        );
        if let Err(e) = Playbook::load(&path) {
            panic!("{} is invalid:\n{e}", path.display());
        }
    }
}

#[test]
fn the_reference_playbook_is_commented_line_by_line() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("playbooks/renew.yml")).unwrap();
    // Every key line is preceded by (or carries) a comment.
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let commented = line.contains(" # ")
            || lines[..i]
                .last()
                .is_some_and(|p| p.trim_start().starts_with('#'));
        let section = trimmed.ends_with(':');
        assert!(
            commented || section,
            "line {} has no comment: {line}",
            i + 1
        );
    }
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed =
        std::fs::read_to_string(Path::new(ROOT).join("schemas/playbook.schema.json")).unwrap();
    assert!(
        committed == rdplay::playbook::schema::schema_json(),
        "schemas/playbook.schema.json is stale: run `cargo run -- schema > schemas/playbook.schema.json`"
    );
    let out = rdplay(&["schema"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

/// `schemas/playbook.schema.json`, compiled by a JSON Schema validator (the draft its `$schema`
/// names), as an editor would use it.
fn playbook_schema() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("schemas/playbook.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("the playbook schema compiles")
}

/// Where a playbook's YAML breaks the schema, as `path: error` lines.
fn schema_errors(schema: &jsonschema::Validator, yaml: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_yaml_ng::from_str(yaml).expect("YAML");
    schema
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The starter playbook `rdplay init --lang LANG` writes, in every language, through the binary.
fn init_playbooks() -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    rdplay::playbook::init::STARTERS
        .iter()
        .map(|(lang, _)| {
            let site = dir.path().join(lang);
            let out = rdplay(&["init", site.to_str().unwrap(), "--lang", lang]);
            assert!(out.status.success(), "{out:?}");
            let text = std::fs::read_to_string(site.join("renew.yml")).unwrap();
            (format!("rdplay init --lang {lang}"), text)
        })
        .collect()
}

#[test]
fn every_playbook_validates_against_the_json_schema() {
    let schema = playbook_schema();
    let mut found = Vec::new();
    for dir in ["playbooks", "examples"] {
        playbooks_in(&Path::new(ROOT).join(dir), &mut found);
    }
    assert!(
        found.contains(&Path::new(ROOT).join("examples/lab/renew.yml")),
        "{found:?}"
    );
    let mut playbooks: Vec<(String, String)> = found
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    playbooks.extend(init_playbooks());
    assert!(playbooks.len() >= 7, "{playbooks:?}");
    for (name, text) in &playbooks {
        let errors = schema_errors(&schema, text);
        assert!(
            errors.is_empty(),
            "{name} breaks schemas/playbook.schema.json:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn the_json_schema_flags_misspelt_keys_as_rdplay_does() {
    let schema = playbook_schema();
    assert!(schema_errors(&schema, BASE).is_empty());
    for (misspelt, key) in [
        (BASE.replace("site:", "stie:"), "stie"),
        (BASE.replace("  network:", "  netwrok:"), "netwrok"),
        (BASE.replace("  admin_user:", "  admin_usr:"), "admin_usr"),
    ] {
        let flagged = schema_errors(&schema, &misspelt);
        assert!(
            flagged.iter().any(|e| e.contains(key)),
            "the schema let {key} through: {flagged:?}"
        );
        let rdplay_says = errors(&misspelt);
        assert!(rdplay_says.contains(key), "{rdplay_says}");
    }
}

#[test]
fn the_lab_playbook_targets_the_lab() {
    let p = Playbook::load(&Path::new(ROOT).join("examples/lab/renew.yml")).unwrap();
    assert_eq!(p.target.network.to_string(), "10.213.0.0/24");
    assert_eq!(p.target.addresses().len(), 253);
    assert_eq!(p.exchange.admin_user, "tech");
    let lab = Path::new(ROOT).join("examples/lab");
    assert_eq!(
        p.exchange.password,
        rdplay::playbook::PasswordSource::File(lab.join("bootstrap.secret"))
    );
    assert_eq!(p.state_dir, lab.join(".rdplay"));
    assert_eq!(p.inventory.path, lab.join(".rdplay/inventory.db"));
    assert_eq!(p.connection.identity, lab.join(".rdplay/id_ed25519"));
    assert_eq!(p.output.dir, lab.join("output"));
}

#[test]
fn defaults_are_filled_in_and_paths_resolved() {
    let p = load_text(BASE).unwrap();
    assert_eq!(p.connection.user, "root");
    assert_eq!(p.connection.forks, 50);
    assert_eq!(p.connection.connect_timeout, Duration::from_secs(5));
    assert_eq!(p.connection.step_timeout, Duration::from_secs(120));
    assert_eq!(p.connection.control_persist, Duration::from_secs(60));
    assert!(p.connection.ssh_config);
    assert_eq!(p.state_dir, Path::new("/play/.rdplay"));
    assert_eq!(
        p.connection.known_hosts,
        Path::new("/play/.rdplay/known_hosts")
    );
    assert_eq!(
        p.account.shell,
        rdplay::playbook::LoginShell::Path("/bin/bash".into())
    );
    assert_eq!(p.output.qr, "{{ mac }}");
    assert_eq!(p.output.formats, [rdplay::playbook::Format::Pdf]);
    assert_eq!(p.logging.level, rdplay::playbook::LogLevel::Info);
    assert_eq!(
        p.renewal,
        rdplay::playbook::Renewal::OlderThan(std::time::Duration::from_secs(12 * 3600))
    );
    assert_eq!(p.target.addresses().len(), 39);
    assert!(
        p.example_username.starts_with("USERSS001-"),
        "{}",
        p.example_username
    );
    let seed_form = load_text(
        &BASE
            .replace("10.0.0.0/24", "10.0.0")
            .replace("2-40", "\"3,10\""),
    )
    .unwrap();
    assert_eq!(seed_form.target.addresses().len(), 8);
    let default_range = load_text(&BASE.replace("  ranges: 2-40\n", "")).unwrap();
    assert_eq!(default_range.target.addresses().len(), 253);
    let older = load_text(&format!("{BASE}renewal: {{ older_than: 30d }}\n")).unwrap();
    assert_eq!(
        older.renewal,
        rdplay::playbook::Renewal::OlderThan(Duration::from_secs(30 * 86_400))
    );
}

#[test]
fn account_archive_is_off_by_default_and_its_values_are_checked() {
    assert_eq!(load_text(BASE).unwrap().account.archive, None);
    let on = load_text(&format!("{BASE}account:\n  archive: {{}}\n")).unwrap();
    assert_eq!(
        on.account.archive,
        Some(rdplay::playbook::Archive {
            dir: PathBuf::from("/play/.rdplay/archives"),
            max_size: 2 << 30,
            keep: 3,
            on_failure: rdplay::playbook::ArchiveFailure::Keep,
        })
    );
    let set = load_text(&format!(
        "{BASE}account:\n  archive: {{ dir: old-work, max_size: 500MB, keep: 1 }}\n"
    ))
    .unwrap();
    let archive = set.account.archive.unwrap();
    assert_eq!(archive.dir, Path::new("/play/old-work"));
    assert_eq!((archive.max_size, archive.keep), (500_000_000, 1));
    let bad = errors(&format!(
        "{BASE}account:\n  archive: {{ max_size: 2 gigs, keep: 0 }}\n"
    ));
    assert!(
        bad.contains("account.archive.max_size: `gigs` is not a unit of size"),
        "{bad}"
    );
    assert!(
        bad.contains("account.archive.keep must be at least 1"),
        "{bad}"
    );
}

#[test]
fn account_shell_is_one_path_or_a_preference_list_and_the_schema_takes_both() {
    use rdplay::playbook::LoginShell;
    let one = load_text(&format!("{BASE}account:\n  shell: /bin/zsh\n")).unwrap();
    assert_eq!(one.account.shell, LoginShell::Path("/bin/zsh".into()));
    let list = format!("{BASE}account:\n  shell: [/bin/bash, /bin/sh]\n");
    assert_eq!(
        load_text(&list).unwrap().account.shell,
        LoginShell::Prefer(vec!["/bin/bash".into(), "/bin/sh".into()])
    );
    let schema = playbook_schema();
    assert!(schema_errors(&schema, &list).is_empty());
    assert!(!schema_errors(&schema, &format!("{BASE}account:\n  shell: 7\n")).is_empty());
    assert!(!schema_errors(&schema, &format!("{BASE}account:\n  shell: {{ a: b }}\n")).is_empty());
}

#[test]
fn account_shell_errors_point_at_the_path_in_the_list() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}account:\n  shell: [/bin/bash, bin/sh, \"/bin/a:b\", /bin/bash]\n"
    )));
    insta::assert_snapshot!(
        "account_shell_empty_list",
        errors(&format!("{BASE}account:\n  shell: []\n"))
    );
    insta::assert_snapshot!(
        "account_shell_wrong_type",
        errors(&format!("{BASE}account:\n  shell: {{ path: /bin/bash }}\n"))
    );
}

// Error messages, as the user reads them.
// Error messages, as the user reads them.

#[test]
fn misspelt_key_points_at_it_and_suggests_the_right_one() {
    insta::assert_snapshot!(errors(&BASE.replace("  ranges:", "  rangs:")));
}

#[test]
fn misspelt_value_suggests_the_right_one() {
    insta::assert_snapshot!(errors(&format!("{BASE}output:\n  formats: [pdf, pnj]\n")));
}

/// `tls: prefer` (accepted once) is refused where it is written, saying why and what to write.
#[test]
fn tls_prefer_is_refused_with_the_reason() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}inventory:\n  url: postgres://rdplay@db.example/rdplay\n  tls: prefer\n"
    )));
}

#[test]
fn duplicate_key_is_an_error() {
    insta::assert_snapshot!(errors(&format!("{BASE}site: XX\n")));
}

#[test]
fn duplicate_key_in_a_section_is_shown_where_it_is_repeated() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}connection:\n  forks: 5\n  user: admin\n  \"forks\": 6\n"
    )));
}

#[test]
fn missing_key_says_what_to_add() {
    insta::assert_snapshot!(errors(
        "site: SS\ntarget:\n  ranges: 2-40\nexchange:\n  admin_user: tech\n  password: prompt\n"
    ));
}

#[test]
fn key_exchange_names_are_checked_where_they_are_written() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}connection:\n  kex_algorithms: [curve25519-sha256, \"Curve 25519\"]\n"
    )));
    insta::assert_snapshot!(errors(&format!(
        "{BASE}connection:\n  kex_algorithms: []\n"
    )));
    let pb = load_text(&format!(
        "{BASE}connection:\n  kex_algorithms: [sntrup761x25519-sha512@openssh.com, curve25519-sha256]\n"
    ))
    .unwrap();
    assert_eq!(
        pb.connection.kex_algorithms,
        ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256"]
    );
}

#[test]
fn wrong_type_names_the_expected_one() {
    insta::assert_snapshot!(errors(&format!("{BASE}connection:\n  forks: many\n")));
}

#[test]
fn network_errors_point_at_the_value() {
    insta::assert_snapshot!(errors(&BASE.replace("10.0.0.0/24", "10.0.0.5/24")));
}

#[test]
fn ranges_and_exclusions_outside_the_network_are_all_reported() {
    let text = BASE.replace(
        "  ranges: 2-40\n",
        "  ranges:\n    - 2-40\n    - 10.0.1.2-10.0.1.9\n    - 50-20\n  exclude: [10.9.9.9, 7]\n",
    );
    insta::assert_snapshot!(errors(&text));
}

#[test]
fn pattern_rendering_an_invalid_name() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}account:\n  pattern: \"{{{{ index }}}}user\"\n"
    )));
}

#[test]
fn pattern_with_an_unknown_variable() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}account:\n  pattern: \"u{{{{ idx }}}}\"\n"
    )));
}

#[test]
fn pattern_that_is_not_unique_across_the_fleet() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}account:\n  pattern: \"user-{{{{ random_digits(3) }}}}\"\n"
    )));
}

#[test]
fn impossible_password_policy() {
    insta::assert_snapshot!(errors(&format!(
        "{BASE}password:\n  length: 8\n  min_upper: 3\n  min_lower: 3\n  min_digit: 3\n  min_symbol: 1\n  symbols: \"\"\n"
    )));
}

#[test]
fn weak_password_policy_shows_its_entropy() {
    insta::assert_snapshot!(errors(&format!("{BASE}password:\n  length: 12\n")));
}

#[test]
fn missing_files_are_reported_at_their_values() {
    let text = BASE.replace("password: prompt", "password: { file: admin.secret }")
        + "output:\n  user_sheet: templates/user.typ\n";
    insta::assert_snapshot!(errors(&text));
}

#[test]
fn print_settings_are_checked_each_at_its_value() {
    let text = format!(
        "{BASE}output:\n  batch: false\n  print:\n    printer: \"bad queue\"\n    printers: [ok, \"-o\"]\n    what: [user_sheets, user_sheets]\n    copies: 0\n    options: {{ media: \"A4 now\" }}\n"
    );
    insta::assert_snapshot!(errors(&text));
    let pb = load_text(&format!(
        "{BASE}output:\n  print:\n    printer: office-laser\n    printers: [room12]\n    options: {{ media: A4 }}\n"
    ))
    .expect("valid");
    let print = pb.output.print.expect("print");
    assert_eq!(print.copies, 1);
    assert_eq!(print.what.len(), 2, "user and PC sheets by default");
    assert!(print.names("office-laser") && print.names("room12") && !print.names("other"));
    assert_eq!(print.options, [("media".to_string(), "A4".to_string())]);
}

#[test]
fn label_sheets_are_checked_and_presets_named() {
    let text = format!(
        "{BASE}output:\n  labels:\n    sheet: avery-l9999\n    start: 30\n  print:\n    printer: p\n    what: [user_slips]\n"
    );
    insta::assert_snapshot!(errors(&text));
    let text = format!(
        "{BASE}output:\n  labels:\n    grid: {{ columns: 4, rows: 7, width: 63.5, height: 38.1, top: 15, left: 7 }}\n"
    );
    assert!(errors(&text).contains("beyond the 210 × 297 mm paper"));
    let pb = load_text(&format!(
        "{BASE}output:\n  slips: {{}}\n  labels: {{ sheet: L7651, start: 5 }}\n"
    ))
    .expect("valid");
    let labels = pb.output.labels.expect("labels");
    assert_eq!((labels.grid.per_page(), labels.start), (65, 5));
    assert!(pb.output.slips.is_some());
}

#[test]
fn a_password_in_place_of_a_variable_name_is_refused_without_echoing_it() {
    let text = BASE.replace("password: prompt", "password: { env: \"Hunter2-secret!\" }");
    let e = errors(&text);
    assert!(!e.contains("Hunter2"), "{e}");
    insta::assert_snapshot!(e.replace("Hunter2-secret!", "<redacted>"));
}

/// Every place a password may be typed in a playbook, and what rdplay says: never the value, in
/// no message, caret line or log, whichever command reads the playbook.
#[test]
fn a_password_typed_into_the_playbook_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let mut shown = String::new();
    for (name, written) in [
        ("quoted", "password: \"Azerty123!\""),
        ("bare", "password: Azerty123!"),
        ("number", "password: 20262027"),
        ("colon", "password: Azerty123: x"),
        ("in a file key", "password: { fil: Azerty123! }"),
    ] {
        let text = BASE.replace("password: prompt", written);
        let pb = dir.path().join("pb.yml");
        std::fs::write(&pb, &text).unwrap();
        let value = written.trim_start_matches("password: ");
        let secret = value
            .trim_matches(|c| "{} \"".contains(c))
            .trim_start_matches("fil: ")
            .split(':')
            .next()
            .unwrap();
        for args in [
            vec!["validate", pb.to_str().unwrap()],
            vec!["-v", "run", "--check", pb.to_str().unwrap()],
            vec!["run", pb.to_str().unwrap()],
        ] {
            let out = rdplay(&args);
            assert!(!out.status.success(), "{name}: {args:?}");
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{name}: {args:?} echoed the password:\n{stdout}{stderr}"
            );
            if args[0] == "validate" {
                shown.push_str(&format!("# {name}: {written}\n{stderr}\n"));
            }
        }
        // Nothing rdplay wrote (a log, its state) holds it either: only the playbook does.
        for entry in walkdir(dir.path()) {
            if entry != pb {
                let bytes = std::fs::read(&entry).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(secret),
                    "{name}: {} holds the password",
                    entry.display()
                );
            }
        }
    }
    insta::assert_snapshot!(shown.replace(dir.path().to_str().unwrap(), "[DIR]"));
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walkdir(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn tabs_and_ambiguous_durations_are_explained() {
    let tab = BASE.replace("  ranges: 2-40", "\tranges: 2-40");
    let months = format!("{BASE}renewal: {{ older_than: 3m }}\n");
    insta::assert_snapshot!(format!("{}\n{}", errors(&tab), errors(&months)));
    let minutes = load_text(&format!("{BASE}renewal: {{ older_than: 3min }}\n")).unwrap();
    assert_eq!(
        minutes.renewal,
        rdplay::playbook::Renewal::OlderThan(std::time::Duration::from_secs(180))
    );
}

/// A pattern that gives a PC the same name at every renewal is refused by `validate`, with why.
#[test]
fn a_name_that_never_changes_is_refused_with_the_reason() {
    let fixed =
        format!("{BASE}account:\n  pattern: \"ELEVE-{{{{ site }}}}{{{{ number | pad(2) }}}}\"\n");
    insta::assert_snapshot!(errors(&fixed));
    // A part that changes at each renewal makes it valid: random digits or the request number.
    for pattern in [
        "ELEVE-{{ site }}{{ number | pad(2) }}-{{ random_digits(3) }}",
        "ELEVE{{ number | pad(2) }}-{{ request }}",
    ] {
        load_text(&format!("{BASE}account:\n  pattern: \"{pattern}\"\n")).unwrap();
    }
}

#[test]
fn syntax_errors_have_a_location() {
    insta::assert_snapshot!(errors(
        "site: SS\ntarget:\n  network: 10.0.0.0/24\n ranges: 2-40\n"
    ));
}

#[test]
fn empty_playbook() {
    insta::assert_snapshot!(errors("# nothing here\n"));
}

// Hostile input.

#[test]
fn an_alias_bomb_is_refused_quickly() {
    // A billion laughs under `target.ranges`, whose one-or-many form makes serde read the
    // whole value: 9^9 strings if the aliases were expanded.
    let mut text = String::from(
        "site: SS\ntarget:\n  network: 10.0.0.0/24\n  ranges:\n    - &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n",
    );
    for (i, c) in ('b'..='i').enumerate() {
        let prev = (b'a' + i as u8) as char;
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("    - &{c} [{refs}]\n"));
    }
    let started = Instant::now();
    let err = errors(&text);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "took {took:?}");
    insta::assert_snapshot!(err);
}

#[test]
fn an_oversized_playbook_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yml");
    let big = format!(
        "{BASE}# {}\n",
        "x".repeat(rdplay::playbook::MAX_PLAYBOOK_BYTES as usize)
    );
    std::fs::write(&path, big).unwrap();
    assert!(matches!(
        Playbook::load(&path),
        Err(PlaybookError::TooLarge { .. })
    ));
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("site: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let started = Instant::now();
    assert!(load_text(&deep).is_err());
    assert!(started.elapsed() < Duration::from_secs(1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Playbook::from_text(&bytes, "pb.yml", "/play/pb.yml".into(), "/play".into(), String::new());
    }

    #[test]
    fn mutated_playbooks_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4, any::<u8>()), 1..8),
    ) {
        let reference = std::fs::read_to_string(Path::new(ROOT).join("playbooks/renew.yml")).unwrap();
        let mut bytes = reference.into_bytes();
        // Mutations that keep the shape YAML-ish: delete, insert, replace, duplicate a line.
        for (at, kind, byte) in edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len().saturating_sub(1));
            let table = b" :-[]{}#&*!|>'\"\n0123456789azAZ._/";
            let byte = table[usize::from(byte) % table.len()];
            match kind {
                0 if !bytes.is_empty() => { bytes.remove(i); }
                1 => bytes.insert(i, byte),
                2 if !bytes.is_empty() => bytes[i] = byte,
                _ => {
                    let start = bytes[..i].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
                    let end = bytes[i..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |p| i + p + 1);
                    let line = bytes[start..end].to_vec();
                    bytes.splice(start..start, line);
                }
            }
        }
        let _ = Playbook::from_text(&bytes, "pb.yml", "/play/pb.yml".into(), "/play".into(), String::new());
    }
}

// The commands.

#[test]
fn validate_prints_a_summary_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pb.yml");
    std::fs::write(
        &path,
        BASE.replace("2-40", "2-40\n  exclude: [7]")
            + "account:\n  pattern: \"pc{{ octet }}-{{ request }}\"\n",
    )
    .unwrap();
    let out = rdplay(&["validate", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!(Redact::new().path(dir.path(), "[DIR]").apply(&stdout));
}

#[test]
fn validate_reports_errors_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pb.yml");
    std::fs::write(&path, BASE.replace("ranges:", "rangs:")).unwrap();
    let out = rdplay(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("pb.yml:4:3"), "{stderr}");
    assert!(stderr.contains("did you mean `ranges`?"), "{stderr}");
    let missing = rdplay(&["validate", "/nonexistent/pb.yml"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn validate_warns_about_a_readable_password_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("admin.secret");
    std::fs::write(&secret, "x\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = dir.path().join("pb.yml");
    std::fs::write(
        &path,
        BASE.replace("password: prompt", "password: { file: admin.secret }"),
    )
    .unwrap();
    let out = rdplay(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("warning: the admin password file") && stdout.contains("chmod 600"),
        "{stdout}"
    );
}

#[test]
fn init_writes_a_valid_starter_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("site");
    let out = rdplay(&["init", target.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let playbook = target.join("renew.yml");
    let validated = rdplay(&["validate", playbook.to_str().unwrap()]);
    assert_eq!(
        validated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    let schema = std::fs::read_to_string(target.join("playbook.schema.json")).unwrap();
    assert_eq!(schema, rdplay::playbook::schema::schema_json());

    std::fs::write(&playbook, "edited").unwrap();
    let again = rdplay(&["init", target.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    assert_eq!(std::fs::read_to_string(&playbook).unwrap(), "edited");
}

/// The text of a PDF (`pdftotext -layout`), its lines trimmed at the end.
fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn init_in_french_validates_and_its_sheets_speak_french() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("site");
    let out = rdplay(&["init", target.to_str().unwrap(), "--lang", "fr"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let playbook = std::fs::read_to_string(target.join("renew.yml")).unwrap();
    assert!(playbook.contains("# Code du site") && playbook.contains("lang: fr"));
    let validated = rdplay(&["validate", target.join("renew.yml").to_str().unwrap()]);
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    // The user sheet of the sample data, in French and in English.
    for lang in ["fr", "en"] {
        let pdf = dir.path().join(format!("{lang}.pdf"));
        let template = target.join("templates/user-sheet.typ");
        let out = rdplay(&[
            "preview",
            template.to_str().unwrap(),
            "--lang",
            lang,
            "-o",
            pdf.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        insta::assert_snapshot!(format!("user_sheet_{lang}"), pdf_text(&pdf));
    }
    for layout in ["pc-labels", "user-slips", "pc-sheet"] {
        let pdf = dir.path().join(format!("{layout}.pdf"));
        let template = target.join(format!("templates/{layout}.typ"));
        let out = rdplay(&[
            "preview",
            template.to_str().unwrap(),
            "--lang",
            "fr",
            "-o",
            pdf.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let slips = pdf_text(&dir.path().join("user-slips.pdf"));
    assert!(
        slips.contains("Mot de passe") && slips.contains("24 novembre 2025"),
        "{slips}"
    );
}

#[test]
fn run_start_must_name_a_label_of_the_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let with_labels = dir.path().join("labels.yml");
    std::fs::write(
        &with_labels,
        format!("{BASE}state_dir: state\noutput:\n  labels: {{ sheet: avery-l7160 }}\n"),
    )
    .unwrap();
    let out = rdplay(&["run", with_labels.to_str().unwrap(), "--start", "22"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--start 22: the label sheet has labels 1 to 21"),
        "{stderr}"
    );
    let without = dir.path().join("plain.yml");
    std::fs::write(&without, format!("{BASE}state_dir: state\n")).unwrap();
    let out = rdplay(&["run", without.to_str().unwrap(), "--start", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the playbook writes no labels"), "{stderr}");
    assert!(!dir.path().join("state").exists(), "nothing was started");
}

#[test]
fn global_log_options_are_accepted_anywhere() {
    let out = rdplay(&["--log-level", "critical", "schema"]);
    assert!(out.status.success());
    let out = rdplay(&["schema", "-vv"]);
    assert!(out.status.success());
    let bad = rdplay(&["--log-level", "loud", "schema"]);
    assert!(!bad.status.success());
    use clap::Parser;
    let cli = rdplay::cli::Cli::parse_from(["rdplay", "-q", "schema"]);
    assert_eq!(cli.log.level(None), rdplay::playbook::LogLevel::Warning);
    // Ansible's short flags: -C (--check), -l (--limit), -f (--forks).
    let cli = rdplay::cli::Cli::parse_from([
        "rdplay",
        "run",
        "-C",
        "-l",
        "pc1,10.0.0.7",
        "-f",
        "3",
        "pb.yml",
    ]);
    let rdplay::cli::Command::Run(run) = cli.command else {
        panic!("run parses as run");
    };
    assert!(run.check);
    assert_eq!(run.limit, ["pc1", "10.0.0.7"]);
    assert_eq!(run.forks, Some(3));
    // One level per -v, as Ansible's users expect: -v the steps, -vv each command too.
    let cli = rdplay::cli::Cli::parse_from(["rdplay", "-v", "schema"]);
    assert_eq!(cli.log.level(None), rdplay::playbook::LogLevel::Debug);
    let cli = rdplay::cli::Cli::parse_from(["rdplay", "-vv", "schema"]);
    assert_eq!(cli.log.level(None), rdplay::playbook::LogLevel::Trace);
    let cli = rdplay::cli::Cli::parse_from(["rdplay", "schema", "--log-level", "error", "-vvv"]);
    assert_eq!(
        cli.log.level(Some(rdplay::playbook::LogLevel::Critical)),
        rdplay::playbook::LogLevel::Debug
    );
    assert_eq!(
        rdplay::playbook::LogLevel::Critical.as_tracing(),
        tracing::Level::ERROR
    );
}
