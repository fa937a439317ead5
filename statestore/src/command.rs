//! The request and response model: what a client asks the state store and
//! what it answers, already decoded from RESP3 and MQTT user properties.

use crate::error::StoreErrorKind;
use crate::hlc::Hlc;

/// When a SET applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SetCondition {
    /// Always (plain `SET`).
    #[default]
    Unconditional,
    /// Only when the key does not exist (`NX`).
    OnlyIfAbsent,
    /// Only when the key does not exist or already holds exactly this value
    /// (`NEX`): how a lock is acquired and renewed by the same holder.
    OnlyIfAbsentOrEqual,
}

/// One state-store command (the RESP3 array of a request).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `SET key value [NX|NEX] [PX expiry_ms]`.
    Set {
        /// The key to write.
        key: Vec<u8>,
        /// The value to store.
        value: Vec<u8>,
        /// When the write applies (`NX`, `NEX` or always).
        condition: SetCondition,
        /// `PX`: the key expires this many ms after the write; `None` keeps
        /// it until deleted. `Some(0)` is a syntax error.
        expiry_ms: Option<u64>,
    },
    /// `GET key`.
    Get {
        /// The key to read.
        key: Vec<u8>,
    },
    /// `DEL key`.
    Del {
        /// The key to delete.
        key: Vec<u8>,
    },
    /// `VDEL key value`: delete only if the key holds exactly `value`.
    VDel {
        /// The key to delete.
        key: Vec<u8>,
        /// The value the key must hold for the delete to happen.
        value: Vec<u8>,
    },
    /// `KEYNOTIFY key [STOP]`: start (or stop) notifications about `key` for
    /// the requesting client.
    KeyNotify {
        /// The key to watch.
        key: Vec<u8>,
        /// `STOP`: end the registration instead of starting one.
        stop: bool,
    },
}

impl Command {
    /// The key the command is about (every command has exactly one).
    pub fn key(&self) -> &[u8] {
        match self {
            Self::Set { key, .. }
            | Self::Get { key }
            | Self::Del { key }
            | Self::VDel { key, .. }
            | Self::KeyNotify { key, .. } => key,
        }
    }

    /// The command's verb as it travels (`SET`, `GET`, `DEL`, `VDEL`,
    /// `KEYNOTIFY`).
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Set { .. } => "SET",
            Self::Get { .. } => "GET",
            Self::Del { .. } => "DEL",
            Self::VDel { .. } => "VDEL",
            Self::KeyNotify { .. } => "KEYNOTIFY",
        }
    }

    /// True for the commands that change data and so obey fencing tokens
    /// (SET, DEL, VDEL).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Self::Set { .. } | Self::Del { .. } | Self::VDel { .. }
        )
    }
}

/// A command with its sender and the HLC user properties that came with it.
///
/// `C` names the client (for MQTT, its client id from `__srcId`); the state
/// store keys notification registrations by it and needs `C: Clone + Ord`,
/// so notification fan-out happens in a deterministic order (the simulator
/// relies on that).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request<C> {
    /// Who sent it; notifications for its KEYNOTIFY registrations go here.
    pub client: C,
    /// What it asks.
    pub command: Command,
    /// `__ts`: the client's HLC. Required on SET, optional elsewhere.
    pub timestamp: Option<Hlc>,
    /// `__ft`: the fencing token guarding a SET, DEL or VDEL.
    pub fencing_token: Option<Hlc>,
}

impl<C> Request<C> {
    /// A request without `__ts` or `__ft`; add them with
    /// [`Request::with_timestamp`] and [`Request::with_fencing_token`].
    pub fn new(client: C, command: Command) -> Self {
        Self {
            client,
            command,
            timestamp: None,
            fencing_token: None,
        }
    }

    /// Sets `__ts`.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: Hlc) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Sets `__ft`.
    #[must_use]
    pub fn with_fencing_token(mut self, fencing_token: Hlc) -> Self {
        self.fencing_token = Some(fencing_token);
        self
    }
}

/// The payload of a response, one variant per RESP3 answer shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    /// `+OK`: SET applied, KEYNOTIFY accepted (or a watched key's STOP).
    Ok,
    /// `:-1`: SET not applied because of its NX/NEX condition.
    NotApplied,
    /// GET: `$N` with the value, or `$-1` for a missing key.
    Value(Option<Vec<u8>>),
    /// `:N`: keys deleted by DEL/VDEL (`1` or `0`), `-1` for a VDEL whose
    /// value did not match, `0` for `KEYNOTIFY … STOP` on an unwatched key.
    Count(i64),
    /// `-ERR <text>`.
    Error(StoreErrorKind),
}

/// What the store answers to one request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Response {
    /// The payload.
    pub reply: Reply,
    /// `__ts` to send back: the version of the write this request made, the
    /// stored version of the key it read or left alone, or the store's
    /// current version when there is no such key.
    pub version: Hlc,
}

/// Test fixture: one command of each kind, for tests that go through them
/// all.
#[cfg(test)]
impl Command {
    /// On `key`: a conditional SET of `value` with an expiry, GET, DEL,
    /// VDEL of `value`, and KEYNOTIFY to start and to stop, in that order.
    pub(crate) fn one_of_each(key: &[u8], value: &[u8]) -> [Command; 6] {
        let key = || key.to_vec();
        [
            Command::Set {
                key: key(),
                value: value.to_vec(),
                condition: SetCondition::OnlyIfAbsentOrEqual,
                expiry_ms: Some(10),
            },
            Command::Get { key: key() },
            Command::Del { key: key() },
            Command::VDel {
                key: key(),
                value: value.to_vec(),
            },
            Command::KeyNotify {
                key: key(),
                stop: false,
            },
            Command::KeyNotify {
                key: key(),
                stop: true,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_returns_the_key_of_every_command() {
        let commands = Command::one_of_each(b"a", b"v");
        for command in &commands {
            assert_eq!(command.key(), b"a");
        }
        let writes: Vec<bool> = commands.iter().map(Command::is_write).collect();
        assert_eq!(writes, [true, false, true, true, false, false]);
    }

    #[test]
    fn request_builder_sets_properties() {
        let ts = Hlc::new(1, 2, "c");
        let ft = Hlc::new(3, 4, "s");
        let request = Request::new("client", Command::Get { key: b"k".to_vec() })
            .with_timestamp(ts.clone())
            .with_fencing_token(ft.clone());
        assert_eq!(request.client, "client");
        assert_eq!(request.timestamp, Some(ts));
        assert_eq!(request.fencing_token, Some(ft));
    }

    #[test]
    fn default_condition_is_unconditional() {
        assert_eq!(SetCondition::default(), SetCondition::Unconditional);
    }
}
