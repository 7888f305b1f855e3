use clap::Parser;

fn main() -> std::process::ExitCode {
    relaydesk::cli::main(relaydesk::cli::Cli::parse())
}
