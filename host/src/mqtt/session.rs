//! Keeping a rumqttc event loop usable across reconnects: a parked publish
//! that a lost session would strand, and a service account token that
//! expired since the last connect.
//!
//! rumqttc 0.25 parks a QoS 1 publish whose packet id is still in flight
//! (a "collision") and takes no new requests until the broker acknowledges
//! the older publish with that id. When the connection drops and the broker
//! answers the reconnect with `session_present = false`, that acknowledgement
//! can never come: the event loop keeps pinging and reconnecting but never
//! sends another request (upstream issue bytebeamio/rumqtt#1056). Under
//! repeated broker restarts this wedged every replica of the chaos test.

use std::path::Path;

use rumqttc::v5::EventLoop;

/// Called for every CONNACK: when the session is new, forgets the parked
/// publish so the event loop takes requests again.
///
/// The parked publish is dropped, not re-sent. For a state-store request its
/// caller has already been failed with a retryable error when the link went
/// down, and a late re-send could apply it after the caller moved on. For a
/// service response, the requester's own timeout covers the loss, as it
/// does for every other response the lost session took with it.
pub fn forget_parked_publish(event_loop: &mut EventLoop, session_present: bool) {
    if session_present {
        // The broker still holds the session: it re-acknowledges the older
        // publish, and rumqttc releases the parked one by itself.
        return;
    }
    if let Some(parked) = event_loop.state.collision.take() {
        tracing::debug!(
            packet_id = parked.pkid,
            "dropped a publish parked behind a packet id of the lost session"
        );
    }
}

/// Called after the connection drops, before the event loop reconnects:
/// puts the token file's current contents in the next CONNECT. A file that
/// cannot be read (mid-rotation, say) keeps the previous token, with a
/// warning; the broker decides whether that one is still good.
pub fn reload_token(event_loop: &mut EventLoop, file: &Path) {
    match super::settings::read_token(file) {
        Ok(token) if !token.is_empty() => {
            event_loop
                .options
                .set_authentication_data(Some(token.into()));
        }
        Ok(_) => {
            tracing::warn!(file = %file.display(), "service account token file is empty; keeping the previous token")
        }
        Err(error) => tracing::warn!(%error, "keeping the previous service account token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::Publish;
    use rumqttc::v5::{AsyncClient, MqttOptions};

    fn event_loop_with_parked_publish() -> EventLoop {
        let (_client, mut event_loop) =
            AsyncClient::new(MqttOptions::new("parked", "127.0.0.1", 1), 1);
        let mut publish = Publish::new("topic", QoS::AtLeastOnce, "payload", None);
        publish.pkid = 7;
        event_loop.state.collision = Some(publish);
        event_loop
    }

    #[test]
    fn a_reconnect_sends_the_token_the_file_holds_now() {
        let file = std::env::temp_dir().join(format!("elector-sat-{}", std::process::id()));
        std::fs::write(&file, "first\n").unwrap();
        let (_client, mut event_loop) =
            AsyncClient::new(MqttOptions::new("sat", "127.0.0.1", 1), 1);
        reload_token(&mut event_loop, &file);
        assert_eq!(
            event_loop.options.authentication_data().as_deref(),
            Some(&b"first"[..])
        );
        // Kubernetes rotated the token.
        std::fs::write(&file, "second").unwrap();
        reload_token(&mut event_loop, &file);
        assert_eq!(
            event_loop.options.authentication_data().as_deref(),
            Some(&b"second"[..])
        );
        // Mid-rotation the file may be missing: the last good token stays.
        std::fs::remove_file(&file).unwrap();
        reload_token(&mut event_loop, &file);
        assert_eq!(
            event_loop.options.authentication_data().as_deref(),
            Some(&b"second"[..])
        );
    }

    #[test]
    fn a_new_session_releases_the_parked_publish() {
        let mut event_loop = event_loop_with_parked_publish();
        forget_parked_publish(&mut event_loop, false);
        assert!(event_loop.state.collision.is_none());
    }

    #[test]
    fn a_resumed_session_keeps_it_for_the_broker_to_acknowledge() {
        let mut event_loop = event_loop_with_parked_publish();
        forget_parked_publish(&mut event_loop, true);
        assert_eq!(event_loop.state.collision.map(|p| p.pkid), Some(7));
    }
}
