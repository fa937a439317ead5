//! What the MQTT client backend and the state-store service share: how to
//! connect ([`settings`]) and the MQTT 5 properties of the AIO state-store
//! protocol ([`properties`]), and a guard against a rumqttc reconnect wedge
//! ([`session`]).

pub mod properties;
pub mod session;
pub mod settings;

pub use settings::{BROKER_HEADING, BrokerArgs, ConnectionSettings, SettingsError};
