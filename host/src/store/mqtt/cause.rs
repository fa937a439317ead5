//! Why a connection to the broker failed, in words an operator can act on:
//! nothing listening, a name that does not resolve, no answer at all, TLS,
//! or the broker saying no (and why). The same "no connection" after ten
//! seconds for all of these sends people looking in the wrong place.

use rumqttc::v5::ConnectionError;
use rumqttc::v5::mqttbytes::v5::ConnectReturnCode;

/// What went wrong connecting to `address` (`host:port`).
pub fn describe(error: &ConnectionError, address: &str) -> String {
    match error {
        ConnectionError::Io(io) => describe_io(io, address),
        ConnectionError::Timeout(_) => format!(
            "no answer from {address} (the address may be wrong, or a firewall drops the \
             connection)"
        ),
        ConnectionError::Tls(tls) => {
            let text = tls.to_string();
            // rustls's errors reach here wrapped in rumqttc's I/O wording.
            let text = text.strip_prefix("I/O: other error: ").unwrap_or(&text);
            format!("TLS failed: {text}")
        }
        ConnectionError::ConnectionRefused(code) => refused(*code),
        ConnectionError::MqttState(_) if tls_alert(error).is_some() => {
            let alert = tls_alert(error).unwrap_or_default();
            let hint = if alert.contains("CertificateRequired") {
                " (it wants a client certificate: --cert-file and --key-file)"
            } else {
                ""
            };
            format!("{address} ended the TLS session: {alert}{hint}")
        }
        ConnectionError::MqttState(state) => format!("the connection to {address} broke: {state}"),
        other => format!("the connection to {address} failed: {other}"),
    }
}

/// The TLS alert a broker sent, if the connection ended with one (rustls
/// reports it as an I/O error on the next read).
pub fn tls_alert(error: &ConnectionError) -> Option<String> {
    let text = error.to_string();
    let at = text.find("received fatal alert")?;
    Some(text[at..].to_owned())
}

fn describe_io(io: &std::io::Error, address: &str) -> String {
    use std::io::ErrorKind;
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    match io.kind() {
        ErrorKind::ConnectionRefused => {
            format!("connection refused: nothing listens on {address} (is the broker running?)")
        }
        ErrorKind::TimedOut => format!("no answer from {address}"),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            format!("{address} closed the connection ({io})")
        }
        _ if is_name_lookup_failure(io) => format!("cannot resolve the host name {host:?}"),
        _ => format!("cannot connect to {address}: {io}"),
    }
}

/// Name lookups fail with an `Other` (or `Uncategorized`) error whose text
/// is the resolver's; there is no kind of its own.
fn is_name_lookup_failure(io: &std::io::Error) -> bool {
    let text = io.to_string().to_lowercase();
    [
        "lookup",
        "name or service not known",
        "no address",
        "nodename nor servname",
    ]
    .iter()
    .any(|hint| text.contains(hint))
}

/// The broker's refusal of a CONNECT.
pub fn refused(code: ConnectReturnCode) -> String {
    use ConnectReturnCode::*;
    let why = match code {
        BadUserNamePassword => "bad user name or password".to_owned(),
        NotAuthorized => "not authorized".to_owned(),
        BadAuthenticationMethod => {
            "it does not accept this authentication method (K8S-SAT needs the AIO broker)"
                .to_owned()
        }
        BadClientId | ClientIdentifierNotValid => "the client id is not valid".to_owned(),
        Banned => "this client is banned".to_owned(),
        ServerUnavailable | ServiceUnavailable | ServerBusy => {
            "it is busy or unavailable".to_owned()
        }
        RefusedProtocolVersion | UnsupportedProtocolVersion => {
            "it does not speak MQTT 5".to_owned()
        }
        other => words(&format!("{other:?}")),
    };
    format!("the broker refused the connection: {why}")
}

/// Why the broker closed a connection it had accepted.
pub fn disconnect_reason(code: rumqttc::v5::mqttbytes::v5::DisconnectReasonCode) -> String {
    words(&format!("{code:?}"))
}

/// `ServerMoved` → `server moved`.
fn words(camel: &str) -> String {
    let mut text = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            text.push(' ');
        }
        text.extend(c.to_lowercase());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_reads_as_what_to_check() {
        let refused_io =
            ConnectionError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            describe(&refused_io, "127.0.0.1:1"),
            "connection refused: nothing listens on 127.0.0.1:1 (is the broker running?)"
        );
        let dns = ConnectionError::Io(std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        assert_eq!(
            describe(&dns, "nowhere.invalid:1883"),
            "cannot resolve the host name \"nowhere.invalid\""
        );
        assert_eq!(
            describe(
                &ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword),
                "h:1"
            ),
            "the broker refused the connection: bad user name or password"
        );
        assert_eq!(
            refused(ConnectReturnCode::ConnectionRateExceeded),
            "the broker refused the connection: connection rate exceeded"
        );
    }
}
