//! Builds, serves and checks the static site.
fn main() {}
