use clap::Parser;

/// mimalloc instead of glibc's malloc: page views allocate many small values from several
/// threads at once, where glibc's arenas spent a third of the time (docs/performance.md).
/// With its `override` feature it serves SQLite's C allocations too (a tenth of a list
/// view was glibc's malloc on SQLite's threads), and with `no_thp` it does not ask for
/// transparent huge pages, which made an idle server some 15 MiB larger in memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    relaydesk::cli::main(relaydesk::cli::Cli::parse())
}
