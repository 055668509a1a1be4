//! `rdplay validate`, `rdplay schema`, `rdplay init`.

use super::{CommandError, Output};
use crate::playbook::{Playbook, PlaybookError, Renewal};
use std::fmt::Write as _;
use std::path::PathBuf;

/// `rdplay validate PLAYBOOK`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The playbook to validate.
    pub playbook: PathBuf,
}

/// `rdplay schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

/// `rdplay init DIR`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to write the starter playbook and templates into (created if needed).
    pub dir: PathBuf,
    /// The language of the playbook's comments and of the sheets' fixed words and dates.
    #[arg(long, default_value = "en", value_parser = ["en", "fr"])]
    pub lang: String,
}

/// Loads the playbook and describes it, or reports every problem.
pub fn validate(args: ValidateArgs) -> Result<Output, CommandError> {
    let playbook = Playbook::load(&args.playbook)?;
    let templates = compile_sheet_templates(&playbook).map_err(CommandError::Problems)?;
    Ok(Output::text(summary(
        &args.playbook.display().to_string(),
        &playbook,
        &templates,
    )))
}

/// What `rdplay validate` says about each sheet template: `(label, state)`.
pub type TemplateReport = Vec<(&'static str, String)>;

/// Checks the playbook's sheet templates and describes them for the summary.
///
/// Each configured template must be readable and compile with the sample data (typst, in-process),
/// so `validate` catches template errors before a run.
pub fn compile_sheet_templates(playbook: &Playbook) -> Result<TemplateReport, Vec<String>> {
    let mut report = Vec::new();
    let mut problems = Vec::new();
    for (label, path) in [
        ("user sheet", &playbook.output.user_sheet),
        ("PC sheet", &playbook.output.pc_sheet),
    ] {
        match path {
            None => report.push((label, "built-in".to_string())),
            Some(path) => match std::fs::read_to_string(path) {
                Ok(_) => report.push((label, format!("{} (found)", path.display()))),
                Err(e) => problems.push(format!(
                    "cannot read the {label} template {}: {e}",
                    path.display()
                )),
            },
        }
    }
    if problems.is_empty() {
        let output = &playbook.output;
        let compiled =
            crate::render::Renderer::new(output.user_sheet.as_deref(), output.pc_sheet.as_deref())
                .and_then(|renderer| {
                    renderer.with_layouts(
                        output.labels.as_ref().and_then(|l| l.template.as_deref()),
                        output.slips.as_ref().and_then(|s| s.template.as_deref()),
                    )
                })
                .and_then(|renderer| renderer.with_lang(&output.lang))
                .and_then(|renderer| renderer.check());
        if let Err(e) = compiled {
            problems.push(e.to_string().trim_start_matches("error: ").to_string());
        }
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(problems)
    }
}

/// The text `rdplay validate` prints for a valid playbook.
pub fn summary(name: &str, p: &Playbook, templates: &TemplateReport) -> String {
    let addresses = p.target.addresses();
    let ranges: Vec<String> = p.target.ranges.iter().map(|r| r.to_string()).collect();
    let mut out = String::new();
    let mut row = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<18} {value}");
    };
    let excluded = if p.target.exclude.is_empty() {
        String::new()
    } else {
        format!(", {} excluded", p.target.exclude.len())
    };
    row("site", p.site.clone());
    row(
        "network",
        format!("{} ({}{excluded})", p.target.network, ranges.join(", ")),
    );
    row(
        "addresses to scan",
        format!("{}, port {}", addresses.len(), p.target.port),
    );
    row("example username", p.example_username.clone());
    row(
        "PC numbers",
        if uses_variable(&p.account.pattern, "index") {
            "the pattern uses `index`, the address's position in the range: it changes when a \
             PC's address does (DHCP); `number` is the PC's own number, kept by the inventory"
                .to_string()
        } else {
            "`number` is each PC's own number: given once by the inventory, kept whatever its \
             address"
                .to_string()
        },
    );
    row(
        "password",
        format!(
            "{} characters, {:.1} bits of entropy",
            p.password.length,
            p.password.entropy_bits()
        ),
    );
    row(
        "first contact",
        format!(
            "{} with sudo, password from {}",
            p.exchange.admin_user, p.exchange.password
        ),
    );
    row(
        "renewal",
        match p.renewal {
            Renewal::Always => {
                "always: every run renews every account, even one made minutes ago".to_string()
            }
            Renewal::OlderThan(d) => format!(
                "accounts older than {} ({}); younger ones are kept unless `rdplay run \
                 --renew-recent`",
                crate::playbook::duration::duration_words(d),
                crate::playbook::duration::format_duration(d)
            ),
        },
    );
    row("forks", p.connection.forks.to_string());
    row("state directory", p.state_dir.display().to_string());
    row(
        "inventory",
        match &p.inventory.postgres {
            Some(pg) => format!("{} (shared, site {})", pg.url, p.site),
            None => p.inventory.path.display().to_string(),
        },
    );
    let formats: Vec<String> = p
        .output
        .formats
        .iter()
        .map(|f| format!("{f:?}").to_lowercase())
        .collect();
    let batch = if p.output.batch { "; batch file" } else { "" };
    row(
        "output",
        format!("{} ({}{batch})", p.output.dir.display(), formats.join(", ")),
    );
    if let Some(l) = &p.output.labels {
        row(
            "labels",
            format!(
                "{} × {} on {}, {:.1} × {:.1} mm each, from label {}",
                l.grid.columns, l.grid.rows, l.grid.paper, l.grid.width, l.grid.height, l.start
            ),
        );
    }
    if p.output.slips.is_some() {
        row("slips", "slips.pdf, several accounts per page".into());
    }
    row("language", p.output.lang.clone());
    if let Some(print) = &p.output.print {
        let what: Vec<&str> = print.what.iter().map(|w| w.as_str()).collect();
        row(
            "print",
            format!(
                "{} to {} ({} cop{})",
                what.join(", "),
                print.printer,
                print.copies,
                if print.copies == 1 { "y" } else { "ies" }
            ),
        );
    }
    for (label, state) in templates {
        row(label, state.clone());
    }
    let mut text = format!("{name}: valid\n{out}");
    if let Err(e @ PlaybookError::PasswordFileMode { .. }) = p.exchange.password.check_permissions()
    {
        let _ = writeln!(text, "warning: {e}");
    }
    text
}

/// The playbook's JSON Schema.
pub fn schema(_args: SchemaArgs) -> Result<Output, CommandError> {
    Ok(Output::text(crate::playbook::schema::schema_json()))
}

/// Writes the starter files into DIR, refusing to overwrite any.
pub fn init(args: InitArgs) -> Result<Output, CommandError> {
    let written =
        crate::playbook::init::init(&args.dir, &args.lang).map_err(CommandError::message)?;
    let mut text = String::new();
    for path in &written {
        let _ = writeln!(text, "wrote {}", path.display());
    }
    let playbook = args.dir.join("renew.yml");
    let _ = writeln!(
        text,
        "next: edit {0}, then run `rdplay validate {0}`",
        playbook.display()
    );
    Ok(Output::text(text))
}

/// Whether a minijinja pattern uses the variable `name` (as a whole word inside `{{ }}`).
fn uses_variable(pattern: &str, name: &str) -> bool {
    pattern.split("{{").skip(1).any(|inside| {
        let expr = inside.split("}}").next().unwrap_or("");
        expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == name)
    })
}
