//! One-to-one conversions between the plain-Rust types and the WIT ones.

pub mod to_wit {
    use super::super::elector::election::election_types as wit;
    use super::super::elector::election::state_store as store;
    use crate::types::*;

    pub fn hlc(hlc: Hlc) -> store::Hlc {
        store::Hlc {
            wall_clock_ms: hlc.wall_clock_ms,
            counter: hlc.counter,
            node_id: hlc.node_id,
        }
    }

    pub fn set_options(options: &SetOptions) -> store::SetOptions {
        store::SetOptions {
            condition: match options.condition {
                SetCondition::Unconditional => store::SetCondition::Unconditional,
                SetCondition::OnlyIfAbsent => store::SetCondition::OnlyIfAbsent,
                SetCondition::OnlyIfAbsentOrEqual => store::SetCondition::OnlyIfAbsentOrEqual,
            },
            expiry_ms: options.expiry_ms,
            fencing_token: options.fencing_token.clone().map(hlc),
        }
    }

    pub fn store_error(error: StoreError) -> store::StoreError {
        use store::StoreError as W;
        match error {
            StoreError::Refused(kind) => match kind {
                StoreErrorKind::TimestampSkew => W::TimestampSkew,
                StoreErrorKind::FencingTokenRequired => W::FencingTokenRequired,
                StoreErrorKind::FencingTokenSkew => W::FencingTokenSkew,
                StoreErrorKind::FencingTokenLowerVersion => W::FencingTokenLowerVersion,
                StoreErrorKind::QuotaExceeded => W::QuotaExceeded,
                StoreErrorKind::SyntaxError => W::SyntaxError,
                StoreErrorKind::NotAuthorized => W::NotAuthorized,
                StoreErrorKind::UnknownCommand => W::UnknownCommand,
                StoreErrorKind::WrongNumberOfArguments => W::WrongNumberOfArguments,
                StoreErrorKind::MissingTimestamp => W::MissingTimestamp,
                StoreErrorKind::MalformedTimestamp => W::MalformedTimestamp,
                StoreErrorKind::KeyLengthZero => W::KeyLengthZero,
                StoreErrorKind::Service(text) => W::Service(text),
            },
            StoreError::Timeout => W::Timeout,
            StoreError::Disconnected => W::Disconnected,
            StoreError::Protocol(text) => W::Protocol(text),
        }
    }

    pub fn election_error(error: ElectionError) -> wit::ElectionError {
        match error {
            ElectionError::InvalidArgument(text) => wit::ElectionError::InvalidArgument(text),
            ElectionError::Cancelled => wit::ElectionError::Cancelled,
            ElectionError::Timeout => wit::ElectionError::Timeout,
            ElectionError::FencingRefused(refusal) => {
                wit::ElectionError::FencingRefused(match refusal {
                    FencingRefusal::TokenRequired => wit::FencingRefusal::TokenRequired,
                    FencingRefusal::LowerVersion => wit::FencingRefusal::LowerVersion,
                    FencingRefusal::TokenTooFarAhead => wit::FencingRefusal::TokenTooFarAhead,
                })
            }
            ElectionError::OutcomeUnknown => wit::ElectionError::OutcomeUnknown,
            ElectionError::Store(error) => wit::ElectionError::Store(store_error(error)),
        }
    }

    pub fn campaign_response(response: CampaignResponse) -> wit::CampaignResponse {
        wit::CampaignResponse {
            is_leader: response.is_leader,
            fencing_token: response.fencing_token.map(hlc),
        }
    }

    pub fn leader(leader: Leader) -> wit::Leader {
        wit::Leader {
            name: leader.name,
            session_id: leader.session_id,
        }
    }

    fn lease(lease: Lease) -> wit::Lease {
        wit::Lease {
            fencing_token: hlc(lease.fencing_token),
            valid_until: lease.valid_until.0,
        }
    }

    pub fn candidate_event(event: CandidateEvent) -> wit::CandidateEvent {
        use wit::CandidateEvent as W;
        match event {
            CandidateEvent::Elected(l) => W::Elected(lease(l)),
            CandidateEvent::Renewed(l) => W::Renewed(lease(l)),
            CandidateEvent::LeaseShortened(l) => W::LeaseShortened(lease(l)),
            CandidateEvent::LeadershipLost(reason) => W::LeadershipLost(match reason {
                LostReason::Resigned => wit::LostReason::Resigned,
                LostReason::LeaseExpired => wit::LostReason::LeaseExpired,
                LostReason::TakenOver => wit::LostReason::TakenOver,
                LostReason::LinkSilent => wit::LostReason::LinkSilent,
            }),
            CandidateEvent::RenewalFailed(error) => W::RenewalFailed(election_error(error)),
            CandidateEvent::CampaignResult(response) => {
                W::CampaignResult(campaign_response(response))
            }
            CandidateEvent::LeadershipChanged(change) => {
                W::LeadershipChanged(wit::LeadershipChange {
                    new_state: match change.new_state {
                        PositionState::LeaderElected => wit::PositionState::LeaderElected,
                        PositionState::NoLeader => wit::PositionState::NoLeader,
                    },
                    new_leader: change.new_leader.map(leader),
                    timestamp_ms: change.timestamp_ms,
                    version: hlc(change.version),
                })
            }
        }
    }
}

pub mod from_wit {
    use super::super::elector::election::state_store as store;
    use super::super::exports::elector::election::leader_election as api;
    use crate::types::*;

    pub fn hlc(hlc: store::Hlc) -> Hlc {
        Hlc {
            wall_clock_ms: hlc.wall_clock_ms,
            counter: hlc.counter,
            node_id: hlc.node_id,
        }
    }

    pub fn candidate_options(options: api::CandidateOptions) -> CandidateOptions {
        CandidateOptions {
            position: options.position,
            name: options.name,
            session_id: options.session_id,
            safety_margin_ms: options.safety_margin_ms,
            request_lifetime_ms: options.request_lifetime_ms,
        }
    }

    pub fn set_response(response: store::SetResponse) -> SetResponse {
        SetResponse {
            applied: response.applied,
            version: response.version.map(hlc),
        }
    }

    pub fn release_guard(guard: store::ReleaseGuard) -> ReleaseGuard {
        ReleaseGuard {
            trusted_since: Instant(guard.trusted_since),
            trusted_until: Instant(guard.trusted_until),
            may_land_until: guard.may_land_until.map(Instant),
        }
    }

    pub fn versioned_value(value: store::VersionedValue) -> VersionedValue {
        VersionedValue {
            value: value.value,
            version: hlc(value.version),
        }
    }

    pub fn delete_outcome(outcome: store::DeleteOutcome) -> DeleteOutcome {
        match outcome {
            store::DeleteOutcome::Deleted => DeleteOutcome::Deleted,
            store::DeleteOutcome::Absent => DeleteOutcome::Absent,
            store::DeleteOutcome::ValueMismatch => DeleteOutcome::ValueMismatch,
        }
    }

    pub fn key_notification(notification: store::KeyNotification) -> KeyNotification {
        KeyNotification {
            event: match notification.change {
                store::KeyChange::Set(value) => KeyEvent::Set(value),
                store::KeyChange::Deleted => KeyEvent::Delete,
            },
            version: hlc(notification.version),
        }
    }

    pub fn store_error(error: store::StoreError) -> StoreError {
        use store::StoreError as W;
        let refused = |kind| StoreError::Refused(kind);
        match error {
            W::TimestampSkew => refused(StoreErrorKind::TimestampSkew),
            W::FencingTokenRequired => refused(StoreErrorKind::FencingTokenRequired),
            W::FencingTokenSkew => refused(StoreErrorKind::FencingTokenSkew),
            W::FencingTokenLowerVersion => refused(StoreErrorKind::FencingTokenLowerVersion),
            W::QuotaExceeded => refused(StoreErrorKind::QuotaExceeded),
            W::SyntaxError => refused(StoreErrorKind::SyntaxError),
            W::NotAuthorized => refused(StoreErrorKind::NotAuthorized),
            W::UnknownCommand => refused(StoreErrorKind::UnknownCommand),
            W::WrongNumberOfArguments => refused(StoreErrorKind::WrongNumberOfArguments),
            W::MissingTimestamp => refused(StoreErrorKind::MissingTimestamp),
            W::MalformedTimestamp => refused(StoreErrorKind::MalformedTimestamp),
            W::KeyLengthZero => refused(StoreErrorKind::KeyLengthZero),
            W::Service(text) => refused(StoreErrorKind::Service(text)),
            W::Timeout => StoreError::Timeout,
            W::Disconnected => StoreError::Disconnected,
            W::Protocol(text) => StoreError::Protocol(text),
        }
    }
}
