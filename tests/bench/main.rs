//! `elector bench` end to end, small: every scenario runs on a fresh
//! clone's build and prints well-formed rows. Only the shape of the output
//! is checked; the numbers themselves are measured, never asserted.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

/// Runs `elector bench --json` with `args` and returns its rows.
fn bench(args: &[&str]) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_elector"))
        .arg("bench")
        .arg("--json")
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("elector bench starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "elector bench failed: {stderr}");
    assert!(stderr.contains("bench: "), "no progress shown: {stderr}");
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Every number in a row is finite, none but a difference is negative, and
/// a goal says whether it was met.
fn assert_well_formed(row: &Value) {
    let numbers = match (&row["latency"], &row["figures"]) {
        (Value::Object(latency), _) => latency.iter().collect::<Vec<_>>(),
        (_, Value::Object(figures)) => figures.iter().collect(),
        _ => panic!("a row without numbers: {row}"),
    };
    for (name, number) in numbers {
        let number = number
            .as_f64()
            .unwrap_or_else(|| panic!("{name} is not a number in {row}"));
        assert!(number.is_finite(), "{name} = {number} in {row}");
        // A component a hair faster than native, within noise, is a
        // negative overhead, not a broken figure.
        if name != "overhead_us" {
            assert!(number >= 0.0, "{name} = {number} in {row}");
        }
    }
    if !row["goal"].is_null() {
        assert!(row["goal"]["met"].is_boolean(), "{row}");
    }
}

fn scenarios(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|row| {
            format!(
                "{} @ {}",
                row["scenario"].as_str().unwrap(),
                row["store"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn every_scenario_runs_and_reports_on_the_embedded_store() {
    let rows = bench(&[
        "--only",
        "size,startup,rtt,overhead,failover,crash,density",
        "--startup-runs",
        "1",
        "--requests",
        "20",
        "--operations",
        "20",
        // The diagnostic variant here; the MQTT test runs the plain one.
        "--overhead-idle",
        "50us",
        "--rounds",
        "5",
        "--candidates",
        "3",
        "--crash-rounds",
        "3",
        "--crash-term",
        "100ms",
        "--density",
        "20",
        "--density-term",
        "300ms",
        "--idle-window",
        "300ms",
    ]);
    rows.iter().for_each(assert_well_formed);
    let seen = scenarios(&rows);
    for expected in [
        "elector.wasm size @ -",
        "failover after resign, 3 candidates @ embedded",
    ] {
        assert!(seen.contains(expected), "{expected} missing from {seen:?}");
    }
    // CPU per renewal is divided by the renewals counted, not a nominal
    // number: the row says how many there were.
    let density = rows
        .iter()
        .find(|row| row["scenario"].as_str().unwrap().starts_with("density"))
        .expect("a density row");
    let renewals = density["figures"]["renewals_per_s"].as_f64();
    assert!(
        renewals.is_some_and(|r| r > 0.0),
        "no renewals counted: {density}"
    );
    for prefix in [
        "start to first leader",
        "state-store request round trip",
        "wasm overhead",
        "failover after crash",
        "density: 20",
    ] {
        assert!(
            seen.iter().any(|s| s.starts_with(prefix)),
            "no {prefix} row in {seen:?}"
        );
    }
}

#[test]
fn mqtt_scenarios_run_against_a_local_broker() {
    let rows = bench(&[
        "--local-broker",
        "--only",
        "rtt,overhead,failover,throughput,release",
        "--release-terms",
        "30s",
        "--release-rounds",
        "2",
        "--requests",
        "20",
        "--operations",
        "10",
        "--rounds",
        "3",
        "--candidates",
        "3",
        "--clients",
        "2",
        "--load-time",
        "200ms",
    ]);
    rows.iter().for_each(assert_well_formed);
    for mode in ["mqtt durable", "mqtt in-memory"] {
        let rows_of_mode = rows.iter().filter(|row| row["store"] == mode).count();
        assert!(rows_of_mode >= 4, "too few {mode} rows: {rows:?}");
    }
    let over_mqtt: Vec<_> = rows
        .iter()
        .filter(|row| row["store"].as_str().unwrap().starts_with("mqtt"))
        .collect();
    // Resign failover over MQTT is a multiple of the same run's round
    // trip, and the few-candidate row is held to that multiple.
    for row in over_mqtt
        .iter()
        .filter(|row| row["scenario"] == "failover after resign, 3 candidates")
    {
        let figures = &row["figures"];
        let rtt = figures["rtt_us"].as_f64().expect("the round trip");
        let median = row["latency"]["median_us"].as_f64().unwrap();
        let ratio = figures["median_over_rtt_x"].as_f64().expect("the ratio");
        assert!(
            (ratio - median / rtt).abs() < 1e-6 * ratio.max(1.0),
            "{row}"
        );
        assert!(figures["p99_over_rtt_x"].is_number(), "{row}");
        assert_eq!(row["goal"]["wanted"], "median ≤ 2.5× RTT, p99 ≤ 4× RTT");
    }
    assert!(
        over_mqtt.iter().any(|row| row["scenario"]
            .as_str()
            .unwrap()
            .starts_with("state-store service")),
        "no throughput row: {rows:?}"
    );
    // Crash failover with release on disconnect: two crashes with a 30 s
    // term, each replaced long before the term's end (else the scenario
    // times out and the bench fails).
    let released = over_mqtt
        .iter()
        .filter(|row| {
            row["scenario"]
                .as_str()
                .unwrap()
                .contains("release on disconnect")
        })
        .count();
    assert_eq!(released, 2, "one release row per mode: {rows:?}");
}
