//! The commands' exit codes, in one place, so `elector campaign --help`,
//! the README and the code cannot disagree about what a number means:
//! scripts and supervisors branch on them.

/// What an `elector` process's exit code says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `campaign`, stopped by Ctrl-C or SIGTERM and resigned.
    Done,
    /// Something failed: the store, the connection, or a resignation that
    /// did not finish in time.
    Error,
    /// The arguments or the AIO environment are wrong; nothing was tried.
    Usage,
    /// Elected, then leadership was lost.
    Lost,
    /// Not elected within `--timeout`.
    NotElected,
    /// Stopped by Ctrl-C or SIGTERM before being elected.
    Stopped,
}

impl Exit {
    pub const ALL: [Exit; 6] = [
        Exit::Done,
        Exit::Error,
        Exit::Usage,
        Exit::Lost,
        Exit::NotElected,
        Exit::Stopped,
    ];

    pub const fn code(self) -> i32 {
        match self {
            Exit::Done => 0,
            Exit::Error => 1,
            Exit::Usage => 2,
            Exit::Lost => 3,
            Exit::NotElected => 4,
            Exit::Stopped => 5,
        }
    }

    /// What the code means for `elector campaign`.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Done => "stopped by Ctrl-C or SIGTERM, and resigned",
            Exit::Error => {
                "an error: the store failed or did not answer (also when resigning at shutdown; \
                 the hold then ends by itself at the end of its term)"
            }
            Exit::Usage => "wrong arguments, or no state store given: nothing was tried",
            Exit::Lost => {
                "elected, then leadership was lost (lease expired, taken over, or released by \
                 `elector resign`)"
            }
            Exit::NotElected => "not elected within --timeout",
            Exit::Stopped => "stopped by Ctrl-C or SIGTERM before being elected",
        }
    }
}

/// The exit code after a second Ctrl-C or SIGTERM, which stops a command
/// at once: 128 + the signal's number, as a shell reports a process that
/// signal ended (130 for SIGINT, 143 for SIGTERM).
pub const fn forced(signal: i32) -> i32 {
    128 + signal
}

/// The exit-code table `elector campaign --help` ends with.
pub fn campaign_help() -> String {
    let mut text = String::from("Exit codes:\n");
    for exit in Exit::ALL {
        text.push_str(&format!("  {:<7}{}\n", exit.code(), exit.meaning()));
    }
    text.push_str(
        "  128+N  a second Ctrl-C (130) or SIGTERM (143): stopped at once, without resigning\n\
         With -- COMMAND: the command's exit code (128+N if signal N ended it), or 3 if\n\
         leadership was lost before it exited.",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_each_is_explained() {
        let mut codes: Vec<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.dedup();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5]);
        let help = campaign_help();
        for exit in Exit::ALL {
            assert!(help.contains(&format!("  {:<7}", exit.code())), "{help}");
        }
        assert_eq!(forced(2), 130);
    }
}
