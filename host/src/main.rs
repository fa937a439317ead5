use std::sync::Arc;
use std::time::{Duration, Instant};

use elector_host::*;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let t0 = Instant::now();
    let runtime = ElectorRuntime::new(RuntimeConfig::default())?;
    println!("compiled in {:?}", t0.elapsed());
    let store: Arc<dyn StateStoreBackend> = Arc::new(EmbeddedStore::new());
    let mut clients = Vec::new();
    for i in 0..3 {
        clients.push(
            LeaderElectionClient::start(
                &runtime,
                store.clone(),
                ClientOptions::new("pos", format!("c{i}")),
            )
            .await?,
        );
    }
    println!("started in {:?}", t0.elapsed());
    let mut ev = clients[0].events();
    clients[0].observe().await?;
    let mut tasks = Vec::new();
    for c in &clients {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.campaign(Duration::from_secs(2), None).await;
            (c.candidate_name().to_string(), r)
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!(
        "t={:?} leaders: {:?}",
        t0.elapsed(),
        clients.iter().map(|c| c.is_leader()).collect::<Vec<_>>()
    );
    let leader = clients.iter().find(|c| c.is_leader()).unwrap().clone();
    let t1 = Instant::now();
    leader.resign(ResignOptions::default()).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!(
        "after resign {:?}: leaders: {:?}",
        t1.elapsed(),
        clients.iter().map(|c| c.is_leader()).collect::<Vec<_>>()
    );
    while let Ok(e) = ev.try_recv() {
        println!("event {e:?}");
    }
    for t in tasks {
        let (n, r) = t.await?;
        println!("{n}: {:?}", r.map(|r| r.is_leader));
    }
    Ok(())
}
