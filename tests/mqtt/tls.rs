//! TLS to the broker, with a CA of the test's own making: the path an AIO
//! deployment takes (AIO_MQTT_USE_TLS, AIO_TLS_CA_FILE).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use elector_host::mqtt::BrokerArgs;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};

use crate::support::*;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A self-signed CA certificate `ca.pem` (key `ca.key`) named `name`.
fn make_ca(dir: &Path, name: &str) {
    let subject = format!("/CN={name}");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", &subject,
            "-keyout", "ca.key", "-out", "ca.pem",
        ],
    );
}

/// A CA, and a server certificate for 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    make_ca(dir, "elector-test-ca");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_connect_over_tls_with_the_given_ca_and_refuse_another() {
    let mut ca_path = None;
    let broker = Broker::start_prepared(|dir| {
        make_certificates(dir);
        ca_path = Some(dir.join("ca.pem"));
        format!(
            "cafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n",
            dir.display()
        )
    });
    let ca_path = ca_path.unwrap();
    let args = BrokerArgs {
        broker: Some(format!("mqtts://127.0.0.1:{}", broker.port)),
        ca_file: Some(ca_path.clone()),
        ..BrokerArgs::default()
    };
    let options = || MqttStoreOptions {
        connect_timeout: Duration::from_secs(5),
        ..MqttStoreOptions::default()
    };
    let store = MqttStore::connect(&args.settings().unwrap(), options())
        .await
        .expect("TLS connect");
    assert_eq!(store.connections(), 1);
    store.disconnect().await;

    // A CA that did not sign the broker's certificate is refused.
    let other = tempfile::tempdir().unwrap();
    make_ca(other.path(), "other");
    let wrong = BrokerArgs {
        ca_file: Some(other.path().join("ca.pem")),
        ..args
    };
    let started = std::time::Instant::now();
    let refused = MqttStore::connect(&wrong.settings().unwrap(), options()).await;
    assert!(refused.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused at once, not retried"
    );
}
