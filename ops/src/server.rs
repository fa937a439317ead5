//! The HTTP endpoint of a long-running command: `/metrics` (OpenMetrics
//! text), `/healthz` and `/readyz`. Any command can serve one: it hands
//! over what to expose and what to check, and the endpoint knows nothing
//! of elections or modules.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

/// What `/metrics` serves.
pub trait Exposition: Send + Sync + 'static {
    /// The OpenMetrics text.
    fn encode(&self) -> String;
}

impl Exposition for Registry {
    fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, self)
            .expect("writing to a String cannot fail");
        text
    }
}

/// What `/healthz` or `/readyz` asks.
pub trait Check: Send + Sync + 'static {
    /// `Err` lists what is wrong, one short sentence each.
    fn check(&self) -> Result<(), Vec<String>>;
}

/// A [`Check`]'s answer from the problems it found: `Ok` when there are
/// none.
pub fn verdict(problems: Vec<String>) -> Result<(), Vec<String>> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What an endpoint serves.
#[derive(Clone)]
pub struct Endpoints {
    pub metrics: Arc<dyn Exposition>,
    pub health: Arc<dyn Check>,
    pub readiness: Arc<dyn Check>,
}

/// A check's answer: 200 `ok`, or 503 with what is wrong on one line (a
/// probe's log and `kubectl describe` show only the first line).
fn answer(check: &dyn Check) -> Response {
    match check.check() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(problems) => {
            let line = problems.join("; ").replace(['\r', '\n'], " ");
            (StatusCode::SERVICE_UNAVAILABLE, line + "\n").into_response()
        }
    }
}

/// Serves until `shutdown` fires. Returns the bound address (useful with
/// port 0).
pub async fn serve(
    address: SocketAddr,
    endpoints: Endpoints,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("binding the metrics address {address}: {e}"))?;
    let bound = listener.local_addr()?;
    let Endpoints {
        metrics,
        health,
        readiness,
    } = endpoints;
    let app = Router::new()
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }),
        )
        .route("/healthz", get(move || async move { answer(&*health) }))
        .route("/readyz", get(move || async move { answer(&*readiness) }));
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "metrics endpoint failed");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    struct Fixed(Result<(), Vec<String>>);

    impl Check for Fixed {
        fn check(&self) -> Result<(), Vec<String>> {
            self.0.clone()
        }
    }

    async fn get(address: SocketAddr, path: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    #[tokio::test]
    async fn any_registry_and_checks_can_be_served() {
        let mut registry = Registry::with_prefix("other");
        let served = Counter::<u64>::default();
        registry.register("served", "Things served", served.clone());
        served.inc();
        let shutdown = CancellationToken::new();
        let endpoints = Endpoints {
            metrics: Arc::new(registry),
            health: Arc::new(Fixed(Ok(()))),
            readiness: Arc::new(Fixed(Err(vec!["store: connecting".into(), "a\nb".into()]))),
        };
        let address = serve("127.0.0.1:0".parse().unwrap(), endpoints, shutdown.clone())
            .await
            .unwrap();
        let (status, text) = get(address, "/metrics").await;
        assert_eq!(status, 200);
        assert!(text.contains("other_served_total 1"), "{text}");
        assert_eq!(get(address, "/healthz").await, (200, "ok\n".into()));
        assert_eq!(
            get(address, "/readyz").await,
            (503, "store: connecting; a b\n".into())
        );
        shutdown.cancel();
    }
}
