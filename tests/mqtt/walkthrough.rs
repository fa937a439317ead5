//! The quick start a new user follows (README, "Quick start with mosquitto"), step
//! by step, in text mode, checking every line each command prints.

use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::support::*;

/// Runs `elector ARGS` to completion; its exit status and stdout lines.
fn run_text(args: &[&str]) -> (ExitStatus, Vec<String>) {
    let output = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(args)
        .output()
        .expect("elector runs");
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (output.status, lines)
}

/// `NAME:SESSION`, the session being 12 hex digits; returns it whole.
fn lock_value<'a>(text: &'a str, name: &str) -> &'a str {
    let session = text
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{text:?} is not {name}:SESSION"));
    assert!(
        session.len() == 12 && session.bytes().all(|b| b.is_ascii_hexdigit()),
        "session id {session:?}"
    );
    text
}

/// `PREFIX=MS:COUNTER:elector-statestore`, the AIO text of a version.
fn version<'a>(field: &'a str, prefix: &str) -> &'a str {
    let text = field
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('='))
        .unwrap_or_else(|| panic!("{field:?} is not {prefix}=VERSION"));
    let parts: Vec<&str> = text.split(':').collect();
    assert!(
        parts.len() == 3
            && parts[0].len() == 15
            && parts[1].len() == 5
            && parts[..2]
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && parts[2] == "elector-statestore",
        "{text:?} is not an HLC"
    );
    text
}

/// The next line of a long-running command other than a renewal (whose
/// form is checked on the way).
fn next_change(process: &Elector) -> String {
    loop {
        let line = process
            .next_line(PATIENCE)
            .unwrap_or_else(|| panic!("{} printed nothing", process.label));
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] != "renewed" {
            return line;
        }
        assert_eq!(words.len(), 3, "{line}");
        version(words[2], "fencing-token");
    }
}

/// `elected NAME:SESSION fencing-token=T`: the lock value and the token.
fn elected(line: &str, name: &str) -> (String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words.len() == 3 && words[0] == "elected", "{line}");
    (
        lock_value(words[1], name).to_owned(),
        version(words[2], "fencing-token").to_owned(),
    )
}

#[test]
fn the_quick_start_reads_as_documented() {
    // mosquitto, and the state store on it.
    let broker = Broker::start();
    let url = broker.url();
    let _service = Service::start(&broker);

    // Two candidates: a is elected, b waits.
    let mut a = Elector::spawn("a", &["campaign", "job", "--name", "a", "--broker", &url]);
    let (a_lock, a_token) = elected(&next_change(&a), "a");
    let mut b = Elector::spawn("b", &["campaign", "job", "--name", "b", "--broker", &url]);
    assert_eq!(
        b.next_line(Duration::from_secs(1)),
        None,
        "b waits silently"
    );

    // Someone watching sees a lead.
    let mut observer = Elector::spawn("observe", &["observe", "job", "--broker", &url]);
    assert_eq!(next_change(&observer), format!("leader {a_lock}"));

    // An operator releases a's hold by name, from another process.
    let (status, lines) = run_text(&["resign", "job", "--name", "a", "--broker", &url]);
    assert!(status.success());
    assert_eq!(lines, [format!("resigned {a_lock} (released)")]);

    // a says it lost the position and exits with 3; b is elected with a
    // newer token; the observer saw the position freed, then taken.
    assert_eq!(next_change(&a), format!("lost {a_lock} (resigned)"));
    assert_eq!(a.wait().code(), Some(3));
    let (b_lock, b_token) = elected(&next_change(&b), "b");
    assert!(b_token > a_token, "{b_token} after {a_token}");
    let freed = next_change(&observer);
    let words: Vec<&str> = freed.split_whitespace().collect();
    assert!(words.len() == 2 && words[0] == "no-leader", "{freed}");
    version(words[1], "version");
    let taken = next_change(&observer);
    let words: Vec<&str> = taken.split_whitespace().collect();
    assert!(words.len() == 3 && words[0] == "leader", "{taken}");
    assert_eq!(words[1], b_lock);
    version(words[2], "version");

    // Who leads now.
    let (status, lines) = run_text(&["leader", "job", "--broker", &url]);
    assert!(status.success());
    assert_eq!(lines, [format!("leader {b_lock}")]);

    // Ctrl-C: b resigns and exits with 0; the observer sees it; Ctrl-C
    // ends the observer too.
    b.signal("INT");
    assert_eq!(next_change(&b), format!("resigned {b_lock} (released)"));
    assert_eq!(b.wait().code(), Some(0));
    let freed = next_change(&observer);
    assert!(freed.starts_with("no-leader version="), "{freed}");
    observer.signal("INT");
    assert_eq!(observer.wait().code(), Some(0));
}
