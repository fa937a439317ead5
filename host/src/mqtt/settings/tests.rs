use super::*;
use crate::mqtt::tls::Roots;

fn args() -> BrokerOptions {
    BrokerOptions::default()
}

#[test]
fn urls_give_host_port_and_tls() {
    let parse = |url: &str| parse_broker_url(url);
    assert_eq!(
        parse("mqtt://localhost:1884").unwrap(),
        ("localhost".into(), Some(1884), Some(false))
    );
    assert_eq!(
        parse("mqtts://broker.example").unwrap(),
        ("broker.example".into(), None, Some(true))
    );
    assert_eq!(
        parse("mqtt://[::1]:1883/").unwrap(),
        ("::1".into(), Some(1883), Some(false))
    );
    for bad in [
        "http://x",
        "mqtt://",
        "mqtt://:1883",
        "mqtt://h:0",
        "mqtt://h:99999",
        "mqtt://u@h",
        "mqtt://h/path",
        "mqtt://[::1",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn defaults_follow_tls() {
    let mut plain = args();
    plain.broker = Some("mqtt://h".into());
    let settings = plain.settings().unwrap();
    assert_eq!((settings.port, settings.tls.is_none()), (1883, true));
    assert!(settings.clean_start);
    assert_eq!(settings.keep_alive, Duration::from_secs(60));
    let mut secure = args();
    secure.hostname = Some("h".into());
    secure.tls = Some(true);
    let ca = std::env::temp_dir().join(format!("elector-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, TEST_CA).unwrap();
    secure.ca_file = Some(ca.clone());
    let settings = secure.settings().unwrap();
    assert_eq!(settings.port, 8883);
    assert_eq!(
        settings.tls.unwrap().roots(),
        &Roots::CaFile {
            path: ca.clone(),
            certificates: 1
        }
    );
    std::fs::remove_file(ca).unwrap();
}

/// A self-signed P-256 CA (`openssl req -x509 -newkey ec
/// -pkeyopt ec_paramgen_curve:P-256`): roots are parsed, not checked
/// for expiry, so a fixed one serves.
const TEST_CA: &str = include_str!("test-ca.pem");

#[test]
fn a_ca_file_without_certificates_is_refused_before_connecting() {
    let ca = std::env::temp_dir().join(format!("elector-bad-ca-{}.pem", std::process::id()));
    let mut secure = args();
    secure.broker = Some("mqtts://h".into());
    secure.ca_file = Some(ca.clone());
    for (contents, reason) in [
        ("", "holds no PEM certificate"),
        (
            "-----BEGIN CERTIFICATE-----\nMIIB\n",
            "has a PEM CERTIFICATE section without its END line",
        ),
    ] {
        std::fs::write(&ca, contents).unwrap();
        let error = secure.settings().unwrap_err();
        assert_eq!(
            error,
            SettingsError::Unusable {
                what: "CA file",
                path: ca.clone(),
                reason: reason.into()
            }
        );
        assert_eq!(
            error.to_string(),
            format!("CA file {}: {reason}", ca.display())
        );
    }
    std::fs::remove_file(ca).unwrap();
}

#[test]
fn impossible_combinations_are_refused_with_reasons() {
    let mut nothing = args();
    assert_eq!(nothing.settings().unwrap_err(), SettingsError::NoBroker);
    nothing.broker = Some("mqtt://a".into());
    nothing.hostname = Some("b".into());
    assert_eq!(nothing.settings().unwrap_err(), SettingsError::TwoBrokers);

    let mut sat_and_user = args();
    sat_and_user.hostname = Some("h".into());
    sat_and_user.sat_file = Some("/tmp/sat".into());
    sat_and_user.username = Some("me".into());
    assert_eq!(
        sat_and_user.settings().unwrap_err(),
        SettingsError::SatWithUsername
    );

    let mut ca_without_tls = args();
    ca_without_tls.broker = Some("mqtt://h".into());
    ca_without_tls.ca_file = Some("/tmp/ca.pem".into());
    assert_eq!(
        ca_without_tls.settings().unwrap_err(),
        SettingsError::NeedsTls("--ca-file")
    );

    let mut key_password_without_tls = args();
    key_password_without_tls.broker = Some("mqtt://h".into());
    key_password_without_tls.key_password_file = Some("/tmp/pw".into());
    assert_eq!(
        key_password_without_tls.settings().unwrap_err(),
        SettingsError::NeedsTls("--key-password-file")
    );

    let mut key_password_alone = args();
    key_password_alone.broker = Some("mqtts://h".into());
    key_password_alone.key_password_file = Some("/tmp/pw".into());
    assert_eq!(
        key_password_alone.settings().unwrap_err(),
        SettingsError::KeyPasswordWithoutKey
    );
    assert_eq!(
        SettingsError::KeyPasswordWithoutKey.to_string(),
        "--key-password-file (AIO_TLS_KEY_PASSWORD_FILE) needs --key-file \
         (AIO_TLS_KEY_FILE), the key it decrypts"
    );

    let mut half_cert = args();
    half_cert.broker = Some("mqtts://h".into());
    half_cert.ca_file = Some("/tmp/ca.pem".into());
    half_cert.cert_file = Some("/tmp/c.pem".into());
    assert_eq!(
        half_cert.settings().unwrap_err(),
        SettingsError::HalfClientCertificate
    );

    let mut password_alone = args();
    password_alone.hostname = Some("h".into());
    password_alone.password_file = Some("/tmp/p".into());
    assert_eq!(
        password_alone.settings().unwrap_err(),
        SettingsError::PasswordWithoutUsername
    );

    let mut keep_alive = args();
    keep_alive.hostname = Some("h".into());
    for short in [0, 4] {
        keep_alive.keep_alive = Some(short);
        assert_eq!(
            keep_alive.settings().unwrap_err(),
            SettingsError::KeepAlive(short)
        );
    }
}

#[test]
fn secrets_are_read_from_files_without_trailing_newlines() {
    let dir = std::env::temp_dir().join(format!("elector-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let password = dir.join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "eyJ.token\n").unwrap();

    let mut with_password = args();
    with_password.hostname = Some("h".into());
    with_password.username = Some("me".into());
    with_password.password_file = Some(password);
    assert_eq!(
        with_password.settings().unwrap().credentials,
        Credentials::Password {
            username: "me".into(),
            password: "s3cret".into()
        }
    );

    let mut with_token = args();
    with_token.hostname = Some("h".into());
    with_token.sat_file = Some(token.clone());
    let settings = with_token.settings().unwrap();
    assert_eq!(
        settings.credentials,
        Credentials::ServiceAccountToken {
            file: token.clone(),
            token: b"eyJ.token".to_vec()
        }
    );
    assert_eq!(settings.token_file(), Some(token.as_path()));
    let options = settings.mqtt_options("me");
    assert_eq!(
        options.authentication_method().as_deref(),
        Some(SAT_AUTH_METHOD)
    );

    let mut missing = args();
    missing.hostname = Some("h".into());
    missing.sat_file = Some(dir.join("absent"));
    assert!(matches!(
        missing.settings().unwrap_err(),
        SettingsError::Read { .. }
    ));
    std::fs::remove_dir_all(dir).unwrap();
}
