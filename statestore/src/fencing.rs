//! Fencing-token rules.
//!
//! A key may be protected by a fencing token (an HLC, usually the version of
//! a won lock). Once it is, every write must present a token at least as new,
//! so a former lock holder that wakes up late cannot overwrite the work of
//! its successor.

use std::cmp::Ordering;

use crate::error::StoreErrorKind;
use crate::hlc::Hlc;

/// Decides whether a write presenting `presented` may touch a key protected
/// by `stored`: anything goes on an unprotected key; a protected one needs a
/// token, and one that is not older than the stored token.
pub(crate) fn check(stored: Option<&Hlc>, presented: Option<&Hlc>) -> Result<(), StoreErrorKind> {
    let Some(stored) = stored else {
        return Ok(());
    };
    match presented {
        None => Err(StoreErrorKind::FencingTokenRequired),
        Some(token) if token.cmp_version(stored) == Ordering::Less => {
            Err(StoreErrorKind::FencingTokenLowerVersion)
        }
        Some(_) => Ok(()),
    }
}

/// The token a key keeps after a SET that passed [`check`]: the newer of the
/// stored and the presented one (the stored one on a tie).
pub(crate) fn keep_newer(stored: Option<Hlc>, presented: Option<&Hlc>) -> Option<Hlc> {
    match (stored, presented) {
        (Some(stored), Some(token)) if token.is_newer_than(&stored) => Some(token.clone()),
        (Some(stored), _) => Some(stored),
        (None, token) => token.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(wall: u64, counter: u32) -> Hlc {
        Hlc::new(wall, counter, "s")
    }

    #[test]
    fn unprotected_key_accepts_any_write() {
        assert_eq!(check(None, None), Ok(()));
        assert_eq!(check(None, Some(&token(1, 0))), Ok(()));
    }

    #[test]
    fn protected_key_requires_a_token() {
        assert_eq!(
            check(Some(&token(5, 5)), None),
            Err(StoreErrorKind::FencingTokenRequired)
        );
    }

    #[test]
    fn protected_key_refuses_older_tokens() {
        let stored = token(5, 5);
        assert_eq!(
            check(Some(&stored), Some(&token(5, 4))),
            Err(StoreErrorKind::FencingTokenLowerVersion)
        );
        assert_eq!(
            check(Some(&stored), Some(&token(4, 99))),
            Err(StoreErrorKind::FencingTokenLowerVersion)
        );
    }

    #[test]
    fn protected_key_accepts_equal_and_newer_tokens() {
        let stored = token(5, 5);
        assert_eq!(check(Some(&stored), Some(&token(5, 5))), Ok(()));
        assert_eq!(
            check(Some(&stored), Some(&Hlc::new(5, 5, "other-node"))),
            Ok(()),
            "node id plays no part"
        );
        assert_eq!(check(Some(&stored), Some(&token(5, 6))), Ok(()));
        assert_eq!(check(Some(&stored), Some(&token(6, 0))), Ok(()));
    }

    #[test]
    fn keep_newer_keeps_the_maximum() {
        assert_eq!(keep_newer(None, None), None);
        assert_eq!(keep_newer(None, Some(&token(1, 0))), Some(token(1, 0)));
        assert_eq!(keep_newer(Some(token(3, 0)), None), Some(token(3, 0)));
        assert_eq!(
            keep_newer(Some(token(3, 0)), Some(&token(2, 0))),
            Some(token(3, 0))
        );
        assert_eq!(
            keep_newer(Some(token(3, 0)), Some(&token(3, 1))),
            Some(token(3, 1))
        );
        assert_eq!(
            keep_newer(Some(token(3, 0)), Some(&Hlc::new(3, 0, "x"))),
            Some(token(3, 0)),
            "a tie keeps the stored token"
        );
    }
}
