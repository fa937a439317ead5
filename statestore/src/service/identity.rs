//! Who a request comes from, as far as a service behind a plain MQTT broker
//! can check, and whether it may be answered at all.
//!
//! The broker does not tell the service who published a request: `__srcId`
//! is whatever the client wrote. What the broker *can* enforce is who reads
//! a topic (`pattern read clients/%c/#` in mosquitto; `docs/security.md`).
//! So the service ties a request's identity to its response topic: the
//! answer goes only to a topic under `clients/<id>/`, for the id the
//! request claims, and the client that reads it there is the one the
//! broker lets read `clients/<id>/`. A request naming any other topic could
//! make the service publish where its sender may not (a way around the
//! broker's publish ACLs), so it is dropped unanswered; so is one whose
//! correlation data or response topic is longer than the limits allow
//! (the service echoes the one and publishes to the other, and remembers
//! both for re-sends).

use crate::limits::Limits;
use crate::protocol;

use super::{Dropped, Incoming};

/// Every response topic a client may name starts with this and its id.
const CLIENT_TOPICS: &str = "clients/";

/// The client a request comes from, or why it gets no answer.
///
/// With `__srcId`, the response topic must lie under `clients/<__srcId>/`.
/// Without it, the id is the one in either documented response-topic form,
/// or else the first level after `clients/`. An id with a `/` is refused:
/// `clients/a/b/` lies under `clients/a/` too, so a broker's
/// `pattern read clients/%c/#` would let the client `a` read the answers of
/// a client `a/b`.
pub fn requester(incoming: &Incoming<'_>, limits: &Limits) -> Result<String, Dropped> {
    let topic = incoming.response_topic.ok_or(Dropped::NoResponseTopic)?;
    if topic.len() > limits.max_response_topic_bytes {
        return Err(Dropped::OversizedResponseTopic(topic.len()));
    }
    if let Some(correlation) = incoming.correlation
        && correlation.len() > limits.max_correlation_bytes
    {
        return Err(Dropped::OversizedCorrelation(correlation.len()));
    }
    if protocol::is_forbidden_response_topic(topic) {
        return Err(Dropped::ForbiddenResponseTopic(topic.to_owned()));
    }
    let claimed = incoming.property(protocol::SOURCE_ID);
    let client = match claimed {
        Some(id) => is_under_clients_topic(topic, id).then(|| id.to_owned()),
        None => protocol::client_id_from_response_topic(topic).or_else(|| first_level(topic)),
    };
    match client {
        Some(id) if id.contains('/') => Err(Dropped::SlashInClientId(id)),
        Some(id) => Ok(id),
        None => Err(Dropped::ForeignResponseTopic {
            topic: topic.to_owned(),
            claimed: claimed.map(str::to_owned),
        }),
    }
}

/// True when `topic` is `clients/<id>/` followed by at least one more byte.
fn is_under_clients_topic(topic: &str, id: &str) -> bool {
    !id.is_empty()
        && topic
            .strip_prefix(CLIENT_TOPICS)
            .and_then(|rest| rest.strip_prefix(id))
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty())
}

/// `<id>` of a topic `clients/<id>/...`.
fn first_level(topic: &str) -> Option<String> {
    let (id, _) = topic.strip_prefix(CLIENT_TOPICS)?.split_once('/')?;
    is_under_clients_topic(topic, id).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(
        topic: Option<&str>,
        source: Option<&str>,
        correlation: Option<&[u8]>,
    ) -> Result<String, Dropped> {
        let properties: Vec<(String, String)> = source
            .map(|id| (protocol::SOURCE_ID.to_owned(), id.to_owned()))
            .into_iter()
            .collect();
        let incoming = Incoming {
            response_topic: topic,
            correlation,
            user_properties: &properties,
            payload: b"",
        };
        requester(&incoming, &Limits::default())
    }

    fn foreign(topic: &str, claimed: Option<&str>) -> Result<String, Dropped> {
        Err(Dropped::ForeignResponseTopic {
            topic: topic.to_owned(),
            claimed: claimed.map(str::to_owned),
        })
    }

    /// A client's response topic in both documented forms: the SDK's and
    /// the one the AIO documentation spells out.
    fn both_response_topic_forms(client: &str) -> [String; 2] {
        [
            protocol::response_topic(client),
            format!("clients/{client}/services/statestore/_any_/command/invoke/response"),
        ]
    }

    #[test]
    fn both_documented_response_topics_identify_their_client() {
        for topic in both_response_topic_forms("node1") {
            assert_eq!(from(Some(&topic), Some("node1"), None), Ok("node1".into()));
            assert_eq!(from(Some(&topic), None, None), Ok("node1".into()));
        }
        assert_eq!(
            from(Some("clients/x/replies"), None, None),
            Ok("x".into()),
            "any topic under clients/<id>/"
        );
    }

    #[test]
    fn a_client_id_with_a_slash_is_refused_in_either_form() {
        for topic in both_response_topic_forms("a/b") {
            assert_eq!(
                from(Some(&topic), Some("a/b"), None),
                Err(Dropped::SlashInClientId("a/b".into()))
            );
            assert_eq!(
                from(Some(&topic), None, None),
                Err(Dropped::SlashInClientId("a/b".into()))
            );
        }
        assert_eq!(
            from(Some("clients/a/b/replies"), None, None),
            Ok("a".into()),
            "without __srcId and in no known form, the first level is the id"
        );
    }

    #[test]
    fn a_source_id_must_be_the_client_whose_topic_the_answer_goes_to() {
        let theirs = protocol::response_topic("victim");
        assert_eq!(
            from(Some(&theirs), Some("spoofer"), None),
            foreign(&theirs, Some("spoofer"))
        );
        let mine = protocol::response_topic("spoofer");
        assert_eq!(
            from(Some(&mine), Some("victim"), None),
            foreign(&mine, Some("victim"))
        );
        for (topic, id) in [
            ("clients/node1", "node1"),
            ("clients/node1/", "node1"),
            ("clients/node10/x", "node1"),
            ("clients//x", ""),
            ("xclients/node1/x", "node1"),
        ] {
            assert_eq!(
                from(Some(topic), Some(id), None),
                foreign(topic, Some(id)),
                "{topic}"
            );
        }
    }

    #[test]
    fn answers_never_go_outside_clients_topics() {
        for topic in [
            "factory/valve/cmd",
            "clients",
            "clients/",
            "clients/x",
            "clients//x",
            "clients/x/",
        ] {
            assert_eq!(
                from(Some(topic), None, None),
                foreign(topic, None),
                "{topic}"
            );
        }
        assert_eq!(
            from(Some("factory/valve/cmd"), Some("factory"), None),
            foreign("factory/valve/cmd", Some("factory"))
        );
    }

    #[test]
    fn missing_forbidden_and_oversized_topics_and_correlation_are_dropped() {
        assert_eq!(from(None, Some("c"), None), Err(Dropped::NoResponseTopic));
        assert_eq!(
            from(Some(protocol::REQUEST_TOPIC), None, None),
            Err(Dropped::ForbiddenResponseTopic(
                protocol::REQUEST_TOPIC.into()
            ))
        );
        let limits = Limits::default();
        let longest = format!(
            "clients/c/{}",
            "t".repeat(limits.max_response_topic_bytes - "clients/c/".len())
        );
        assert_eq!(from(Some(&longest), Some("c"), None), Ok("c".into()));
        let too_long = format!("{longest}t");
        assert_eq!(
            from(Some(&too_long), Some("c"), None),
            Err(Dropped::OversizedResponseTopic(too_long.len()))
        );
        let topic = protocol::response_topic("c");
        let largest = vec![7; limits.max_correlation_bytes];
        assert_eq!(
            from(Some(&topic), Some("c"), Some(&largest)),
            Ok("c".into())
        );
        let too_large = vec![7; limits.max_correlation_bytes + 1];
        assert_eq!(
            from(Some(&topic), Some("c"), Some(&too_large)),
            Err(Dropped::OversizedCorrelation(too_large.len()))
        );
    }
}
