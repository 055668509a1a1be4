//! `rdplay inventory list|show|export`.
#[derive(Debug, clap::Subcommand)]
pub enum InventoryCommand {
    /// List PCs and their managed accounts.
    List,
}
pub fn run(_cmd: InventoryCommand) -> u8 {
    eprintln!("error: inventory is not built yet");
    1
}
