//! What a store's [`Reply`] means for the command that asked for it.
//!
//! Every client of the store (the embedded backend, the MQTT client, the
//! simulator) reads replies the same way: `+OK` or `:-1` for SET, `$…` for
//! GET, `:1`/`:0`/`:-1` for DEL and VDEL. This is that reading, once; each
//! client maps the outcomes onto its own types. The readings are on
//! [`Reply`] alone, for a client that may get a reply without a version
//! (an MQTT response without `__ts`); [`crate::client`]'s readings add the
//! version where an operation needs it.

use crate::command::Reply;
use crate::error::StoreErrorKind;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_read_as_outcomes() {
        assert!(Reply::Ok.set_applied().unwrap());
        assert!(!Reply::NotApplied.set_applied().unwrap());
        assert_eq!(Reply::Value(None).get_value(), Ok(None));
        assert_eq!(
            Reply::Value(Some(b"v".to_vec())).get_value(),
            Ok(Some(b"v".to_vec()))
        );
        assert_eq!(
            Reply::Count(-1).delete_outcome(),
            Ok(DeleteOutcome::ValueMismatch)
        );
        assert_eq!(Reply::Count(0).delete_outcome(), Ok(DeleteOutcome::Absent));
        assert_eq!(Reply::Count(1).delete_outcome(), Ok(DeleteOutcome::Deleted));
        assert_eq!(Reply::Ok.keynotify_outcome(), Ok(()));
    }

    #[test]
    fn errors_and_wrong_shapes_are_told_apart() {
        assert_eq!(
            Reply::Error(StoreErrorKind::SyntaxError).delete_outcome(),
            Err(ReplyError::Refused(StoreErrorKind::SyntaxError))
        );
        assert_eq!(
            Reply::Count(3).set_applied(),
            Err(ReplyError::Unexpected(Reply::Count(3)))
        );
        assert_eq!(
            Reply::Count(7).delete_outcome(),
            Err(ReplyError::Unexpected(Reply::Count(7)))
        );
    }
}
