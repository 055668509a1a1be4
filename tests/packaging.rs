//! What the Debian package ships that rdplay generates itself: the manual pages (rendered from the
//! clap definitions `--help` comes from) and the shell completions, through the real binary.
//! `packaging/test-install` checks the built package in a fresh Debian root filesystem.

use std::path::Path;
use std::process::Command;

fn rdplay(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rdplay"))
        .args(args)
        .output()
        .expect("run rdplay");
    assert!(out.status.success(), "rdplay {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The subcommands a help text lists under `Commands:`, without clap's `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every `--long` option a help text names.
fn long_options(help: &str) -> Vec<String> {
    help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect()
}

/// Checks the page of `path` (`["inventory", "export"]`) against its `--help`, then its subcommands'.
fn check_page(dir: &Path, path: &[String], pages_seen: &mut Vec<String>) {
    let name = if path.is_empty() {
        "rdplay".to_string()
    } else {
        format!("rdplay-{}", path.join("-"))
    };
    let file = format!("{name}.1");
    let page = std::fs::read_to_string(dir.join(&file))
        .unwrap_or_else(|e| panic!("no page {file}: {e}"))
        // roff escapes the hyphens of options.
        .replace("\\-", "-");
    pages_seen.push(file.clone());
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let help = rdplay(&args);
    let options = long_options(&help);
    assert!(options.contains(&"--help".to_string()), "{help}");
    for option in options {
        assert!(
            page.contains(&option),
            "{file} does not have {option} of `rdplay {}`",
            args.join(" ")
        );
    }
    for sub in subcommands(&help) {
        assert!(
            page.contains(&format!("{name}-{sub}")),
            "{file} does not list {sub}"
        );
        let mut sub_path = path.to_vec();
        sub_path.push(sub);
        check_page(dir, &sub_path, pages_seen);
    }
}

#[test]
fn the_man_pages_say_what_help_says() {
    let dir = tempfile::tempdir().unwrap();
    let wrote = rdplay(&["man", dir.path().to_str().unwrap()]);
    let mut written: Vec<String> = wrote
        .lines()
        .map(|l| {
            let path = l.strip_prefix("wrote ").expect("wrote PATH");
            Path::new(path)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    written.sort();

    let mut seen = Vec::new();
    check_page(dir.path(), &[], &mut seen);
    seen.sort();
    assert_eq!(written, seen, "one page per command of --help, no other");
    assert!(seen.len() >= 15, "{seen:?}");
    assert!(
        !subcommands(&rdplay(&["--help"])).contains(&"man".to_string()),
        "`man` is for packagers: hidden"
    );

    let top = std::fs::read_to_string(dir.path().join("rdplay.1")).unwrap();
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "SUBCOMMANDS",
        "EXIT STATUS",
        "FILES",
        "EXAMPLES",
    ] {
        assert!(
            top.contains(&format!(".SH {section}")) || top.contains(&format!(".SH \"{section}\"")),
            "rdplay.1 has no {section} section"
        );
    }
    for needed in [
        "apt install ./rdplay_",
        "/usr/share/rdplay/templates/",
        "--format glpi",
        "Import from file",
    ] {
        assert!(
            top.replace("\\-", "-").contains(needed),
            "rdplay.1 does not say {needed}"
        );
    }
}

#[test]
fn completions_offer_every_subcommand_in_each_shell() {
    let names = subcommands(&rdplay(&["--help"]));
    assert!(names.len() >= 10, "{names:?}");
    for shell in ["bash", "zsh", "fish"] {
        let script = rdplay(&["completions", shell]);
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell}: no {name}");
        }
    }
}
