//! `rdplay preview`.
use std::path::PathBuf;
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The template to render.
    pub template: PathBuf,
}
pub fn preview(_args: PreviewArgs) -> u8 {
    eprintln!("error: preview is not built yet");
    1
}
