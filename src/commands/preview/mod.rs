//! `rdplay preview`: render one template with sample or given data, to check a change; with
//! `--serve`, a live page of every sheet that redraws itself when a template is saved.

mod live;
mod sample;
mod serve;

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{CommandError, Output};
use crate::playbook::{Playbook, PlaybookError};
use crate::render::{Format, Kind, RenderError};

pub use sample::Sample;
pub use serve::{Server, serve};

/// Arguments of `rdplay preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The template to render, e.g. templates/user-sheet.typ; with --serve, any number of them
    /// [default with --playbook: the site's templates].
    #[arg(value_name = "TEMPLATE")]
    pub templates: Vec<PathBuf>,
    /// The site's playbook: its templates, and sample data from its naming pattern, password
    /// policy, site code, label sheet and `output.lang`. Reads no password and no inventory.
    #[arg(long, value_name = "PLAYBOOK.yml")]
    pub playbook: Option<PathBuf>,
    /// Sheet data as JSON [default: sample/<kind>-sheet.json beside the template, else the built-in sample].
    #[arg(long, value_name = "FILE.json", conflicts_with = "serve")]
    pub data: Option<PathBuf>,
    /// Which sheet the template draws [default: from the template's file name, else from the data;
    /// with --playbook and no TEMPLATE: user].
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// The language of the template's fixed words and dates (`lang/LANG.json` beside it, else built
    /// in) [default: the playbook's output.lang, else en].
    #[arg(long)]
    pub lang: Option<String>,
    /// The file to write: OUT.pdf or OUT.png.
    #[arg(
        short,
        long,
        value_name = "OUT.pdf|OUT.png",
        required_unless_present = "serve",
        conflicts_with = "serve"
    )]
    pub output: Option<PathBuf>,
    /// Show the sheets on a live web page instead (on 127.0.0.1, behind a random token): they are
    /// redrawn within half a second of a save, errors shown in words, sample values editable.
    #[arg(long)]
    pub serve: bool,
    /// With --serve: print the page's address without opening a browser.
    #[arg(long, requires = "serve")]
    pub no_open: bool,
}

/// Runs `rdplay preview`: the warnings and the file written, as notes.
pub fn preview(args: PreviewArgs) -> Result<Output, CommandError> {
    let output = args
        .output
        .clone()
        .ok_or_else(|| CommandError::message("name the file to write with -o OUT.pdf"))?;
    let mut notes = run(&args, &output)?;
    notes.push(format!("wrote {}", output.display()));
    Ok(Output {
        notes,
        ..Output::text(String::new())
    })
}

/// Why `rdplay preview` could not run.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The output file's extension names no format.
    #[error("cannot tell the format of {}: name the output file OUT.pdf or OUT.png", .0.display())]
    UnknownFormat(PathBuf),
    /// Neither the flag, the file name nor the data say which sheet this is.
    #[error(
        "cannot tell whether {} is a user sheet or a PC sheet: pass --kind user or --kind pc",
        .0.display()
    )]
    UnknownKind(PathBuf),
    /// Nothing names a template.
    #[error(
        "name a template (e.g. templates/user-sheet.typ) or the site's playbook with --playbook"
    )]
    NoTemplate,
    /// The file form draws one sheet.
    #[error("-o writes one sheet: name one template (--serve shows several)")]
    SeveralTemplates,
    /// The playbook could not be loaded.
    #[error("{0}")]
    Playbook(#[from] PlaybookError),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The page's address could not be opened.
    #[error("cannot start the preview page on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    /// A template's directory cannot be watched.
    #[error("cannot watch {} for changes: {reason}", path.display())]
    Watch {
        /// The template or directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A sheet a preview draws: which kind, from which template (`None`: the built-in one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// What the template draws.
    pub kind: Kind,
    /// The template file; `None` for the template built into rdplay.
    pub template: Option<PathBuf>,
}

impl Sheet {
    /// The data to draw it with: its sample file (beside the template, else built in) with the
    /// `sample` values in it.
    pub fn data(&self, sample: &Sample) -> Result<Value, RenderError> {
        Ok(sample.apply(self.kind, sample_data(self.template.as_deref(), self.kind)?))
    }
}

/// What to draw, and with which defaults: the sheets named (by their templates, else the
/// playbook's) and the sample values (the playbook's, with `--lang` over them).
fn sheets(args: &PreviewArgs, given: Option<&Value>) -> Result<(Vec<Sheet>, Sample), PreviewError> {
    let playbook = args.playbook.as_deref().map(Playbook::load).transpose()?;
    let mut defaults = playbook
        .as_ref()
        .map(Sample::from_playbook)
        .unwrap_or_default();
    if let Some(lang) = &args.lang {
        defaults.lang = Some(lang.clone());
    }
    let mut sheets = Vec::new();
    for template in &args.templates {
        if !template.is_file() {
            return Err(RenderError::ReadTemplate {
                path: template.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            }
            .into());
        }
        let kind = args
            .kind
            .or_else(|| kind_from_name(template))
            .or_else(|| given.and_then(kind_from_data))
            .ok_or_else(|| PreviewError::UnknownKind(template.clone()))?;
        sheets.push(Sheet {
            kind,
            template: Some(template.clone()),
        });
    }
    if sheets.is_empty() {
        let Some(pb) = &playbook else {
            return Err(PreviewError::NoTemplate);
        };
        let output = &pb.output;
        let site = [
            (Kind::User, output.user_sheet.clone()),
            (Kind::Pc, output.pc_sheet.clone()),
            (
                Kind::Labels,
                output.labels.as_ref().and_then(|l| l.template.clone()),
            ),
            (
                Kind::Slips,
                output.slips.as_ref().and_then(|s| s.template.clone()),
            ),
        ];
        sheets.extend(
            site.into_iter()
                .filter(|(kind, _)| args.serve || *kind == args.kind.unwrap_or(Kind::User))
                .map(|(kind, template)| Sheet { kind, template }),
        );
    }
    Ok((sheets, defaults))
}

fn run(args: &PreviewArgs, output: &Path) -> Result<Vec<String>, PreviewError> {
    let format = Format::from_path(output)
        .ok_or_else(|| PreviewError::UnknownFormat(output.to_path_buf()))?;
    if args.templates.len() > 1 {
        return Err(PreviewError::SeveralTemplates);
    }
    let given = args.data.as_deref().map(read_data).transpose()?;
    let (sheets, sample) = sheets(args, given.as_ref())?;
    let [sheet] = &sheets[..] else {
        return Err(PreviewError::SeveralTemplates);
    };
    let data = match given {
        Some(data) => data,
        None => sheet.data(&sample)?,
    };
    let (bytes, warnings) = crate::render::preview(
        sheet.kind,
        sheet.template.as_deref(),
        &data,
        format,
        sample.lang(),
    )?;
    crate::render::write_file(output, &bytes)?;
    Ok(warnings)
}

/// `user` or `pc` from a file name such as `user-sheet.typ` or `my-pc-label.typ`; `labels` and
/// `slips` (`pc-labels.typ`, `user-slips.typ`) first.
fn kind_from_name(template: &Path) -> Option<Kind> {
    let name = template.file_stem()?.to_str()?.to_ascii_lowercase();
    let words: Vec<&str> = name.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    if words.contains(&"labels") {
        return Some(Kind::Labels);
    }
    if words.contains(&"slips") {
        return Some(Kind::Slips);
    }
    match (words.contains(&"user"), words.contains(&"pc")) {
        (true, false) => Some(Kind::User),
        (false, true) => Some(Kind::Pc),
        _ => None,
    }
}

/// A user sheet's data has a password; a PC sheet's has a QR code; labels and slips have lists.
fn kind_from_data(data: &Value) -> Option<Kind> {
    if data.get("labels").is_some() {
        return Some(Kind::Labels);
    }
    if data.get("slips").is_some() {
        return Some(Kind::Slips);
    }
    match (data.get("password").is_some(), data.get("qr").is_some()) {
        (true, false) => Some(Kind::User),
        (false, true) => Some(Kind::Pc),
        _ => None,
    }
}

/// `sample/<kind>-sheet.json` beside the template when it exists, else the built-in sample.
fn sample_data(template: Option<&Path>, kind: Kind) -> Result<Value, RenderError> {
    if let Some(template) = template {
        let beside = template
            .parent()
            .unwrap_or(Path::new("."))
            .join("sample")
            .join(format!("{}.json", kind.stem()));
        if beside.is_file() {
            return read_data(&beside);
        }
    }
    parse_data(
        Path::new(&format!("<built-in>/sample/{}.json", kind.stem())),
        kind.builtin_sample(),
    )
}

fn read_data(path: &Path) -> Result<Value, RenderError> {
    let text = std::fs::read_to_string(path).map_err(|source| RenderError::ReadData {
        path: path.to_path_buf(),
        source,
    })?;
    parse_data(path, &text)
}

fn parse_data(path: &Path, text: &str) -> Result<Value, RenderError> {
    let bad = |reason: String| RenderError::BadData {
        path: path.to_path_buf(),
        reason,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if !value.is_object() {
        return Err(bad(
            "the top level must be an object: { \"username\": ..., ... }".into(),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_file_name_or_data() {
        assert_eq!(
            kind_from_name(Path::new("t/user-sheet.typ")),
            Some(Kind::User)
        );
        assert_eq!(kind_from_name(Path::new("PC_label.typ")), Some(Kind::Pc));
        assert_eq!(kind_from_name(Path::new("computer.typ")), None);
        assert_eq!(
            kind_from_name(Path::new("pc-labels.typ")),
            Some(Kind::Labels)
        );
        assert_eq!(
            kind_from_name(Path::new("user-slips.typ")),
            Some(Kind::Slips)
        );
        assert_eq!(kind_from_name(Path::new("user-pc.typ")), None);
        assert_eq!(
            kind_from_data(&serde_json::json!({"password": "x"})),
            Some(Kind::User)
        );
        assert_eq!(
            kind_from_data(&serde_json::json!({"qr": "x"})),
            Some(Kind::Pc)
        );
        assert_eq!(kind_from_data(&serde_json::json!({})), None);
    }

    #[test]
    fn data_must_be_an_object() {
        let err = parse_data(Path::new("d.json"), "[1]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("d.json") && err.contains("object"), "{err}");
        let err = parse_data(Path::new("d.json"), "{")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
