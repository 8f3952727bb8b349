//! The `legion` command line.
fn main() {}
