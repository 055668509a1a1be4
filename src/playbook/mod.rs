//! The playbook: the YAML model, its validation and JSON Schema.
pub mod cli;
