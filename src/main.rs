fn main() -> std::process::ExitCode {
    rdplay::cli::tune_allocator();
    rdplay::cli::main()
}
