//! `elector demo`: sandboxed candidates on one position, on the embedded
//! store, through a scripted timeline that shows every way leadership moves:
//! a first election, automatic renewal holding a leader, failover after a
//! resignation, and failover after a leader stops renewing (as if it hung).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use elector_host::bindings::{CandidateEvent, Hlc, HumanText as _};
use elector_host::client::{AutomaticRenewal, ClientOptions, LeaderElectionClient, ResignOptions};
use elector_host::runtime::{ElectorRuntime, RuntimeConfig};
use elector_host::store::StateStoreBackend;

/// What `elector demo` was asked for.
#[derive(Clone)]
pub struct DemoOptions {
    /// The store the candidates share, and how to name it.
    pub store: Arc<dyn StateStoreBackend>,
    pub store_name: String,
    pub candidates: usize,
    pub term: Duration,
    pub json: bool,
    pub position: String,
}

/// One line of the timeline.
#[derive(Debug, Serialize)]
struct Line {
    /// Milliseconds since the demo started.
    t_ms: f64,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fencing_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Prints the timeline as text or JSON lines.
struct Timeline {
    started: Instant,
    json: bool,
}

impl Timeline {
    fn print(
        &self,
        event: &'static str,
        candidate: Option<&str>,
        token: Option<&Hlc>,
        detail: Option<String>,
    ) {
        let line = Line {
            t_ms: (self.started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            event,
            candidate: candidate.map(str::to_owned),
            fencing_token: token.map(|token| token.text().to_string()),
            detail,
        };
        if self.json {
            crate::output::line(&serde_json::to_string(&line).expect("timeline lines serialize"));
            return;
        }
        let mut text = format!("[{:>8.1} ms] {:<14}", line.t_ms, line.event);
        if let Some(candidate) = &line.candidate {
            text.push_str(&format!(" {candidate:<4}"));
        }
        if let Some(token) = &line.fencing_token {
            text.push_str(&format!(" token {token}"));
        }
        if let Some(detail) = &line.detail {
            text.push_str(&format!(" {detail}"));
        }
        crate::output::line(&text);
    }

    fn say(&self, detail: String) {
        self.print("step", None, None, Some(detail));
    }
}

/// Who leads, as the candidates' own events report it.
struct Candidate {
    name: String,
    client: LeaderElectionClient,
}

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    if options.candidates < 2 {
        bail!("the demo needs at least 2 candidates to show a failover");
    }
    let term_ms = u64::try_from(options.term.as_millis()).unwrap_or(u64::MAX);
    if term_ms < 30 {
        bail!(
            "--term must be at least 30 ms so renewals ({:?} apart) are visible",
            AutomaticRenewal::every_default_period(options.term).period
        );
    }
    let timeline = Arc::new(Timeline {
        started: Instant::now(),
        json: options.json,
    });
    let runtime = ElectorRuntime::new(RuntimeConfig::default())?;
    timeline.say(format!(
        "elector component compiled ({} KiB); starting {} sandboxed candidates on {}, position {:?}, term {} ms",
        elector_host::artifacts::ELECTOR_WASM.len() / 1024,
        options.candidates,
        options.store_name,
        options.position,
        term_ms
    ));
    let store = options.store.clone();
    let renewal = AutomaticRenewal::every_default_period(options.term);
    let (elected_tx, mut elected) = mpsc::unbounded_channel::<(usize, Instant)>();
    let last_lease = Arc::new(Mutex::new(vec![timeline.started; options.candidates]));
    let mut candidates = Vec::with_capacity(options.candidates);
    let mut reporters = Vec::with_capacity(options.candidates);
    for index in 0..options.candidates {
        let name = format!("c{}", index + 1);
        let client = LeaderElectionClient::start(
            &runtime,
            store.clone(),
            ClientOptions::new(&options.position, &name),
        )
        .await
        .with_context(|| format!("starting candidate {name}"))?;
        reporters.push(report_events(
            &client,
            &name,
            index,
            timeline.clone(),
            elected_tx.clone(),
            last_lease.clone(),
        ));
        candidates.push(Candidate { name, client });
    }

    timeline.say("every candidate campaigns".into());
    let campaigns_started = Instant::now();
    let mut campaigns: Vec<_> = candidates
        .iter()
        .map(|candidate| campaign_in_background(candidate, renewal))
        .collect();
    let (first, first_at) = next_leader(&mut elected, None)
        .await
        .context("no candidate was elected")?;
    let to_first_leader = first_at - timeline.started;
    let campaign_to_leader = first_at - campaigns_started;

    hold(&timeline, &candidates[first], options.term * 3 / 2).await;

    timeline.say(format!("{} resigns", candidates[first].name));
    let resigning_at = Instant::now();
    candidates[first]
        .client
        .resign(ResignOptions::default())
        .await?;
    let (second, second_at) = next_leader(&mut elected, Some(first))
        .await
        .context("nobody took over after the resignation")?;
    let failover_after_resign = second_at.saturating_duration_since(resigning_at);
    timeline.say(format!("{} rejoins the campaign", candidates[first].name));
    campaigns.push(campaign_in_background(&candidates[first], renewal));

    hold(&timeline, &candidates[second], options.term * 3 / 2).await;

    timeline.say(format!(
        "{} stops renewing (as if hung); its lease runs out by itself",
        candidates[second].name
    ));
    candidates[second]
        .client
        .set_automatic_renewal(None)
        .await?;
    let (third, third_at) = next_leader(&mut elected, Some(second))
        .await
        .context("nobody took over after the expiry")?;
    // The store expired the key one term after the last write it accepted.
    let expired_at = last_lease.lock().unwrap()[second] + options.term;
    let failover_after_expiry = third_at.saturating_duration_since(expired_at);

    hold(&timeline, &candidates[third], options.term).await;

    timeline.say("campaigns are cancelled and everyone resigns".into());
    for campaign in campaigns {
        campaign.abort();
    }
    // A call queued behind each cancelled campaign returns once that
    // campaign has ended, so none can win the position the leader is about
    // to give up.
    for candidate in &candidates {
        let _ = candidate.client.current_leader().await;
    }
    for candidate in &candidates {
        candidate.client.resign(ResignOptions::default()).await?;
    }
    // Stopping the candidates ends their event streams; the summary comes
    // after the last event is printed.
    drop(candidates);
    for reporter in reporters {
        let _ = tokio::time::timeout(Duration::from_secs(5), reporter).await;
    }
    timeline.print(
        "summary",
        None,
        None,
        Some(format!(
            "first leader {:.2} ms after campaigning began ({:.1} ms after start, compiling \
             included); failover after resign {:.2} ms; after a stopped leader {:.1} ms past \
             the end of its term",
            ms(campaign_to_leader),
            ms(to_first_leader),
            ms(failover_after_resign),
            ms(failover_after_expiry)
        )),
    );
    Ok(())
}

/// The next election of a candidate other than `previous`. A leader that
/// lost its lease on a busy machine (a renewal too late) and won it back is
/// shown in the timeline but is not the hand-over the script waits for.
async fn next_leader(
    elected: &mut mpsc::UnboundedReceiver<(usize, Instant)>,
    previous: Option<usize>,
) -> Option<(usize, Instant)> {
    loop {
        let (index, at) = elected.recv().await?;
        if Some(index) != previous {
            return Some((index, at));
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Prints a candidate's leadership events, and reports its elections.
fn report_events(
    client: &LeaderElectionClient,
    name: &str,
    index: usize,
    timeline: Arc<Timeline>,
    elected: mpsc::UnboundedSender<(usize, Instant)>,
    last_lease: Arc<Mutex<Vec<Instant>>>,
) -> JoinHandle<()> {
    let mut events = client.events();
    let name = name.to_owned();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                CandidateEvent::Elected(lease) => {
                    last_lease.lock().unwrap()[index] = Instant::now();
                    let _ = elected.send((index, Instant::now()));
                    timeline.print("elected", Some(&name), Some(&lease.fencing_token), None);
                }
                CandidateEvent::Renewed(lease) => {
                    last_lease.lock().unwrap()[index] = Instant::now();
                    timeline.print("renewed", Some(&name), Some(&lease.fencing_token), None);
                }
                CandidateEvent::LeadershipLost(reason) => {
                    timeline.print("lost", Some(&name), None, Some(reason.text().to_string()));
                }
                CandidateEvent::RenewalFailed(error) => {
                    timeline.print(
                        "renewal-failed",
                        Some(&name),
                        None,
                        Some(error.text().to_string()),
                    );
                }
                CandidateEvent::LeaseShortened(lease) => {
                    timeline.print("shortened", Some(&name), Some(&lease.fencing_token), None);
                }
                CandidateEvent::CampaignResult(_) | CandidateEvent::LeadershipChanged(_) => {}
            }
        }
    })
}

/// Campaigns with automatic renewal; aborting the task cancels the
/// campaign.
fn campaign_in_background(candidate: &Candidate, renewal: AutomaticRenewal) -> JoinHandle<()> {
    let client = candidate.client.clone();
    tokio::spawn(async move {
        let result = match client.set_automatic_renewal(Some(renewal)).await {
            Ok(()) => client.campaign(renewal.term, None).await.map(drop),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::warn!(%error, candidate = client.candidate_name(), "campaign failed");
        }
    })
}

/// Lets `leader` hold the position by automatic renewal for `how_long`.
async fn hold(timeline: &Timeline, leader: &Candidate, how_long: Duration) {
    timeline.say(format!(
        "{} holds by automatic renewal for {} ms",
        leader.name,
        how_long.as_millis()
    ));
    tokio::time::sleep(how_long).await;
}
