//! `rdplay man DIR`: the manual pages, rendered by clap_mangen from the same clap definitions as
//! `--help`, so that the two never disagree. `packaging/build-deb` runs it when it builds the Debian
//! package; the subcommand is hidden from `--help` because an admin never needs it.

use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use std::path::{Path, PathBuf};

/// A roff request without arguments.
const NO_ARGS: [&str; 0] = [];

/// What the installed package puts where, for the FILES section (paths fixed by
/// `[package.metadata.deb]` in Cargo.toml).
const FILES: [(&str, &str); 4] = [
    (
        "/usr/share/rdplay/templates/",
        "The default sheet templates, their sample data and their guide: the same files \
         `rdplay init` writes (rdplay carries them built in), to read or copy.",
    ),
    (
        "/usr/share/rdplay/examples/renew.yml",
        "The reference playbook: every key, commented.",
    ),
    (
        "/usr/share/rdplay/schemas/playbook.schema.json",
        "The playbook's JSON Schema (also `rdplay schema`), for editors.",
    ),
    (
        "/usr/share/doc/rdplay/",
        "The README and the guides: PLAYBOOK.md, INVENTORY.md, SECURITY.md, LOST-SHEET.md, PLAN.md.",
    ),
];

/// The EXAMPLES section: (what, commands).
const EXAMPLES: [(&str, &str); 5] = [
    (
        "Install the package (Debian 12 or later):",
        "apt install ./rdplay_VERSION_amd64.deb",
    ),
    (
        "Start a site, check its playbook, see the plan, then renew every PC:",
        "rdplay init site/\nrdplay validate site/renew.yml\nrdplay run --check site/renew.yml\n\
         rdplay run site/renew.yml",
    ),
    (
        "Edit the sheets with a live preview: a page on this computer that shows the site's \
         sheets at real size, redrawn at each save of a template, with its mistakes in words:",
        "rdplay preview --serve --playbook site/renew.yml",
    ),
    (
        "Export the inventory for GLPI, one GLPI inventory document per PC:",
        "rdplay inventory export --format glpi -o glpi/ --playbook site/renew.yml",
    ),
    (
        "Import it into GLPI (10 or later): under Administration > Inventory, tick \"Enable \
         inventory\", then in the \"Import from file\" tab upload the .json files (or one .zip of \
         them). GLPI matches each PC with the computers it knows by serial number, UUID and MAC \
         address.",
        "cd glpi/ && zip ../glpi.zip *.json",
    ),
];

/// Every page as (file name, roff): `rdplay.1`, then `rdplay-SUBCOMMAND.1` for each visible
/// subcommand, nested ones included (`rdplay-inventory-export.1`).
pub fn pages() -> Vec<(String, String)> {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![("rdplay.1".to_string(), top_page(cmd.clone()))];
    let mut stack: Vec<clap::Command> = visible_subcommands(&cmd);
    while let Some(sub) = stack.pop() {
        stack.extend(visible_subcommands(&sub));
        let man = with_source(Man::new(sub));
        pages.push((man.get_filename(), render(|out| man.render(out))));
    }
    pages.sort();
    pages
}

/// Writes [`pages`] into `dir` (created if needed) and returns the paths written; an error names
/// the path it happened at.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    pages()
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            match std::fs::write(&path, text) {
                Ok(()) => Ok(path),
                Err(e) => Err(format!("cannot write {}: {e}", path.display())),
            }
        })
        .collect()
}

fn visible_subcommands(cmd: &clap::Command) -> Vec<clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect()
}

fn with_source(man: Man) -> Man {
    man.source(format!("rdplay {}", env!("CARGO_PKG_VERSION")))
        .manual("rdplay manual")
}

/// rdplay(1): clap_mangen's sections, with EXIT STATUS, FILES, EXAMPLES and SEE ALSO of ours in
/// place of its catch-all EXTRA section (the exit codes of `--help`).
fn top_page(cmd: clap::Command) -> String {
    let subcommands: Vec<String> = visible_subcommands(&cmd)
        .iter()
        .map(|s| s.get_display_name().unwrap_or(s.get_name()).to_string())
        .collect();
    let man = with_source(Man::new(cmd));
    let mut text = render(|out| {
        man.render_title(out)?;
        man.render_name_section(out)?;
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        man.render_subcommands_section(out)
    });

    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for line in super::EXIT_CODES_HELP.lines().skip(1) {
        let (code, meaning) = line.trim().split_once(' ').unwrap_or((line, ""));
        roff.control("TP", NO_ARGS)
            .text([bold(code)])
            .text([roman(meaning.trim())]);
    }
    roff.control("SH", ["FILES"]);
    for (path, what) in FILES {
        roff.control("TP", NO_ARGS)
            .text([italic(path)])
            .text([roman(what)]);
    }
    roff.control("SH", ["EXAMPLES"]);
    for (what, commands) in EXAMPLES {
        roff.control("PP", NO_ARGS).text([roman(what)]);
        roff.control("IP", NO_ARGS).control("nf", NO_ARGS);
        for line in commands.lines() {
            roff.text([bold(line)]);
        }
        roff.control("fi", NO_ARGS);
    }
    roff.control("SH", ["SEE ALSO"]);
    let see_also: Vec<String> = subcommands.iter().map(|s| format!("{s}(1)")).collect();
    roff.text([roman(format!(
        "{}, ssh(1). Each subcommand's options: rdplay SUBCOMMAND --help, or its page above. \
         The guides are in /usr/share/doc/rdplay/.",
        see_also.join(", ")
    ))]);
    text.push_str(&roff.to_roff());
    text.push_str(&render(|out| man.render_version_section(out)));
    text
}

/// Runs a clap_mangen renderer into a string (it writes to memory: nothing can fail).
fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).expect("rendering into memory does not fail");
    String::from_utf8(out).expect("clap_mangen writes UTF-8")
}
