//! What the MQTT client backend and the state-store service share: how to
//! connect ([`settings`]) and the MQTT 5 properties of the AIO state-store
//! protocol ([`properties`]).

pub mod properties;
pub mod settings;

pub use settings::{BrokerArgs, ConnectionSettings, SettingsError};
