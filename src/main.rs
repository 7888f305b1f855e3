use clap::Parser;

/// mimalloc instead of glibc's malloc: page views allocate many small values from several
/// threads at once, where glibc's arenas spent a third of the time (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    relaydesk::cli::main(relaydesk::cli::Cli::parse())
}
