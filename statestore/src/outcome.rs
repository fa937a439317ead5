//! What a [`Response`] means for the command that asked for it.
//!
//! Every client of the store (the embedded backend, the MQTT client, the
//! simulator) reads replies the same way: `+OK` or `:-1` for SET, `$…` for
//! GET, `:1`/`:0`/`:-1` for DEL and VDEL. This is that reading, once; each
//! client maps the outcomes onto its own types. The readings are on
//! [`Reply`] alone, for a client that may get a reply without a version
//! (an MQTT response without `__ts`), and on [`Response`] with its version.

use crate::command::{Reply, Response};
use crate::error::StoreErrorKind;
use crate::hlc::Hlc;

/// A reply that is not a success for its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// `-ERR`: the store refused the request.
    Refused(StoreErrorKind),
    /// A reply shape that does not answer this command: a protocol error.
    Unexpected(Reply),
}

/// What a DEL or VDEL did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// `:1`.
    Deleted,
    /// `:0`: no such key.
    Absent,
    /// `:-1`: VDEL found another value.
    ValueMismatch,
}

fn unexpected<T>(reply: Reply) -> Result<T, ReplyError> {
    match reply {
        Reply::Error(kind) => Err(ReplyError::Refused(kind)),
        other => Err(ReplyError::Unexpected(other)),
    }
}

impl Reply {
    /// SET: whether it applied.
    pub fn set_applied(self) -> Result<bool, ReplyError> {
        match self {
            Reply::Ok => Ok(true),
            Reply::NotApplied => Ok(false),
            other => unexpected(other),
        }
    }

    /// GET: the value, or `None` for a missing key.
    pub fn get_value(self) -> Result<Option<Vec<u8>>, ReplyError> {
        match self {
            Reply::Value(value) => Ok(value),
            other => unexpected(other),
        }
    }

    /// DEL or VDEL.
    pub fn delete_outcome(self) -> Result<DeleteOutcome, ReplyError> {
        match self {
            Reply::Count(1) => Ok(DeleteOutcome::Deleted),
            Reply::Count(0) => Ok(DeleteOutcome::Absent),
            Reply::Count(-1) => Ok(DeleteOutcome::ValueMismatch),
            other => unexpected(other),
        }
    }

    /// KEYNOTIFY (start or stop).
    pub fn keynotify_outcome(self) -> Result<(), ReplyError> {
        match self {
            Reply::Ok | Reply::Count(0) => Ok(()),
            other => unexpected(other),
        }
    }
}

/// The same readings with the version the store sent alongside, for
/// clients whose responses always carry one.
impl Response {
    /// SET: whether it applied, and the version the store reported.
    pub fn set_outcome(self) -> Result<(bool, Hlc), ReplyError> {
        let version = self.version;
        self.reply.set_applied().map(|applied| (applied, version))
    }

    /// GET: the value and its version, or `None` for a missing key.
    pub fn get_outcome(self) -> Result<Option<(Vec<u8>, Hlc)>, ReplyError> {
        let version = self.version;
        Ok(self.reply.get_value()?.map(|value| (value, version)))
    }

    /// DEL or VDEL.
    pub fn delete_outcome(self) -> Result<DeleteOutcome, ReplyError> {
        self.reply.delete_outcome()
    }

    /// KEYNOTIFY (start or stop).
    pub fn keynotify_outcome(self) -> Result<(), ReplyError> {
        self.reply.keynotify_outcome()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(reply: Reply) -> Response {
        Response {
            reply,
            version: Hlc::new(5, 1, "n"),
        }
    }

    #[test]
    fn replies_read_as_outcomes() {
        assert!(response(Reply::Ok).set_outcome().unwrap().0);
        assert!(!response(Reply::NotApplied).set_outcome().unwrap().0);
        assert_eq!(response(Reply::Value(None)).get_outcome(), Ok(None));
        assert_eq!(
            response(Reply::Value(Some(b"v".to_vec())))
                .get_outcome()
                .unwrap()
                .unwrap()
                .0,
            b"v"
        );
        assert_eq!(
            response(Reply::Count(-1)).delete_outcome(),
            Ok(DeleteOutcome::ValueMismatch)
        );
        assert_eq!(
            response(Reply::Count(0)).delete_outcome(),
            Ok(DeleteOutcome::Absent)
        );
        assert_eq!(
            response(Reply::Count(1)).delete_outcome(),
            Ok(DeleteOutcome::Deleted)
        );
        assert_eq!(response(Reply::Ok).keynotify_outcome(), Ok(()));
    }

    #[test]
    fn errors_and_wrong_shapes_are_told_apart() {
        assert_eq!(
            response(Reply::Error(StoreErrorKind::SyntaxError)).delete_outcome(),
            Err(ReplyError::Refused(StoreErrorKind::SyntaxError))
        );
        assert_eq!(
            response(Reply::Count(3)).set_outcome(),
            Err(ReplyError::Unexpected(Reply::Count(3)))
        );
        assert_eq!(
            response(Reply::Count(7)).delete_outcome(),
            Err(ReplyError::Unexpected(Reply::Count(7)))
        );
    }
}
