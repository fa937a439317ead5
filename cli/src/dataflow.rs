//! `elector dataflow`: N instances of an Azure IoT Operations `map`
//! operator over a message stream, in the AIO host of
//! `elector_host::aio`; prints each instance's outcome and a summary.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use crate::cli::DataflowArgs;
use elector_host::aio::dataflow::{self, DataflowOptions, DataflowReport};
use elector_host::aio::instance::AioOperator;
use elector_host::aio::metrics::AioMetrics;
use elector_host::store::{EmbeddedStore, StateStoreBackend};

pub async fn run(args: DataflowArgs) -> anyhow::Result<()> {
    let wasm = std::fs::read(&args.operator)
        .with_context(|| format!("reading {}", args.operator.display()))?;
    let operator = Arc::new(AioOperator::load(&wasm)?);
    let store: Arc<dyn StateStoreBackend> = if args.broker.names_a_broker() {
        let settings = args.broker.settings()?;
        Arc::new(
            crate::commands::store::connect(
                &settings,
                args.request_timeout,
                Duration::from_secs(10),
                None,
            )
            .await?,
        )
    } else {
        Arc::new(EmbeddedStore::new())
    };
    let options = DataflowOptions {
        instances: usize::from(args.instances),
        messages: args.messages,
        interval: args.interval,
        over_every: args.over_every,
        properties: args.properties,
        request_timeout: args.request_timeout,
        stop_leader_after: args.stop_leader_after,
    };
    let metrics = AioMetrics::default();
    let report = dataflow::run(operator, store.clone(), options, metrics.clone()).await?;
    let key_value = match &args.read_key {
        Some(key) => Some(
            store
                .get(key.as_bytes())
                .await
                .map(|found| found.map(|v| String::from_utf8_lossy(&v.value).into_owned()))
                .with_context(|| format!("reading {key}"))?,
        ),
        None => None,
    };
    store.close().await;
    if args.json {
        print_json(&report, args.read_key.as_deref(), key_value.as_ref());
    } else {
        print_text(&report, args.read_key.as_deref(), key_value.as_ref());
    }
    if args.metrics {
        print!("{}", metrics.text());
    }
    Ok(())
}

fn print_json(report: &DataflowReport, key: Option<&str>, value: Option<&Option<String>>) {
    for instance in &report.instances {
        println!("{}", json!({"event": "instance", "outcome": instance}));
    }
    let summaries: usize = report.instances.iter().map(|i| i.summaries.len()).sum();
    println!(
        "{}",
        json!({
            "event": "summary",
            "messages_sent": report.messages_sent,
            "over_temperature_sent": report.over_temperature_sent,
            "processed": report.instances.iter().map(|i| i.processed).sum::<u64>(),
            "failed": report.instances.iter().map(|i| i.failed).sum::<u64>(),
            "summaries": summaries,
            "elapsed_ms": report.elapsed_ms,
            "handover": report.handover,
            "key": key,
            "value": value,
        })
    );
}

fn print_text(report: &DataflowReport, key: Option<&str>, value: Option<&Option<String>>) {
    for i in &report.instances {
        let mut line = format!(
            "instance {}: {} processed, {} failed, {} leading",
            i.instance, i.processed, i.failed, i.leading
        );
        if !i.summaries.is_empty() {
            line += &format!(", summaries of windows {:?}", i.summaries);
        }
        if i.stopped {
            line += ", stopped as leader";
        }
        if let Some(trap) = &i.trapped {
            line += &format!(", trapped: {trap}");
        }
        if let Some(error) = i.errors.first() {
            line += &format!(", first error: {error}");
        }
        println!("{line}");
    }
    println!(
        "{} messages sent ({} over-temperature) in {} ms",
        report.messages_sent, report.over_temperature_sent, report.elapsed_ms
    );
    if let Some(handover) = &report.handover {
        match (handover.new_leader, handover.after_ms) {
            (Some(leader), Some(ms)) => println!(
                "stopped leader instance {}; instance {leader} led {ms} ms later",
                handover.stopped_instance
            ),
            _ => println!(
                "stopped leader instance {}; no other instance led afterwards",
                handover.stopped_instance
            ),
        }
    }
    if let (Some(key), Some(value)) = (key, value) {
        println!("{key} = {}", value.as_deref().unwrap_or("(absent)"));
    }
}
