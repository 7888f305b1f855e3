// `sqlx::migrate!` embeds migrations/ at compile time but cannot tell cargo to watch the
// folder on stable Rust, so a new migration file would not be picked up by an incremental
// build: watch it here.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
