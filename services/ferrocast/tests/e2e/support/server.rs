//! `ferrocast dev` for these tests: the testkit's server, started with this package's binary,
//! its data under the target's scratch directory.

use ferrocast_testkit::DevCommand;
pub use ferrocast_testkit::DevServer;

/// How these tests start `ferrocast dev`: `dev().start()`, `dev().start_with(&[…])`.
pub fn dev() -> DevCommand {
    DevCommand::new(env!("CARGO_BIN_EXE_ferrocast"), env!("CARGO_TARGET_TMPDIR"))
}

/// Segment objects the server wrote to disk.
pub fn segment_files(server: &DevServer) -> Vec<std::path::PathBuf> {
    super::files_under(&server.segments_dir())
}
