//! What a request was, as a number: a SipHash of everything it carried,
//! keyed, so nobody can make two requests collide on purpose, and written
//! out byte by byte, so a restarted service (even one built by another
//! compiler) computes the same digest for the same request with the same
//! key.

use std::hash::{BuildHasher, Hasher, RandomState};

use siphasher::sip::SipHasher13;

use super::Incoming;
use super::replay::Digest;

/// The secret key of request digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DigestKey(pub [u8; 16]);

impl DigestKey {
    /// A key from the operating system's randomness (which the standard
    /// library's `RandomState` draws on, so no other crate is needed).
    pub fn random() -> DigestKey {
        let mut key = [0; 16];
        for (half, seed) in key.chunks_mut(8).zip([0u8, 1]) {
            half.copy_from_slice(&RandomState::new().hash_one(seed).to_le_bytes());
        }
        DigestKey(key)
    }

    /// The digest of `incoming`: its payload, response topic and user
    /// properties, each length-prefixed.
    pub(super) fn digest(&self, incoming: &Incoming<'_>) -> Digest {
        let mut hasher = SipHasher13::new_with_key(&self.0);
        let mut part = |bytes: &[u8]| {
            hasher.write_u64(bytes.len() as u64);
            hasher.write(bytes);
        };
        part(incoming.payload);
        match incoming.response_topic {
            Some(topic) => part(topic.as_bytes()),
            None => part(&[0xff]),
        }
        for (name, value) in incoming.user_properties {
            part(name.as_bytes());
            part(value.as_bytes());
        }
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(payload: &'a [u8], properties: &'a [(String, String)]) -> Incoming<'a> {
        Incoming {
            response_topic: Some("clients/a/r"),
            correlation: Some(b"1"),
            user_properties: properties,
            payload,
        }
    }

    #[test]
    fn a_digest_depends_on_the_key_and_on_every_part_but_not_on_the_process() {
        let key = DigestKey([7; 16]);
        let properties = [("__ts".to_owned(), "1:0:a".to_owned())];
        let digest = key.digest(&incoming(b"GET", &properties));
        // Pinned: the same request and key give the same digest in every
        // process and build.
        assert_eq!(digest, key.digest(&incoming(b"GET", &properties)));
        assert_eq!(digest, 0xb69d_a4f3_b82a_5f8b, "{digest:#x}");
        assert_ne!(
            digest,
            DigestKey([8; 16]).digest(&incoming(b"GET", &properties))
        );
        assert_ne!(digest, key.digest(&incoming(b"GET ", &properties)));
        let moved = [("__ts".to_owned(), "1:0:".to_owned())];
        assert_ne!(digest, key.digest(&incoming(b"GET", &moved)));
        assert_ne!(DigestKey::random(), DigestKey::random());
    }
}
