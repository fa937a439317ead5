//! What the MQTT client backend and the state-store service share: how to
//! connect ([`settings`]), the MQTT 5 properties of the AIO state-store
//! protocol ([`properties`]), a guard against a rumqttc reconnect wedge
//! ([`session`]), and TLS: roots, client certificates and keys ([`tls`]).

mod error;
pub mod properties;
pub mod session;
pub mod settings;
pub mod tls;

pub use settings::{BrokerOptions, ConnectionSettings, SettingsError};
