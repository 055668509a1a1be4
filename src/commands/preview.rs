//! `rdplay preview`: render one template with sample or given data, to check a change.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{CommandError, Output};
use crate::render::{Format, Kind, RenderError};

/// Arguments of `rdplay preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The template to render, e.g. templates/user-sheet.typ.
    pub template: PathBuf,
    /// Sheet data as JSON [default: sample/<kind>-sheet.json beside the template, else the built-in sample].
    #[arg(long, value_name = "FILE.json")]
    pub data: Option<PathBuf>,
    /// Which sheet the template draws [default: from the template's file name, else from the data].
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// The language of the template's fixed words and dates (`lang/LANG.json` beside it, else built in).
    #[arg(long, default_value = "en")]
    pub lang: String,
    /// The file to write: OUT.pdf or OUT.png.
    #[arg(short, long, value_name = "OUT.pdf|OUT.png")]
    pub output: PathBuf,
}

/// Runs `rdplay preview`: the warnings and the file written, as notes.
pub fn preview(args: PreviewArgs) -> Result<Output, CommandError> {
    let mut notes = run(&args)?;
    notes.push(format!("wrote {}", args.output.display()));
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
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
}

fn run(args: &PreviewArgs) -> Result<Vec<String>, PreviewError> {
    let format = Format::from_path(&args.output)
        .ok_or_else(|| PreviewError::UnknownFormat(args.output.clone()))?;
    if !args.template.is_file() {
        return Err(RenderError::ReadTemplate {
            path: args.template.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        }
        .into());
    }
    let given = args.data.as_deref().map(read_data).transpose()?;
    let kind = args
        .kind
        .or_else(|| kind_from_name(&args.template))
        .or_else(|| given.as_ref().and_then(kind_from_data))
        .ok_or_else(|| PreviewError::UnknownKind(args.template.clone()))?;
    let data = match given {
        Some(data) => data,
        None => sample_data(&args.template, kind)?,
    };
    let (bytes, warnings) = crate::render::preview(&args.template, &data, format, &args.lang)?;
    crate::render::write_file(&args.output, &bytes)?;
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
fn sample_data(template: &Path, kind: Kind) -> Result<Value, RenderError> {
    let beside = template
        .parent()
        .unwrap_or(Path::new("."))
        .join("sample")
        .join(format!("{}.json", kind.stem()));
    if beside.is_file() {
        return read_data(&beside);
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
