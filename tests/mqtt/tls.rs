//! TLS to the broker, with a CA of the test's own making: the path an AIO
//! deployment takes (AIO_MQTT_USE_TLS, AIO_TLS_CA_FILE, a client
//! certificate whose key may be encrypted), and a broker whose CA is among
//! the system's roots (no CA file given).
//!
//! (Over 400 lines: the certificate authority these tests make with openssl
//! is shared by all of them.)

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use elector_host::mqtt::BrokerOptions;
use elector_host::store::StateStoreBackend;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};
use elector_service::{ServiceOptions, serve};
use serde_json::Value;
use tokio_util::sync::{CancellationToken, DropGuard};

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

/// `name.pem`, a certificate for `subject` signed by the CA in `dir`, with
/// `extensions` (an `openssl x509 -extfile` line); its key is `name.key`.
fn issue(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let (key, csr, cert, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", &key, "-out", &csr,
        ],
    );
    std::fs::write(dir.join(&ext), format!("{extensions}\n")).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate
/// signed by it; the client's key also encrypted (`client.enc.key`, the
/// password in `key.password` with a trailing newline, as `echo` writes
/// it).
fn make_certificates(dir: &Path) {
    make_ca(dir, "elector-test-ca");
    issue(
        dir,
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1",
    );
    issue(
        dir,
        "client",
        "/CN=elector-client",
        "extendedKeyUsage=clientAuth",
    );
    std::fs::write(dir.join("key.password"), "correct horse\n").unwrap();
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "client.key",
            "-out",
            "client.enc.key",
            "-passout",
            "pass:correct horse",
        ],
    );
}

/// A TLS broker with the certificates of [`make_certificates`] in `dir`;
/// with `require_certificate`, clients must present one the CA signed.
fn tls_broker(require_certificate: bool) -> (Broker, PathBuf) {
    let mut certificates = None;
    let broker = Broker::start_prepared(|dir| {
        make_certificates(dir);
        certificates = Some(dir.to_owned());
        format!(
            "cafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n\
             require_certificate {require_certificate}\n",
            dir.display()
        )
    });
    (broker, certificates.unwrap())
}

fn store_options() -> MqttStoreOptions {
    MqttStoreOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(1),
        ..MqttStoreOptions::default()
    }
}

/// Flags for the in-process clients: the test's CA, and its client
/// certificate (unencrypted key).
fn trusted_args(broker: &Broker, dir: &Path) -> BrokerOptions {
    BrokerOptions {
        broker: Some(format!("mqtts://127.0.0.1:{}", broker.port)),
        ca_file: Some(dir.join("ca.pem")),
        cert_file: Some(dir.join("client.pem")),
        key_file: Some(dir.join("client.key")),
        ..BrokerOptions::default()
    }
}

/// The state-store service in this process, on the broker's TLS listener,
/// answering by the time this returns; it stops when the guard is dropped.
fn serve_over_tls(runtime: &tokio::runtime::Runtime, args: &BrokerOptions) -> DropGuard {
    let shutdown = CancellationToken::new();
    let settings = args.settings_with_clean_start(false).unwrap();
    let stop = shutdown.clone();
    runtime.spawn(async move {
        serve(&settings, ServiceOptions::default(), stop)
            .await
            .expect("the service runs");
    });
    runtime.block_on(async {
        let store = MqttStore::connect(&args.settings().unwrap(), store_options())
            .await
            .expect("TLS connect");
        let started = std::time::Instant::now();
        while store.get(b"ready").await.is_err() {
            assert!(started.elapsed() < PATIENCE, "the service never answered");
        }
        store.disconnect().await;
    });
    shutdown.drop_guard()
}

/// `elector leader tls-check --json` on the broker's TLS listener with
/// `flags` and environment `env` (no SSL_CERT_* of the test's own): its
/// exit status and its one line.
fn leader_over_tls(broker: &Broker, flags: &[&str], env: &[(&str, &Path)]) -> (ExitStatus, Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_elector"));
    command
        .args(["leader", "tls-check", "--json", "--broker"])
        .arg(format!("mqtts://127.0.0.1:{}", broker.port))
        .args(flags)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut elector = Elector::spawn_command("tls-check", &mut command);
    let line = elector.next_line(PATIENCE).expect("a line of output");
    let status = elector.wait();
    (status, serde_json::from_str(&line).expect("a JSON line"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_connect_over_tls_with_the_given_ca_and_refuse_another() {
    let (broker, dir) = tls_broker(false);
    let args = BrokerOptions {
        broker: Some(format!("mqtts://127.0.0.1:{}", broker.port)),
        ca_file: Some(dir.join("ca.pem")),
        ..BrokerOptions::default()
    };
    let store = MqttStore::connect(&args.settings().unwrap(), store_options())
        .await
        .expect("TLS connect");
    assert_eq!(store.connections(), 1);
    store.disconnect().await;

    // A CA that did not sign the broker's certificate is refused, and the
    // error says which roots were trusted.
    let other = tempfile::tempdir().unwrap();
    make_ca(other.path(), "other");
    let other_ca = other.path().join("ca.pem");
    let wrong = BrokerOptions {
        ca_file: Some(other_ca.clone()),
        ..args
    };
    let started = std::time::Instant::now();
    let refused = MqttStore::connect(&wrong.settings().unwrap(), store_options())
        .await
        .err()
        .expect("refused");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused at once, not retried"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "could not connect to the broker at 127.0.0.1:{}: TLS failed: the \
             broker's certificate was refused (invalid peer certificate: UnknownIssuer), \
             trusting only the CA file {} (1 certificate)",
            broker.port,
            other_ca.display()
        )
    );
}

#[test]
fn without_a_ca_file_the_system_roots_are_trusted() {
    let (broker, dir) = tls_broker(false);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _service = serve_over_tls(&runtime, &trusted_args(&broker, &dir));

    // The test's CA as the system's only root: no --ca-file needed.
    let ca = dir.join("ca.pem");
    let (status, line) = leader_over_tls(&broker, &[], &[("SSL_CERT_FILE", &ca)]);
    assert_eq!(
        (status.code(), &line["event"]),
        (Some(0), &"no-leader".into())
    );

    // Roots that did not sign the broker's certificate are refused.
    let other = tempfile::tempdir().unwrap();
    make_ca(other.path(), "other");
    let other_ca = other.path().join("ca.pem");
    let (status, line) = leader_over_tls(&broker, &[], &[("SSL_CERT_FILE", &other_ca)]);
    assert_eq!(status.code(), Some(1));
    let detail = line["detail"].as_str().unwrap();
    let expected = format!(
        "the broker's certificate was refused (invalid peer certificate: UnknownIssuer), \
         trusting the system's root certificates (1 certificate, from SSL_CERT_FILE={}); \
         a broker with a private CA needs --ca-file or AIO_TLS_CA_FILE",
        other_ca.display()
    );
    assert!(detail.ends_with(&expected), "{detail}");

    // No roots at all is refused before connecting.
    let absent = dir.join("absent.pem");
    let (status, line) = leader_over_tls(&broker, &[], &[("SSL_CERT_FILE", &absent)]);
    assert_eq!(status.code(), Some(2));
    // Between the brackets: rustls-native-certs' own reasons, then where.
    let detail = line["detail"].as_str().unwrap();
    let (start, end) = (
        "TLS without a CA file trusts the system's root certificates, and none were found (",
        format!(
            "; looked in SSL_CERT_FILE={}): give the broker's CA with --ca-file or \
             AIO_TLS_CA_FILE",
            absent.display()
        ),
    );
    assert!(
        detail.starts_with(start) && detail.ends_with(&end),
        "{detail}"
    );
}

#[test]
fn an_encrypted_client_key_is_read_with_its_password_file() {
    let (broker, dir) = tls_broker(true);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _service = serve_over_tls(&runtime, &trusted_args(&broker, &dir));
    let file = |name: &str| dir.join(name);
    let (ca, cert, encrypted, password) = (
        file("ca.pem"),
        file("client.pem"),
        file("client.enc.key"),
        file("key.password"),
    );

    // As an AIO workload is configured: all from the environment.
    let (status, line) = leader_over_tls(
        &broker,
        &[],
        &[
            ("AIO_TLS_CA_FILE", &ca),
            ("AIO_TLS_CERT_FILE", &cert),
            ("AIO_TLS_KEY_FILE", &encrypted),
            ("AIO_TLS_KEY_PASSWORD_FILE", &password),
        ],
    );
    assert_eq!(
        (status.code(), &line["event"]),
        (Some(0), &"no-leader".into())
    );

    // A password file for a key that is not encrypted is not used (as the
    // AIO SDK does not use it): the key still serves.
    let (status, line) = leader_over_tls(
        &broker,
        &[],
        &[
            ("AIO_TLS_CA_FILE", &ca),
            ("AIO_TLS_CERT_FILE", &cert),
            ("AIO_TLS_KEY_FILE", &file("client.key")),
            ("AIO_TLS_KEY_PASSWORD_FILE", &password),
        ],
    );
    assert_eq!(
        (status.code(), &line["event"]),
        (Some(0), &"no-leader".into())
    );

    // The broker does require a certificate: without one, no connection.
    let without = BrokerOptions {
        cert_file: None,
        key_file: None,
        ..trusted_args(&broker, &dir)
    };
    let options = MqttStoreOptions {
        connect_timeout: Duration::from_secs(2),
        ..store_options()
    };
    let connected = runtime.block_on(MqttStore::connect(&without.settings().unwrap(), options));
    assert!(connected.is_err(), "connected without a certificate");
}

#[test]
fn unusable_keys_and_password_files_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let wrong_password = path("wrong.password");
    std::fs::write(&wrong_password, "battery staple\n").unwrap();
    issue(
        dir.path(),
        "stranger",
        "/CN=stranger",
        "extendedKeyUsage=clientAuth",
    );
    // Encryptions elector cannot read: OpenSSL's legacy PEM one, PBES1,
    // PBES2 with 3DES.
    for (name, encryption) in [
        ("legacy", &["rsa", "-aes256", "-traditional"][..]),
        ("pbes1", &["pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES"]),
        ("des3", &["pkcs8", "-topk8", "-v2", "des3"]),
    ] {
        let out = format!("client.{name}.key");
        let files = [
            "-in",
            "client.key",
            "-out",
            &out,
            "-passout",
            "pass:correct horse",
        ];
        openssl(dir.path(), &[encryption, &files].concat());
    }
    // Refused before connecting, so no broker is needed.
    let broker = "mqtts://127.0.0.1:1".to_owned();
    let with = |key: &str, password: Option<&str>| {
        let mut flags = vec![
            "leader".to_owned(),
            "tls-check".into(),
            "--broker".into(),
            broker.clone(),
            "--ca-file".into(),
            path("ca.pem"),
            "--cert-file".into(),
            path("client.pem"),
            "--key-file".into(),
            path(key),
        ];
        if let Some(password) = password {
            flags.extend(["--key-password-file".into(), password.to_owned()]);
        }
        flags
    };
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "leader".into(),
                "tls-check".into(),
                "--broker".into(),
                broker.clone(),
                "--key-password-file".into(),
                path("key.password"),
            ],
            "--key-password-file (AIO_TLS_KEY_PASSWORD_FILE) needs --key-file (AIO_TLS_KEY_FILE), \
             the key it decrypts"
                .into(),
        ),
        (
            with("client.enc.key", None),
            format!(
                "the private key {} is encrypted: give the file holding its password with \
                 --key-password-file or AIO_TLS_KEY_PASSWORD_FILE",
                path("client.enc.key")
            ),
        ),
        (
            with("client.enc.key", Some(&wrong_password)),
            format!(
                "the password in {wrong_password} does not decrypt the private key {}",
                path("client.enc.key")
            ),
        ),
        (
            with("client.legacy.key", Some(&path("key.password"))),
            format!(
                "the private key {} is encrypted in a way elector cannot read (OpenSSL's legacy \
                 PEM encryption); re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
                path("client.legacy.key")
            ),
        ),
        (
            with("client.legacy.key", None),
            format!(
                "the private key {} is encrypted in a way elector cannot read (OpenSSL's legacy \
                 PEM encryption); re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
                path("client.legacy.key")
            ),
        ),
        (
            with("stranger.key", None),
            format!(
                "private key {}: does not belong to the certificate {}",
                path("stranger.key"),
                path("client.pem")
            ),
        ),
    ];
    // Exit code 2 (usage), one error line: its text.
    let refusal = |args: &[String]| {
        let (status, lines) = run_elector(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(status.code(), Some(2), "{args:?}");
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert_eq!(lines[0]["event"], "error");
        lines[0]["detail"].as_str().unwrap().to_owned()
    };
    for (args, expected) in cases {
        assert_eq!(refusal(&args), expected, "{args:?}");
    }
    // The schemes pkcs8 does not know, in its own words; refused whether a
    // password is given or not, since none would help.
    for (key, password) in [
        ("client.pbes1.key", Some(path("key.password"))),
        ("client.des3.key", None),
    ] {
        let detail = refusal(&with(key, password.as_deref()));
        let (start, end) = (
            format!(
                "the private key {} is encrypted in a way elector cannot read (",
                path(key)
            ),
            "); re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
        );
        assert!(
            detail.starts_with(&start) && detail.ends_with(end),
            "{detail}"
        );
    }
    // An encrypted key cut short (no END line) is not taken for no key.
    let whole = std::fs::read_to_string(path("client.enc.key")).unwrap();
    let cut: String = whole
        .lines()
        .take(3)
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(path("client.cut.key"), cut).unwrap();
    let detail = refusal(&with("client.cut.key", Some(&path("key.password"))));
    let start = format!(
        "private key {}: is not a readable encrypted key (",
        path("client.cut.key")
    );
    assert!(detail.starts_with(&start), "{detail}");
}

/// A broker that wants a client certificate says so only after the TLS 1.3
/// handshake: the client gives up at once, saying what is missing, instead
/// of retrying until its connect timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_client_certificate_is_refused_at_once_and_named() {
    let (broker, dir) = tls_broker(true);
    let args = BrokerOptions {
        cert_file: None,
        key_file: None,
        ..trusted_args(&broker, &dir)
    };
    let started = std::time::Instant::now();
    let refused = MqttStore::connect(&args.settings().unwrap(), store_options())
        .await
        .err()
        .expect("refused without a client certificate")
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(refused.contains("ended the TLS session"), "{refused}");
    assert!(refused.contains("--cert-file"), "{refused}");
}
