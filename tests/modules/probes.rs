//! `/healthz` and `/readyz` of `elector run`, over HTTP: when each fails,
//! with what reason, and that each comes back.

use crate::ROGUE_MODULE;
use crate::endpoint::{Running, value};
use crate::support::*;

fn ok(status: u16, body: &str) -> bool {
    (status, body) == (200, "ok\n")
}

#[test]
fn readyz_waits_for_the_broker_link_and_the_module() {
    let (broker, _service) = broker_with_service();
    let (_runtime, proxy) = proxy_to(&broker);
    proxy.cut();
    let url = format!("mqtt://127.0.0.1:{}", proxy.port);
    let process = Running::fenced_log("p", &["--broker", &url]);
    // Before the broker answers: not ready (saying why), healthy, and
    // every series there at 0.
    assert_eq!(
        process.get("/readyz"),
        (
            503,
            "p on job: module not instantiated yet; state store: connecting to the broker\n".into()
        )
    );
    assert_eq!(process.get("/healthz"), (200, "ok\n".into()));
    let (_, scrape) = process.get("/metrics");
    for series in [
        r#"elector_leader{position="job",replica="p"}"#,
        r#"elector_elections_total{position="job",replica="p"}"#,
        r#"elector_leadership_lost_total{position="job",replica="p",reason="taken-over"}"#,
        r#"elector_module_restarts_total{position="job",replica="p"}"#,
        r#"elector_lease_end_timestamp_seconds{position="job",replica="p"}"#,
    ] {
        assert_eq!(value(&scrape, series), Some(0.0), "{series} in\n{scrape}");
    }

    proxy.restore();
    process.wait_for("/readyz", "ready once connected", ok);
    // The link goes down: not ready; it comes back: ready.
    proxy.cut();
    let (_, body) = process.wait_for("/readyz", "not ready without the broker", |s, _| s == 503);
    assert_eq!(body, "state store: not connected to the broker\n");
    proxy.restore();
    process.wait_for("/readyz", "ready once reconnected", ok);
}

#[test]
fn healthz_fails_while_renewals_stall_and_recovers_once_the_store_answers() {
    let (broker, _service) = broker_with_service();
    let (_runtime, proxy) = proxy_to(&broker);
    let behind_proxy = format!("mqtt://127.0.0.1:{}", proxy.port);
    // Without release on disconnect, the cut link shows as renewals that
    // stall until the lease runs out (with it, the leader steps down at
    // once: the next test).
    let run = |name: &str, url: &str| {
        Running::fenced_log(
            name,
            &[
                "--request-timeout",
                "1s",
                "--release-on-disconnect",
                "off",
                "--broker",
                url,
            ],
        )
    };
    let a = run("a", &behind_proxy);
    a.wait_for_series(r#"elector_leader{position="job",replica="a"}"#, |v| {
        v == 1.0
    });
    let b = run("b", &broker.url());

    // a's link to the broker goes: its renewals stall and its lease runs out.
    proxy.cut();
    let (_, body) = a.wait_for("/healthz", "unhealthy once the lease ran out", |s, _| {
        s == 503
    });
    assert!(
        body.starts_with("a on job: its lease ran out because renewals stalled"),
        "{body}"
    );
    assert_eq!(body.lines().count(), 1, "{body}");
    let (_, scrape) = a.get("/metrics");
    for (series, expected) in [
        (r#"elector_leader{position="job",replica="a"}"#, 0.0),
        (
            r#"elector_lease_end_timestamp_seconds{position="job",replica="a"}"#,
            0.0,
        ),
        (
            r#"elector_leadership_lost_total{position="job",replica="a",reason="lease-expired"}"#,
            1.0,
        ),
    ] {
        assert_eq!(
            value(&scrape, series),
            Some(expected),
            "{series} in\n{scrape}"
        );
    }
    b.wait_for_series(r#"elector_leader{position="job",replica="b"}"#, |v| {
        v == 1.0
    });

    // The link is back; b leads, and a, answered again, is healthy waiting.
    proxy.restore();
    a.wait_for("/healthz", "healthy once the store answers again", ok);
    let (_, scrape) = a.get("/metrics");
    assert_eq!(
        value(&scrape, r#"elector_leader{position="job",replica="a"}"#),
        Some(0.0)
    );
}

/// With release on disconnect (the default), a cut link steps the leader
/// down at once (`link-silent`), before its Will can let anyone in: long
/// before its 5 s term would have run out.
#[test]
fn a_leader_whose_link_is_cut_steps_down_at_once_and_says_why() {
    let (broker, _service) = broker_with_service();
    let (_runtime, proxy) = proxy_to(&broker);
    let behind_proxy = format!("mqtt://127.0.0.1:{}", proxy.port);
    let a = Running::fenced_log("a", &["--request-timeout", "1s", "--broker", &behind_proxy]);
    a.wait_for_series(r#"elector_leader{position="job",replica="a"}"#, |v| {
        v == 1.0
    });
    let b = Running::fenced_log("b", &["--broker", &broker.url()]);
    let cut = std::time::Instant::now();
    proxy.cut();
    let (_, body) = a.wait_for("/healthz", "unhealthy once its link went silent", |s, _| {
        s == 503
    });
    assert!(
        body.contains("its link to the broker went silent"),
        "{body}"
    );
    let (_, scrape) = a.get("/metrics");
    assert_eq!(
        value(
            &scrape,
            r#"elector_leadership_lost_total{position="job",replica="a",reason="link-silent"}"#
        ),
        Some(1.0),
        "{scrape}"
    );
    let stepped_down = cut.elapsed();
    let (_, scrape) = b.get("/metrics");
    assert_eq!(
        value(&scrape, r#"elector_leader{position="job",replica="b"}"#),
        Some(0.0),
        "b led before a had stepped down ({stepped_down:?} after the cut)"
    );
    b.wait_for_series(r#"elector_leader{position="job",replica="b"}"#, |v| {
        v == 1.0
    });
    eprintln!(
        "a stepped down within {stepped_down:?} of the cut; b led after {:?}",
        cut.elapsed()
    );
}

#[test]
fn healthz_fails_while_a_module_crash_loops_and_names_an_overrun_budget() {
    // On the embedded store; the rogue module traps (or spins) at every
    // tick of a replica whose name says so.
    let run = |name: &str| {
        Running::start(
            ROGUE_MODULE,
            &[
                "--embedded",
                "--position",
                name,
                "--name",
                name,
                "--tick",
                "50ms",
                "--module-cpu",
                "100ms",
            ],
        )
    };
    let (trap, spin) = (run("trap"), run("spin"));
    let (_, body) = trap.wait_for("/healthz", "a trapping module is a crash loop", |s, _| {
        s == 503
    });
    assert_eq!(
        body,
        "trap on trap: module crash-looping: 3 restarts within 300 s, the last because it \
         trapped\n"
    );
    let (_, body) = spin.wait_for("/healthz", "a spinning module is a crash loop", |s, _| {
        s == 503
    });
    assert_eq!(
        body,
        "spin on spin: module crash-looping: 3 restarts within 300 s, the last because it \
         overran its CPU budget\n"
    );
    let (_, scrape) = spin.get("/metrics");
    let overruns = r#"elector_module_budget_overruns_total{position="spin",replica="spin"}"#;
    assert!(value(&scrape, overruns).unwrap() >= 3.0, "{scrape}");
    let (_, scrape) = trap.get("/metrics");
    let restarts = r#"elector_module_restarts_total{position="trap",replica="trap"}"#;
    assert!(value(&scrape, restarts).unwrap() >= 3.0, "{scrape}");
    let overruns = r#"elector_module_budget_overruns_total{position="trap",replica="trap"}"#;
    assert_eq!(value(&scrape, overruns), Some(0.0));
}
