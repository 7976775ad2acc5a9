//! The `hookflash` command.
fn main() {}
