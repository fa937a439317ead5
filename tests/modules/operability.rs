//! Metrics and shutdown of `elector run`, as an operator sees them.

use std::time::Instant;

use crate::endpoint::{Running, epoch_now, value};
use crate::support::*;

/// The replicas whose `elector_leader` is 1.
fn leaders(scrape: &str) -> Vec<String> {
    scrape
        .lines()
        .filter(|l| l.starts_with("elector_leader{") && l.ends_with(" 1"))
        .map(|l| {
            let replica = l.split("replica=\"").nth(1).unwrap();
            replica.split('"').next().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn metrics_report_the_leader_and_sigterm_resigns() {
    let (broker, _service) = broker_with_service();
    let url = broker.url();
    let mut process = Running::fenced_log("r", &["--replicas", "2", "--broker", &url]);
    let (_, scrape) = process.wait_for("/metrics", "no leader", |_, body| leaders(body).len() == 1);
    let leader = leaders(&scrape).remove(0);
    assert!(
        value(
            &scrape,
            r#"elector_state_store_request_seconds_count{operation="set"}"#
        )
        .unwrap()
            >= 1.0,
        "latency is measured"
    );
    let (_, lines) = run_elector(&["leader", "job", "--broker", &url]);
    assert_eq!(
        lines[0]["leader"]["name"],
        leader.as_str(),
        "metrics agree with the store"
    );
    assert_eq!(process.get("/healthz"), (200, "ok\n".to_owned()));

    // SIGTERM: the leader resigns on the way out.
    let status = process.terminate();
    assert!(status.success(), "{status:?}");
    let (_, lines) = run_elector(&["leader", "job", "--broker", &url]);
    assert_eq!(lines[0]["event"], "no-leader", "released at shutdown");
}

#[test]
fn every_series_is_exported_from_the_first_scrape() {
    // The embedded store: no broker needed.
    let process = Running::fenced_log("r", &["--embedded", "--replicas", "2"]);
    let (status, scrape) = process.get("/metrics");
    assert_eq!(status, 200);
    for replica in ["r-1", "r-2"] {
        let labels = format!(r#"{{position="job",replica="{replica}"}}"#);
        // There from the start, whatever has happened yet.
        for name in [
            "elector_leader",
            "elector_lease_end_timestamp_seconds",
            "elector_elections_total",
            "elector_renewals_total",
        ] {
            let series = format!("{name}{labels}");
            assert!(value(&scrape, &series).is_some(), "{series} in\n{scrape}");
        }
        // Nothing of this kind happens here: 0, but there.
        for name in [
            "elector_renewal_failures_total",
            "elector_module_restarts_total",
            "elector_module_budget_overruns_total",
            "elector_module_hook_errors_total",
        ] {
            let series = format!("{name}{labels}");
            assert_eq!(value(&scrape, &series), Some(0.0), "{series} in\n{scrape}");
        }
        for reason in ["resigned", "lease-expired", "taken-over"] {
            let series = format!(
                r#"elector_leadership_lost_total{{position="job",replica="{replica}",reason="{reason}"}}"#
            );
            assert_eq!(value(&scrape, &series), Some(0.0), "{series} in\n{scrape}");
        }
    }
    for operation in ["set", "get", "del", "vdel", "keynotify"] {
        let series =
            format!(r#"elector_state_store_request_seconds_count{{operation="{operation}"}}"#);
        assert!(value(&scrape, &series).is_some(), "{series} in\n{scrape}");
    }
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        scrape.lines().any(|l| l.starts_with(&format!(
            "elector_build_info{{version=\"{version}\",rustc=\"rustc "
        )) && l.ends_with("} 1")),
        "build info in\n{scrape}"
    );
    // Latency buckets reach past the 5 s request timeout.
    assert!(
        scrape.lines().any(|l| l
            .split("le=\"")
            .nth(1)
            .and_then(|le| le.split('"').next()?.parse::<f64>().ok())
            .is_some_and(|le| le >= 10.0)),
        "a bucket of 10 s or more in\n{scrape}"
    );

    // The leader's lease ends within a term from now; the other has none.
    let started = Instant::now();
    let (_, scrape) = process.wait_for("/metrics", "no leader", |_, body| leaders(body).len() == 1);
    let scraped_at = epoch_now();
    let leader = leaders(&scrape).remove(0);
    let follower = if leader == "r-1" { "r-2" } else { "r-1" };
    let lease_end = |replica: &str| {
        let series =
            format!(r#"elector_lease_end_timestamp_seconds{{position="job",replica="{replica}"}}"#);
        value(&scrape, &series).unwrap()
    };
    let end = lease_end(&leader);
    assert!(
        end > scraped_at - started.elapsed().as_secs_f64() && end <= scraped_at + 2.0,
        "lease end {end}, scraped at {scraped_at}"
    );
    assert_eq!(lease_end(follower), 0.0);
}
