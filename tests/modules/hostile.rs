//! A module that floods its log, run by the real `elector run`: the host's
//! log stays bounded and cannot be forged.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ROGUE_MODULE;
use crate::support::*;

#[test]
fn a_log_flood_is_paced_escaped_and_cut_to_length() {
    let (broker, _service) = broker_with_service();
    let mut child = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["run", ROGUE_MODULE, "--position", "fl", "--name", "flood"])
        .args(["--term", "2s", "--tick", "100ms", "--broker", &broker.url()])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("elector run starts");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    std::thread::sleep(Duration::from_secs(3));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert!(status.success(), "{status:?}");
    // 100,000 lines of 8 KiB a tick were offered: 800 MB a tick. Kept: 100
    // lines a second (bursts of 100), each cut to 4 KiB.
    assert!(log.len() < 3 << 20, "{} bytes of log in 3 s", log.len());
    assert!(log.contains("lines dropped: over the log rate"));
    assert!(
        !log.lines()
            .any(|line| line.starts_with("2026-12-01T00:00:00.000000Z")),
        "a module forged a host line"
    );
    assert!(
        log.contains("\\n2026-12-01T00:00:00.000000Z"),
        "the newline is escaped"
    );
}
