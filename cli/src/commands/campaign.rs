//! `elector campaign`: campaign, print the fencing token once elected, hold
//! the position (renewing it) until told to stop or until it is lost, and
//! optionally run a command while leading ([`super::job`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::job::{self, Job, JobSpec};
use super::printer::{Line, Printer};
use crate::exit::Exit;
use crate::shutdown::Shutdown;
use elector_host::bindings::{CandidateEvent, ElectionError, HumanText as _, Leader, Lease};
use elector_host::client::{AutomaticRenewal, ClientError, LeaderElectionClient, ResignOptions};
use elector_host::store::StateStoreBackend;

/// How long a resignation at shutdown may take. Short: whoever stops a
/// leader wants it gone, and a store that does not answer by then will not
/// answer soon; the hold then ends by itself at the end of its term.
pub const RESIGN_DEADLINE: Duration = Duration::from_secs(2);

/// What `elector campaign` was asked for.
pub struct CampaignRequest {
    pub position: String,
    pub name: String,
    /// Unique to the process unless the user pinned it.
    pub session_id: String,
    pub term: Duration,
    pub renew: bool,
    pub timeout: Option<Duration>,
    pub command: Option<JobSpec>,
    /// Follows the candidate into metrics and health, when served.
    pub monitor: Option<crate::ops::CandidateMonitor>,
}

/// A session id for one process: two processes campaigning under one name
/// get different lock values, so neither mistakes the other's hold (which
/// `NEX` would let it renew) for its own.
pub fn new_session_id() -> String {
    format!("{:012x}", rand::random::<u64>() >> 16)
}

/// Runs the campaign; returns the exit code ([`Exit`], or COMMAND's).
pub async fn campaign(
    store: Arc<dyn StateStoreBackend>,
    mut request: CampaignRequest,
    printer: Printer,
    shutdown: &Shutdown,
) -> anyhow::Result<i32> {
    let client = super::candidate(
        store,
        &request.position,
        &request.name,
        Some(request.session_id.clone()),
    )
    .await?;
    if let Some(monitor) = request.monitor.take() {
        monitor.watch(&client);
    }
    if request.renew {
        client
            .set_automatic_renewal(Some(AutomaticRenewal::every_default_period(request.term)))
            .await?;
    }
    let holder = Holder {
        client,
        me: Leader {
            name: request.name.clone(),
            session_id: Some(request.session_id.clone()),
        },
        position: &request.position,
        printer,
    };
    let events = holder.client.events();
    let stop = shutdown.requested();
    let won = tokio::select! {
        won = holder.client.campaign(request.term, request.timeout) => won,
        () = stop.cancelled() => {
            // Dropping the campaign cancelled it; the client gives back a
            // win from that very instant, and this resignation, queued
            // behind it, makes sure before the process goes.
            let _ = tokio::time::timeout(RESIGN_DEADLINE, holder.client.resign(ResignOptions::default())).await;
            holder.say(Line::new("not-elected").detail("stopped by a signal before being elected"));
            return Ok(Exit::Stopped.code());
        }
    };
    match won {
        Ok(_) => holder.hold(events, request.command, shutdown).await,
        Err(ClientError::Election(ElectionError::Timeout)) => {
            let waited = request.timeout.unwrap_or_default();
            holder.say(Line::new("not-elected").detail(format!(
                "not elected within {}",
                humantime::format_duration(waited)
            )));
            Ok(Exit::NotElected.code())
        }
        Err(error) => Err(error.into()),
    }
}

/// The elected candidate, and how it reports.
struct Holder<'a> {
    client: LeaderElectionClient,
    me: Leader,
    position: &'a str,
    printer: Printer,
}

/// Why holding ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Ctrl-C or SIGTERM: stop COMMAND, resign.
    Signal,
    /// Leadership is gone: stop COMMAND, exit with [`Exit::Lost`].
    Lost,
}

impl Holder<'_> {
    fn say(&self, line: Line<'_>) {
        self.printer
            .line(&line.position(self.position).leader(Some(&self.me)));
    }

    fn say_lease(&self, event: &str, lease: &Lease) {
        let mut line = Line::new(event).token(&lease.fencing_token);
        line.lease_until_ms = Some(wall_clock_ms(lease.valid_until));
        self.say(line);
    }

    /// Holds until a signal, the loss of the position, or COMMAND's exit.
    async fn hold(
        &self,
        mut events: mpsc::UnboundedReceiver<CandidateEvent>,
        command: Option<JobSpec>,
        shutdown: &Shutdown,
    ) -> anyhow::Result<i32> {
        let stop = shutdown.requested();
        let mut job: Option<Job> = None;
        let mut ending: Option<Ending> = None;
        loop {
            tokio::select! {
                () = stop.cancelled(), if ending.is_none() => {
                    ending = Some(Ending::Signal);
                    match job.as_mut() {
                        Some(job) => job.terminate(),
                        None => {
                            return Ok(if self.resign().await { Exit::Done } else { Exit::Error }.code());
                        }
                    }
                }
                status = exited(&mut job) => {
                    let status = status.context("waiting for the command")?;
                    let code = job::exit_code(status);
                    let mut line = Line::new("exited").detail(format!("{}: {status}", command_name(&command)));
                    line.exit_code = Some(code);
                    self.say(line);
                    if ending == Some(Ending::Lost) {
                        return Ok(Exit::Lost.code());
                    }
                    self.resign().await;
                    return Ok(code);
                }
                event = events.recv(), if ending != Some(Ending::Lost) => match event {
                    Some(CandidateEvent::Elected(lease)) => {
                        self.say_lease("elected", &lease);
                        if let (Some(spec), None) = (&command, &job) {
                            job = Some(self.start(spec, &lease).await?);
                        }
                    }
                    Some(CandidateEvent::Renewed(lease)) => {
                        // COMMAND's file first: it acts on the token.
                        if let Some(job) = &job {
                            job.renewed(&lease.fencing_token);
                        }
                        self.say_lease("renewed", &lease);
                    }
                    Some(CandidateEvent::LeaseShortened(lease)) => {
                        self.say_lease("lease-shortened", &lease);
                    }
                    Some(CandidateEvent::RenewalFailed(error)) => {
                        self.say(Line::new("renewal-failed").detail(error.text().to_string()));
                    }
                    Some(CandidateEvent::LeadershipLost(reason)) => {
                        self.say(Line::new("lost").detail(reason.text().to_string()));
                        ending = Some(Ending::Lost);
                        match job.as_mut() {
                            Some(job) => job.lost(),
                            None => return Ok(Exit::Lost.code()),
                        }
                    }
                    Some(CandidateEvent::CampaignResult(_) | CandidateEvent::LeadershipChanged(_)) => {}
                    None => anyhow::bail!("the candidate stopped"),
                },
            }
        }
    }

    /// Starts COMMAND; if it cannot start, gives the position back first.
    async fn start(&self, spec: &JobSpec, lease: &Lease) -> anyhow::Result<Job> {
        match Job::start(spec, self.position, &lease.fencing_token) {
            Ok(job) => Ok(job),
            Err(error) => {
                self.resign().await;
                Err(error)
            }
        }
    }

    /// Gives the position back within [`RESIGN_DEADLINE`]; says how it went.
    async fn resign(&self) -> bool {
        let deadline = humantime::format_duration(RESIGN_DEADLINE);
        let failure = match tokio::time::timeout(
            RESIGN_DEADLINE,
            self.client.resign(ResignOptions::default()),
        )
        .await
        {
            Ok(Ok(resigned)) => {
                let detail = if resigned.success {
                    "released"
                } else {
                    "no longer held"
                };
                self.say(Line::new("resigned").detail(detail));
                return true;
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {deadline}"),
        };
        self.printer.error(&format!(
            "could not resign {}: {failure}; the hold ends by itself at the end of its term",
            self.position
        ));
        false
    }
}

/// COMMAND's exit, or never when there is none.
async fn exited(job: &mut Option<Job>) -> std::io::Result<std::process::ExitStatus> {
    match job {
        Some(job) => job.exited().await,
        None => std::future::pending().await,
    }
}

fn command_name(command: &Option<JobSpec>) -> &str {
    command
        .as_ref()
        .and_then(|spec| spec.argv.first())
        .map_or("command", String::as_str)
}

/// A guest instant (the shared monotonic clock) as Unix milliseconds.
fn wall_clock_ms(instant_ns: u64) -> u64 {
    let left = elector_host::clock::to_instant(instant_ns)
        .saturating_duration_since(std::time::Instant::now());
    let at = SystemTime::now() + left;
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
