//! Release on disconnect (`elector campaign --release-on-disconnect`): a
//! crashed leader's Will releases its position about the Will's delay after
//! the crash, whatever its term; a leader whose link goes silent steps down
//! before its Will can act, and a blip shorter than that costs nothing.

use std::time::{Duration, Instant, SystemTime};

use elector_host::StateStoreBackend;
use elector_host::mqtt::BrokerOptions;
use elector_host::store::mqtt::release::ReleaseOnDisconnect;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};

use crate::support::*;

/// `elector campaign` with a 30 s term, whose connection goes to `url`.
fn candidate(url: &str, name: &str, extra: &[&str]) -> Elector {
    let mut args = vec![
        "campaign", "job", "--name", name, "--term", "30s", "--json", "--broker", url,
    ];
    args.extend_from_slice(extra);
    Elector::spawn(name, &args)
}

/// `a` leads with a 30 s term, `b` waits; `a` is killed with `kill -9`.
/// Returns how long `b` took to be elected, if within `wait`.
fn failover_after_kill(release: &str, wait: Duration) -> Option<Duration> {
    let (broker, _service) = broker_with_service();
    let url = broker.url();
    let mut a = candidate(&url, "a", &["--release-on-disconnect", release]);
    a.expect("elected", PATIENCE);
    let b = candidate(&url, "b", &["--release-on-disconnect", release]);
    std::thread::sleep(Duration::from_millis(500));
    let killed = Instant::now();
    a.kill();
    b.sees("elected", wait).then(|| killed.elapsed())
}

#[test]
fn a_crashed_leader_is_replaced_after_its_wills_delay_not_its_term() {
    let took = failover_after_kill("1s", Duration::from_secs(10))
        .expect("b was not elected within 10 s of a's crash (a's term was 30 s)");
    // mosquitto keeps its Will timers in whole seconds: it publishes a
    // Will of delay 1 s between 1 and 2 s after the loss.
    assert!(
        took >= Duration::from_millis(900),
        "b elected after {took:?}: before the Will's delay"
    );
    eprintln!("b elected {took:?} after a's kill -9");
}

#[test]
fn without_release_on_disconnect_a_crashed_leader_holds_its_term() {
    assert_eq!(failover_after_kill("off", Duration::from_secs(5)), None);
}

/// `a` leads through a proxy with a 5 s keep-alive (the least rumqttc takes) and a 2 s Will delay;
/// `b` waits on a direct connection.
struct SilentLink {
    _broker: Broker,
    _service: Service,
    _runtime: tokio::runtime::Runtime,
    proxy: Proxy,
    a: Elector,
    b: Elector,
}

impl SilentLink {
    fn start() -> SilentLink {
        let (broker, service) = broker_with_service();
        let (runtime, proxy) = proxy_to(&broker);
        let through_proxy = format!("mqtt://127.0.0.1:{}", proxy.port);
        let a = candidate(
            &through_proxy,
            "a",
            &["--release-on-disconnect", "2s", "--keep-alive", "5"],
        );
        a.expect("elected", PATIENCE);
        let b = candidate(&broker.url(), "b", &["--release-on-disconnect", "2s"]);
        std::thread::sleep(Duration::from_millis(500));
        SilentLink {
            _broker: broker,
            _service: service,
            _runtime: runtime,
            proxy,
            a,
            b,
        }
    }
}

#[test]
fn a_leader_whose_link_goes_silent_steps_down_before_its_will_releases_the_position() {
    let link = SilentLink::start();
    let silent = SystemTime::now();
    link.proxy.blackhole();
    let (lost, lost_at) = link.a.expect_read("lost", Duration::from_secs(10));
    assert!(
        lost.to_string().contains("silent"),
        "a lost for another reason: {lost}"
    );
    // The broker notices the silence after 1.5 keep-alives (7.5 s), then
    // waits out the Will's delay (2 s), far less than a's 30 s term.
    let (_, elected_at) = link.b.expect_read("elected", Duration::from_secs(25));
    let stepped_down = lost_at.duration_since(silent).unwrap();
    let replaced = elected_at.duration_since(silent).unwrap();
    eprintln!(
        "a stepped down {stepped_down:?} after its link went silent; b elected after {replaced:?}"
    );
    assert!(
        lost_at < elected_at,
        "b was elected ({replaced:?}) before a stepped down ({stepped_down:?})"
    );
    assert!(
        stepped_down <= Duration::from_secs(2),
        "a stepped down {stepped_down:?} after the silence began: later than its Will's delay"
    );
}

/// mosquitto publishes every connected client's Will at once when it shuts
/// down, whatever the delay: a leader must step down as soon as it sees its
/// connection drop, before anyone can be elected over the restarted broker.
#[test]
fn a_broker_restart_steps_the_leader_down_before_anyone_else_is_elected() {
    let mut broker = Broker::start();
    let _service = Service::start(&broker);
    let url = broker.url();
    let a = candidate(&url, "a", &[]);
    a.expect("elected", PATIENCE);
    let b = candidate(&url, "b", &[]);
    std::thread::sleep(Duration::from_millis(500));
    broker.restart(Duration::from_millis(300));
    let (lost, lost_at) = a.expect_read("lost", PATIENCE);
    assert!(lost.to_string().contains("silent"), "{lost}");
    let (_, elected_at) = b.expect_read("elected", Duration::from_secs(40));
    assert!(lost_at < elected_at, "b was elected before a stepped down");
    assert_eq!(leader_of(&broker, "job").as_deref(), Some("b"));
}

#[test]
fn a_blip_shorter_than_the_wills_delay_keeps_the_leader() {
    let link = SilentLink::start();
    link.proxy.blackhole();
    std::thread::sleep(Duration::from_millis(500));
    link.proxy.restore();
    assert!(
        !link.a.sees("lost", Duration::from_secs(4)),
        "a 0.5 s blip cost a its leadership"
    );
    assert!(!link.b.sees("elected", Duration::from_millis(100)));
}

/// A connection with a Will, idle for 3 s behind a broker with `acl`
/// (user `node1`): how long its trust still runs past now. Without probes
/// that come back, it would have ended 0.9 s after the connect.
async fn idle_trust_left(acl: &str) -> Option<Duration> {
    let broker = Broker::start_prepared(|dir| {
        let file = dir.join("acl");
        std::fs::write(&file, format!("{acl}\nuser node1\n")).unwrap();
        format!("acl_file {}", file.display())
    });
    let _service = Service::start_with(&broker, broker.port, &["--username", "elector-statestore"]);
    wait_until_served(&broker);
    let settings = BrokerOptions {
        broker: Some(broker.url()),
        username: Some("node1".into()),
        client_id: Some("node1".into()),
        ..BrokerOptions::default()
    }
    .settings()
    .unwrap();
    let options = MqttStoreOptions {
        release_on_disconnect: Some(
            ReleaseOnDisconnect::new("job", "node1", Duration::from_secs(1)).unwrap(),
        ),
        ..MqttStoreOptions::default()
    };
    let store = MqttStore::connect(&settings, options).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let trust = store
        .release_trust()
        .expect("a connection with a Will has a trust");
    let now = elector_host::clock::now_ns();
    trust
        .trusted_until
        .checked_sub(now)
        .map(Duration::from_nanos)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_stays_trusted_under_the_documented_acl() {
    let acl = crate::acl::documented_acl();
    let left = idle_trust_left(&acl).await;
    assert!(left.is_some(), "the probes did not keep the link trusted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_forbids_the_probe_topic_gets_state_store_probes_instead() {
    let acl = crate::acl::documented_acl().replace("pattern write clients/%c/elector/probe\n", "");
    assert!(!acl.contains("elector/probe"));
    let left = idle_trust_left(&acl).await;
    assert!(
        left.is_some(),
        "without echoes the link was not kept trusted"
    );
}
