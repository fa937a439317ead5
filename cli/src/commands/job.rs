//! `campaign -- COMMAND`: the command run while leading, the way
//! `consul lock` and `etcdctl elect` run one.
//!
//! COMMAND runs in a process group of its own, so elector can signal
//! everything it started (a shell and its children) and nothing else: a
//! Ctrl-C at the terminal reaches elector only, which then gives COMMAND
//! exactly one SIGTERM. On Linux COMMAND is also killed if elector dies
//! without cleaning up (`kill -9`, out of memory): it must not go on acting
//! as leader with nobody renewing its lease.

use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

use super::token_file::TokenFile;
use elector_host::bindings::Hlc;

/// What to run, and how long it may take to stop.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// The program and its arguments; never empty.
    pub argv: Vec<String>,
    /// The time between SIGTERM and SIGKILL.
    pub kill_after: Duration,
}

/// A running COMMAND. Dropping it kills whatever is left of its process
/// group.
pub struct Job {
    child: tokio::process::Child,
    /// The process group: the child's pid.
    group: libc::pid_t,
    token: TokenFile,
    kill_after: Duration,
    /// When SIGKILL follows the SIGTERM already sent.
    kill_at: Option<Instant>,
    killed: bool,
    /// Reaped: the group id may now be reused, so it is signalled no more.
    reaped: bool,
}

impl Job {
    /// Starts COMMAND with the first fencing token in its file.
    pub fn start(spec: &JobSpec, position: &str, token: &Hlc) -> anyhow::Result<Job> {
        let program = spec.argv.first().context("no command to run")?;
        let token = TokenFile::create(token).context("creating the fencing-token file")?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(&spec.argv[1..])
            .env("ELECTOR_POSITION", position)
            .env("ELECTOR_FENCING_TOKEN_FILE", token.path())
            .process_group(0);
        let parent = std::process::id();
        // SAFETY: the closure runs in the child between fork and exec, and
        // calls only async-signal-safe functions, allocating nothing.
        unsafe {
            command.pre_exec(move || die_with_parent(parent));
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let pid = child.id().context("the command exited at once")?;
        Ok(Job {
            child,
            group: libc::pid_t::try_from(pid).context("a process id out of range")?,
            token,
            kill_after: spec.kill_after,
            kill_at: None,
            killed: false,
            reaped: false,
        })
    }

    /// A renewal: the file gets the new token.
    pub fn renewed(&self, token: &Hlc) {
        if let Err(error) = self.token.write(token) {
            tracing::warn!(%error, path = %self.token.path().display(),
                "could not update the fencing-token file; it holds the previous token");
        }
    }

    /// Leadership is gone: no token to use, and COMMAND must stop.
    pub fn lost(&mut self) {
        if let Err(error) = self.token.remove() {
            tracing::warn!(%error, "could not remove the fencing-token file");
        }
        self.terminate();
    }

    /// Sends SIGTERM (once) and arms SIGKILL `kill_after` later.
    pub fn terminate(&mut self) {
        if self.kill_at.is_none() {
            self.signal(libc::SIGTERM);
            self.kill_at = Some(Instant::now() + self.kill_after);
        }
    }

    /// Waits for COMMAND to exit, killing its group when the time after
    /// SIGTERM runs out; then kills whatever COMMAND left running in its
    /// group, which must not act for a leader that is about to resign.
    /// Cancel-safe.
    pub async fn exited(&mut self) -> io::Result<ExitStatus> {
        if self.reaped {
            return Err(io::Error::other("the command was already waited for"));
        }
        loop {
            let kill_at = self.kill_at.filter(|_| !self.killed);
            let deadline = async move {
                match kill_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = self.child.wait() => {
                    // Microseconds after the reaping: too soon for the group
                    // id to have been given to anyone else.
                    self.signal(libc::SIGKILL);
                    self.reaped = true;
                    return status;
                }
                () = deadline => {
                    tracing::warn!(after = %humantime::format_duration(self.kill_after), "the command did not stop after SIGTERM; killing it");
                    self.signal(libc::SIGKILL);
                    self.killed = true;
                }
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) touches no memory; a negative pid names the group.
        if unsafe { libc::kill(-self.group, signal) } != 0 {
            let error = io::Error::last_os_error();
            // ESRCH: everything in the group has exited already.
            if error.raw_os_error() != Some(libc::ESRCH) {
                tracing::warn!(%error, signal, "could not signal the command");
            }
        }
    }
}

impl Drop for Job {
    /// A COMMAND still running (elector is stopping on an error or a second
    /// signal) is killed with its group: nothing may act for this leader
    /// once elector stops holding the position.
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(libc::SIGKILL);
        }
    }
}

/// The exit code a shell would report for `status`: the code, or 128 + the
/// signal that ended the process.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| crate::exit::forced(status.signal().unwrap_or(0)))
}

/// In the child before exec: die with elector (Linux), and refuse to start
/// if elector is already gone.
fn die_with_parent(parent: u32) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(2) with these arguments only sets a process flag.
        // The signal comes when the thread that forked exits: a tokio worker
        // thread, which lives as long as the process.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: getppid(2) cannot fail and touches no memory.
    let now = unsafe { libc::getppid() };
    if u32::try_from(now).ok() != Some(parent) {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}
