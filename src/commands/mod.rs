//! One module per subcommand: arguments in, a value or a typed error out. Nothing here prints or
//! decides an exit code; the `cli` module does both.

pub mod check;
pub mod inventory;
pub mod playbook;
pub mod preview;
pub mod print;
pub mod reprint;
pub mod run;
pub mod scan;

/// What a command has to say: text for standard output and notes for standard error.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: String,
    pub notes: Vec<String>,
}

impl Output {
    /// Text for standard output, no notes.
    pub fn text(stdout: impl Into<String>) -> Output {
        Output {
            stdout: stdout.into(),
            notes: Vec::new(),
        }
    }
}

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The playbook is not valid (its message shows where, with the source line).
    #[error("{0}")]
    Playbook(#[from] crate::playbook::PlaybookError),
    /// Several problems, each on its own line.
    #[error("{}", .0.iter().map(|p| format!("error: {p}")).collect::<Vec<_>>().join("\n"))]
    Problems(Vec<String>),
    /// `rdplay preview` could not render.
    #[error("{0}")]
    Preview(#[from] preview::PreviewError),
    /// A run (or `--check`, or a scan) could not go on.
    #[error("error: {0}")]
    Run(#[from] run::RunError),
    /// The inventory could not be read or written.
    #[error("error: {0}")]
    Inventory(#[from] crate::inventory::InventoryError),
    /// An escrowed password could not be encrypted or read back.
    #[error("error: {0}")]
    Escrow(#[from] crate::escrow::EscrowError),
    /// A sheet could not be made.
    #[error("error: {0}")]
    Render(#[from] crate::render::RenderError),
    /// Any other reason, said in words.
    #[error("error: {0}")]
    Message(String),
}

impl CommandError {
    /// Any error, as words.
    pub fn message(e: impl std::fmt::Display) -> CommandError {
        CommandError::Message(e.to_string())
    }
}

/// Loads the playbook and starts the async runtime.
pub fn load_with_runtime(
    path: &std::path::Path,
) -> Result<(crate::playbook::Playbook, tokio::runtime::Runtime), CommandError> {
    let pb = crate::playbook::Playbook::load(path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Message(format!("could not start the async runtime: {e}")))?;
    Ok((pb, runtime))
}
