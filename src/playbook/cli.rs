//! `rdplay validate`, `rdplay schema`, `rdplay init`.
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The playbook to validate.
    pub playbook: PathBuf,
}
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to write the starter playbook and templates into.
    pub dir: PathBuf,
}
pub fn validate(_args: ValidateArgs) -> u8 {
    eprintln!("error: validate is not built yet");
    1
}
pub fn schema(_args: SchemaArgs) -> u8 {
    eprintln!("error: schema is not built yet");
    1
}
pub fn init(_args: InitArgs) -> u8 {
    eprintln!("error: init is not built yet");
    1
}
