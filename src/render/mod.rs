//! Sheets: typst templates rendered in-process to PDF and PNG.
pub mod cli;
