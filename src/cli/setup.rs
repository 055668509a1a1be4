//! Logging set-up: stderr, the run's log file and its JSON twin.

use std::path::Path;

/// Sets up tracing: human lines on stderr at the chosen level and, when given, the run's log file and
/// the same log as JSON (`rdplay.jsonl` beside it, one event per line, for scripts), both 0600 at the same
/// level. Secrets never reach any of them: they are a type that prints as `********`.
pub fn init_logging(
    args: &super::LogArgs,
    playbook_level: crate::playbook::LogLevel,
    file: Option<&Path>,
) {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    let level = args.level(Some(playbook_level)).as_tracing();
    // Colours only on a terminal: piped or redirected, stderr carries no escape sequences.
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level));
    let open = |path: &Path| {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .ok()
    };
    let file_layer = file.and_then(open).map(|f| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level))
    });
    let json_layer = file
        .and_then(|path| open(&path.with_file_name("rdplay.jsonl")))
        .map(|f| {
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::sync::Mutex::new(f))
                .with_filter(tracing_subscriber::filter::LevelFilter::from_level(level))
        });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .with(json_layer)
        .try_init();
}
