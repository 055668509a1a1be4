//! `rdplay init DIR`: a commented starter playbook and its schema, never over existing files.

use std::path::{Path, PathBuf};

/// The starter playbook `rdplay init` writes as `renew.yml`.
pub const STARTER_PLAYBOOK: &str = include_str!("starter.yml");

/// The starter playbooks by language, comments included: `rdplay init --lang CODE`.
pub const STARTERS: [(&str, &str); 2] = [
    ("en", STARTER_PLAYBOOK),
    ("fr", include_str!("starter.fr.yml")),
];

/// The files `rdplay init` writes: (name inside DIR, content).
///
/// Other areas add theirs here (the default sheet templates, for instance), so that one
/// `init` writes them all or none.
pub fn starter_files(lang: &str) -> Vec<(&'static str, String)> {
    let starter = STARTERS
        .iter()
        .find(|(code, _)| *code == lang)
        .map_or(STARTER_PLAYBOOK, |(_, text)| *text);
    let mut files = vec![
        ("renew.yml", starter.to_string()),
        ("playbook.schema.json", super::schema::schema_json()),
    ];
    // The built-in sheet templates, their sample data and their guide, for editing.
    files.extend(
        crate::render::default_template_files()
            .iter()
            .map(|(name, text)| (*name, text.to_string())),
    );
    files
}

/// Why `rdplay init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Some files are already there.
    #[error("{} already exist{}: {}; rdplay init never overwrites files, choose an empty directory",
        if .0.len() == 1 { "a file would be overwritten, it" } else { "files would be overwritten, they" },
        if .0.len() == 1 { "s" } else { "" },
        .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Exists(Vec<PathBuf>),
    /// The directory or a file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// What.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes [`starter_files`] into `dir` (created if needed), or nothing if any already exists.
/// Returns the paths written.
/// `lang` picks the starter playbook's language (its comments and `output.lang`), one of
/// [`STARTERS`].
pub fn init(dir: &Path, lang: &str) -> Result<Vec<PathBuf>, InitError> {
    let files = starter_files(lang);
    let existing: Vec<PathBuf> = files
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| InitError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        // create_new: a file that appeared since the check above is not overwritten either.
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, content.as_bytes()));
        result.map_err(|source| InitError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
