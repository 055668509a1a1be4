fn main() -> std::process::ExitCode {
    rdplay::cli::tune_allocator();
    rdplay::cli::raise_open_files_limit();
    rdplay::cli::main()
}
