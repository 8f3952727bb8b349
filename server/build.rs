//! Links the `legion` binary as a position-dependent executable on x86-64 Linux (glibc).
//!
//! A position-independent `legion` carries about 62,000 relative relocations that the dynamic
//! loader applies at every start, writing to (and so copying) some 260 pages of the binary: about
//! 0.9 ms of CPU, a third of a one-state `legion run` (BENCHMARKS.md, "Start-up of `legion run`").
//! Linked at a fixed address, the binary has none; shared libraries, heap and stacks are still
//! placed at random.

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("CARGO_CFG_TARGET_ARCH") == "x86_64"
    {
        println!("cargo:rustc-link-arg-bin=legion=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
