//! What the servers share: spawning a test binary with a helpful panic when it is missing,
//! waiting until it is ready, retrying on another port, and killing it by PID.

use std::io::ErrorKind;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many free ports a server is tried on before giving up.
const PORT_ATTEMPTS: usize = 5;

/// How long a server may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `command` with its output discarded. `install` names how to get the program.
pub(crate) fn spawn(command: &mut Command, install: &str) -> Child {
    let program = command.get_program().to_string_lossy().into_owned();
    match command.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(child) => child,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            panic!("{program} not found: run {install}")
        }
        Err(error) => panic!("cannot start {program}: {error}"),
    }
}

/// Polls `ready` until it holds (`true`), `child` exits or [`READY_TIMEOUT`] passes
/// (`false`).
pub(crate) fn wait_ready(child: &mut Child, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if child.try_wait().expect("poll the child process").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Calls `start_on` with fresh free ports until one comes up.
pub(crate) fn on_a_free_port<T>(program: &str, mut start_on: impl FnMut(u16) -> Option<T>) -> T {
    for _ in 0..PORT_ATTEMPTS {
        if let Some(server) = start_on(crate::free_port()) {
            return server;
        }
    }
    panic!("{program} did not come up on any of {PORT_ATTEMPTS} ports");
}

/// Kills `child` (by PID) and reaps it; harmless when it has already exited.
pub(crate) fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
