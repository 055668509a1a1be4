fn main() -> std::process::ExitCode {
    rdplay::cli::main()
}
