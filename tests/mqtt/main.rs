//! The host against a real MQTT broker: mosquitto on a free loopback port,
//! `elector statestore` as the state store, and `elector` processes as
//! candidates. Needs mosquitto installed (`.ci/run` installs it).

mod acl;
mod bounds;
mod campaign;
mod command;
mod errors;
#[allow(dead_code)] // each test binary uses part of it
mod etcd_store;
mod fairness;
mod ha;
mod hostile;
mod instance;
mod lapse;
mod lifetime;
mod logs;
mod processes;
mod raw;
mod reconnect;
mod release;
mod responses;
mod restart;
mod service_metrics;
#[allow(dead_code)] // shared with tests/modules, tests/aio_sdk and tests/chaos
mod support;
mod tls;
mod walkthrough;
mod wire;
