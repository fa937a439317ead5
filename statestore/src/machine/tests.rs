//! Rule-by-rule tests of [`StateStore`].
//!
//! (One file for all of them, in the order of the rules in `machine.rs`, so
//! a rule and its test are found at the same place; bounds and the model
//! check have files of their own.)

use super::*;

const NODE: &str = "store";
/// A plausible wall clock: 2023-11-14.
pub(super) const T0: u64 = 1_700_000_000_000;

pub(super) type Store = StateStore<&'static str>;

fn store() -> Store {
    StateStore::new(NODE, Limits::default())
}

pub(super) fn store_with(limits: Limits) -> Store {
    StateStore::new(NODE, limits)
}

/// A client timestamp one second behind the store clock at `T0`.
fn client_ts() -> Hlc {
    Hlc::new(T0 - 1_000, 0, "client")
}

fn token(wall: u64, counter: u32) -> Hlc {
    Hlc::new(wall, counter, NODE)
}

pub(super) fn set(key: &str, value: &str) -> Command {
    set_with(key, value, SetCondition::Unconditional, None)
}

pub(super) fn set_px(key: &str, value: &str, px: u64) -> Command {
    set_with(key, value, SetCondition::Unconditional, Some(px))
}

pub(super) fn set_with(
    key: &str,
    value: &str,
    condition: SetCondition,
    expiry_ms: Option<u64>,
) -> Command {
    Command::Set {
        key: key.into(),
        value: value.into(),
        condition,
        expiry_ms,
    }
}

pub(super) fn get(key: &str) -> Command {
    Command::Get { key: key.into() }
}

pub(super) fn del(key: &str) -> Command {
    Command::Del { key: key.into() }
}

fn vdel(key: &str, value: &str) -> Command {
    Command::VDel {
        key: key.into(),
        value: value.into(),
    }
}

pub(super) fn keynotify(key: &str) -> Command {
    Command::KeyNotify {
        key: key.into(),
        stop: false,
    }
}

pub(super) fn stop(key: &str) -> Command {
    Command::KeyNotify {
        key: key.into(),
        stop: true,
    }
}

/// A request from client "a" with a valid `__ts`.
pub(super) fn req(command: Command) -> Request<&'static str> {
    Request::new("a", command).with_timestamp(client_ts())
}

fn fenced(command: Command, fencing_token: Hlc) -> Request<&'static str> {
    req(command).with_fencing_token(fencing_token)
}

pub(super) fn from(client: &'static str, command: Command) -> Request<&'static str> {
    Request::new(client, command).with_timestamp(client_ts())
}

/// Runs a request at `now` and returns the response only.
pub(super) fn run(store: &mut Store, now: u64, request: Request<&'static str>) -> Response {
    store.handle(now, request).0
}

/// Runs a request from client "a" at `T0` and returns the reply only.
pub(super) fn reply(store: &mut Store, command: Command) -> Reply {
    run(store, T0, req(command)).reply
}

pub(super) fn value(text: &str) -> Reply {
    Reply::Value(Some(text.into()))
}

pub(super) fn error(kind: StoreErrorKind) -> Reply {
    Reply::Error(kind)
}

fn delete_for(client: &'static str, key: &str, version: &Hlc) -> Notification<&'static str> {
    Notification {
        client,
        key: key.into(),
        event: KeyEvent::Delete,
        version: version.clone(),
    }
}

fn set_for(
    client: &'static str,
    key: &str,
    value: &str,
    version: &Hlc,
) -> Notification<&'static str> {
    Notification {
        client,
        key: key.into(),
        event: KeyEvent::Set(value.into()),
        version: version.clone(),
    }
}

// --- SET and GET -----------------------------------------------------------

#[test]
fn set_then_get_returns_value_and_its_version() {
    let mut store = store();
    let written = run(&mut store, T0, req(set("k", "v")));
    assert_eq!(written.reply, Reply::Ok);
    assert_eq!(written.version, token(T0, 0));
    let read = run(&mut store, T0 + 5, req(get("k")));
    assert_eq!(read.reply, value("v"));
    assert_eq!(
        read.version, written.version,
        "GET carries the key's version"
    );
    assert_eq!(store.len(), 1);
    assert!(!store.is_empty());
}

#[test]
fn get_of_missing_key_returns_none_and_current_version_without_ticking() {
    let mut store = store();
    let written = run(&mut store, T0, req(set("other", "v")));
    let read = run(&mut store, T0, Request::new("a", get("k")));
    assert_eq!(read.reply, Reply::Value(None));
    assert_eq!(read.version, written.version);
    assert_eq!(store.current_version(), written.version);
}

#[test]
fn new_store_is_empty_at_version_zero() {
    let store = store();
    assert!(store.is_empty());
    assert_eq!(store.len(), 0);
    assert_eq!(store.current_version(), token(0, 0));
    assert_eq!(store.next_expiry(), None);
    assert_eq!(store.watch_count(), 0);
    assert_eq!(store.limits(), &Limits::default());
}

#[test]
fn unconditional_set_overwrites_with_a_new_version() {
    let mut store = store();
    let first = run(&mut store, T0, req(set("k", "v1")));
    let second = run(&mut store, T0, req(set("k", "v2")));
    assert_eq!(second.reply, Reply::Ok);
    assert!(second.version.is_newer_than(&first.version));
    assert_eq!(reply(&mut store, get("k")), value("v2"));
}

#[test]
fn values_and_keys_are_binary_safe() {
    let mut store = store();
    let key = vec![0u8, 0xff, b'\r', b'\n'];
    let data = vec![0u8, 1, 2, 0xfe];
    let command = Command::Set {
        key: key.clone(),
        value: data.clone(),
        condition: SetCondition::Unconditional,
        expiry_ms: None,
    };
    assert_eq!(reply(&mut store, command), Reply::Ok);
    assert_eq!(
        reply(&mut store, Command::Get { key }),
        Reply::Value(Some(data))
    );
}

#[test]
fn empty_value_is_a_value() {
    let mut store = store();
    assert_eq!(reply(&mut store, set("k", "")), Reply::Ok);
    assert_eq!(reply(&mut store, get("k")), value(""));
}

#[test]
fn nx_applies_only_when_absent() {
    let mut store = store();
    let first = run(
        &mut store,
        T0,
        req(set_with("k", "v1", SetCondition::OnlyIfAbsent, None)),
    );
    assert_eq!(first.reply, Reply::Ok);
    let second = run(
        &mut store,
        T0 + 1,
        req(set_with("k", "v2", SetCondition::OnlyIfAbsent, None)),
    );
    assert_eq!(second.reply, Reply::NotApplied);
    assert_eq!(second.version, first.version, "the key's stored version");
    assert_eq!(store.current_version(), first.version, "no tick");
    let same = run(
        &mut store,
        T0 + 2,
        req(set_with("k", "v1", SetCondition::OnlyIfAbsent, None)),
    );
    assert_eq!(
        same.reply,
        Reply::NotApplied,
        "NX refuses even an equal value"
    );
    assert_eq!(reply(&mut store, get("k")), value("v1"));
}

#[test]
fn nex_applies_when_absent_or_equal() {
    let mut store = store();
    let nex = |value| set_with("lock", value, SetCondition::OnlyIfAbsentOrEqual, None);
    let acquired = run(&mut store, T0, req(nex("me")));
    assert_eq!(acquired.reply, Reply::Ok);
    let renewed = run(&mut store, T0 + 1, req(nex("me")));
    assert_eq!(renewed.reply, Reply::Ok);
    assert!(renewed.version.is_newer_than(&acquired.version));
    let stolen = run(&mut store, T0 + 2, req(nex("you")));
    assert_eq!(stolen.reply, Reply::NotApplied);
    assert_eq!(stolen.version, renewed.version);
    assert_eq!(reply(&mut store, get("lock")), value("me"));
}

#[test]
fn set_version_is_newer_than_the_request_timestamp() {
    let mut store = store();
    // The client's clock runs 30 s ahead: allowed, and merged.
    let ahead = Hlc::new(T0 + 30_000, 4, "client");
    let response = run(
        &mut store,
        T0,
        Request::new("a", set("k", "v")).with_timestamp(ahead.clone()),
    );
    assert_eq!(response.reply, Reply::Ok);
    assert!(response.version.is_newer_than(&ahead));
    assert_eq!(response.version, token(T0 + 30_000, 5));
    assert_eq!(response.version.node_id, NODE);
}

#[test]
fn timestamp_on_a_read_is_merged_too() {
    let mut store = store();
    let ahead = Hlc::new(T0 + 10_000, 0, "client");
    let read = run(
        &mut store,
        T0,
        Request::new("a", get("k")).with_timestamp(ahead.clone()),
    );
    assert_eq!(read.reply, Reply::Value(None));
    assert_eq!(read.version.cmp_version(&ahead), std::cmp::Ordering::Equal);
    let written = run(&mut store, T0, req(set("k", "v")));
    assert!(written.version.is_newer_than(&ahead));
}

#[test]
fn versions_increase_strictly_across_keys_and_operations() {
    let mut store = store();
    let mut last = store.current_version();
    let mut check = |version: Hlc| {
        assert!(version.is_newer_than(&last), "{version} after {last}");
        last = version;
    };
    check(run(&mut store, T0, req(set("a", "1"))).version);
    check(run(&mut store, T0, req(set("b", "1"))).version);
    check(run(&mut store, T0 - 10, req(set("a", "2"))).version);
    check(run(&mut store, T0, req(del("b"))).version);
    check(run(&mut store, T0 + 1, req(set_px("c", "1", 5))).version);
    let expired = store.expire(T0 + 100);
    assert_eq!(store.len(), 1);
    assert!(expired.is_empty(), "nobody watches c");
    check(store.current_version());
    check(run(&mut store, T0 + 100, req(vdel("a", "2"))).version);
}

#[test]
fn many_writes_in_one_millisecond_count_up() {
    let mut store = store();
    for counter in 0..100 {
        let response = run(&mut store, T0, req(set("k", "v")));
        assert_eq!(response.version, token(T0, counter));
    }
}

// --- DEL and VDEL ------------------------------------------------------------

#[test]
fn del_of_present_key_deletes_with_a_new_version() {
    let mut store = store();
    let written = run(&mut store, T0, req(set("k", "v")));
    let deleted = run(&mut store, T0, req(del("k")));
    assert_eq!(deleted.reply, Reply::Count(1));
    assert!(deleted.version.is_newer_than(&written.version));
    assert_eq!(reply(&mut store, get("k")), Reply::Value(None));
    assert!(store.is_empty());
}

#[test]
fn del_of_missing_key_is_zero_with_current_version() {
    let mut store = store();
    let written = run(&mut store, T0, req(set("other", "v")));
    let deleted = run(&mut store, T0 + 1, Request::new("a", del("k")));
    assert_eq!(deleted.reply, Reply::Count(0));
    assert_eq!(deleted.version, written.version);
}

#[test]
fn vdel_deletes_only_a_matching_value() {
    let mut store = store();
    let written = run(&mut store, T0, req(set("k", "v")));

    let mismatch = run(&mut store, T0, req(vdel("k", "other")));
    assert_eq!(mismatch.reply, Reply::Count(-1));
    assert_eq!(
        mismatch.version, written.version,
        "the key's stored version"
    );
    assert_eq!(reply(&mut store, get("k")), value("v"));

    let matched = run(&mut store, T0, req(vdel("k", "v")));
    assert_eq!(matched.reply, Reply::Count(1));
    assert!(matched.version.is_newer_than(&written.version));
    assert_eq!(reply(&mut store, get("k")), Reply::Value(None));

    let absent = run(&mut store, T0, req(vdel("k", "v")));
    assert_eq!(absent.reply, Reply::Count(0));
    assert_eq!(absent.version, matched.version);
}

#[test]
fn reads_and_deletes_do_not_need_a_timestamp() {
    let mut store = store();
    reply(&mut store, set("k", "v"));
    for command in [
        get("k"),
        vdel("k", "x"),
        keynotify("k"),
        stop("k"),
        del("k"),
    ] {
        let response = run(&mut store, T0, Request::new("a", command.clone()));
        assert!(
            !matches!(response.reply, Reply::Error(_)),
            "{command:?}: {response:?}"
        );
    }
}

// --- request checks ----------------------------------------------------------

#[test]
fn set_without_timestamp_is_refused() {
    let mut store = store();
    let response = run(&mut store, T0, Request::new("a", set("k", "v")));
    assert_eq!(response.reply, error(StoreErrorKind::MissingTimestamp));
    assert!(store.is_empty());
}

#[test]
fn empty_key_is_refused_on_every_command() {
    let mut store = store();
    for command in [
        set("", "v"),
        get(""),
        del(""),
        vdel("", "v"),
        keynotify(""),
        stop(""),
    ] {
        assert_eq!(
            reply(&mut store, command.clone()),
            error(StoreErrorKind::KeyLengthZero),
            "{command:?}"
        );
    }
    assert_eq!(store.watch_count(), 0);
    assert!(store.is_empty());
}

#[test]
fn px_zero_is_a_syntax_error() {
    let mut store = store();
    assert_eq!(
        reply(&mut store, set_px("k", "v", 0)),
        error(StoreErrorKind::SyntaxError)
    );
    assert!(store.is_empty());
}

#[test]
fn request_shape_is_checked_before_properties() {
    let mut store = store();
    let far = Hlc::new(T0 + 120_000, 0, "client");
    let no_ts = |command| Request::new("a", command);
    assert_eq!(
        run(&mut store, T0, no_ts(set("", "v"))).reply,
        error(StoreErrorKind::KeyLengthZero)
    );
    assert_eq!(
        run(&mut store, T0, no_ts(set_px("k", "v", 0))).reply,
        error(StoreErrorKind::SyntaxError)
    );
    assert_eq!(
        run(
            &mut store,
            T0,
            no_ts(set("k", "v")).with_fencing_token(far.clone())
        )
        .reply,
        error(StoreErrorKind::MissingTimestamp)
    );
    assert_eq!(
        run(
            &mut store,
            T0,
            Request::new("a", set("k", "v"))
                .with_timestamp(far.clone())
                .with_fencing_token(far)
        )
        .reply,
        error(StoreErrorKind::TimestampSkew),
        "timestamp skew is checked before fencing token skew"
    );
}

#[test]
fn timestamp_more_than_a_minute_ahead_is_refused() {
    let mut store = store();
    let at = |wall| Request::new("a", set("k", "v")).with_timestamp(Hlc::new(wall, 0, "c"));
    assert_eq!(
        run(&mut store, T0, at(T0 + 60_001)).reply,
        error(StoreErrorKind::TimestampSkew)
    );
    assert!(store.is_empty());
    assert_eq!(store.current_version(), token(0, 0), "not merged");
    assert_eq!(run(&mut store, T0, at(T0 + 60_000)).reply, Reply::Ok);
    let read = Request::new("a", get("k")).with_timestamp(Hlc::new(T0 + 60_001, 0, "c"));
    assert_eq!(
        run(&mut store, T0, read).reply,
        error(StoreErrorKind::TimestampSkew),
        "any command with a __ts is checked"
    );
}

#[test]
fn fencing_token_more_than_a_minute_ahead_is_refused() {
    let mut store = store();
    let far = Hlc::new(T0 + 60_001, 0, NODE);
    for command in [set("k", "v"), del("k"), vdel("k", "v"), get("k")] {
        assert_eq!(
            run(&mut store, T0, fenced(command.clone(), far.clone())).reply,
            error(StoreErrorKind::FencingTokenSkew),
            "{command:?}"
        );
    }
    let near = Hlc::new(T0 + 60_000, 0, NODE);
    let response = run(&mut store, T0, fenced(set("k", "v"), near.clone()));
    assert_eq!(response.reply, Reply::Ok);
    assert!(
        response.version.is_newer_than(&near),
        "a fencing token is merged into the store clock"
    );
}

#[test]
fn errors_carry_the_current_version_and_change_nothing() {
    let mut store = store();
    store.handle(T0, req(keynotify("k")));
    let written = run(&mut store, T0, fenced(set("k", "v"), token(T0 - 5, 0)));
    let (refused, notifications) = store.handle(T0 + 1, req(set("k", "other")));
    assert_eq!(refused.reply, error(StoreErrorKind::FencingTokenRequired));
    assert_eq!(refused.version, written.version);
    assert_eq!(store.current_version(), written.version);
    assert!(notifications.is_empty());
    assert_eq!(reply(&mut store, get("k")), value("v"));
}

// --- fencing -----------------------------------------------------------------

#[test]
fn set_with_token_protects_an_unprotected_key() {
    let mut store = store();
    assert_eq!(reply(&mut store, set("k", "v0")), Reply::Ok);
    assert_eq!(
        run(&mut store, T0, fenced(set("k", "v1"), token(T0 - 5, 0))).reply,
        Reply::Ok
    );
    assert_eq!(
        reply(&mut store, set("k", "v2")),
        error(StoreErrorKind::FencingTokenRequired)
    );
}

#[test]
fn set_without_token_leaves_a_key_unprotected() {
    let mut store = store();
    assert_eq!(reply(&mut store, set("k", "v1")), Reply::Ok);
    assert_eq!(reply(&mut store, set("k", "v2")), Reply::Ok);
    assert_eq!(reply(&mut store, del("k")), Reply::Count(1));
}

#[test]
fn protected_key_requires_a_token_for_every_write() {
    let mut store = store();
    run(&mut store, T0, fenced(set("k", "v"), token(T0 - 5, 0)));
    for command in [
        set("k", "x"),
        set_with("k", "x", SetCondition::OnlyIfAbsent, None),
        set_with("k", "v", SetCondition::OnlyIfAbsentOrEqual, None),
        del("k"),
        vdel("k", "v"),
        vdel("k", "x"),
    ] {
        assert_eq!(
            reply(&mut store, command.clone()),
            error(StoreErrorKind::FencingTokenRequired),
            "{command:?}"
        );
    }
    assert_eq!(reply(&mut store, get("k")), value("v"));
}

#[test]
fn older_token_is_refused_for_every_write() {
    let mut store = store();
    run(&mut store, T0, fenced(set("k", "v"), token(T0 - 5, 3)));
    for older in [token(T0 - 5, 2), token(T0 - 6, 9), Hlc::new(0, 0, "x")] {
        for command in [set("k", "x"), del("k"), vdel("k", "v")] {
            assert_eq!(
                run(&mut store, T0, fenced(command.clone(), older.clone())).reply,
                error(StoreErrorKind::FencingTokenLowerVersion),
                "{command:?} with {older}"
            );
        }
    }
    assert_eq!(reply(&mut store, get("k")), value("v"));
}

#[test]
fn fencing_is_checked_before_the_condition() {
    let mut store = store();
    run(&mut store, T0, fenced(set("k", "v"), token(T0 - 5, 3)));
    let nx = set_with("k", "x", SetCondition::OnlyIfAbsent, None);
    assert_eq!(
        run(&mut store, T0, fenced(nx.clone(), token(T0 - 5, 2))).reply,
        error(StoreErrorKind::FencingTokenLowerVersion)
    );
    assert_eq!(
        run(&mut store, T0, fenced(nx, token(T0 - 5, 3))).reply,
        Reply::NotApplied
    );
    assert_eq!(
        run(&mut store, T0, fenced(vdel("k", "x"), token(T0 - 6, 0))).reply,
        error(StoreErrorKind::FencingTokenLowerVersion)
    );
}

#[test]
fn equal_token_is_accepted_and_newer_token_is_kept() {
    let mut store = store();
    let t1 = token(T0 - 5, 3);
    let t2 = token(T0 - 4, 0);
    run(&mut store, T0, fenced(set("k", "v1"), t1.clone()));
    assert_eq!(
        run(&mut store, T0, fenced(set("k", "v2"), t1.clone())).reply,
        Reply::Ok,
        "equal token"
    );
    assert_eq!(
        run(
            &mut store,
            T0,
            fenced(set("k", "v3"), Hlc::new(T0 - 5, 3, "x"))
        )
        .reply,
        Reply::Ok,
        "equal version from another node"
    );
    assert_eq!(
        run(&mut store, T0, fenced(set("k", "v4"), t2.clone())).reply,
        Reply::Ok,
        "newer token"
    );
    assert_eq!(
        run(&mut store, T0, fenced(set("k", "v5"), t1.clone())).reply,
        error(StoreErrorKind::FencingTokenLowerVersion),
        "the key now keeps the newer token"
    );
    assert_eq!(
        run(&mut store, T0, fenced(del("k"), t2)).reply,
        Reply::Count(1)
    );
}

#[test]
fn set_with_older_token_fails_so_stored_token_never_decreases() {
    let mut store = store();
    let t2 = token(T0 - 4, 0);
    run(&mut store, T0, fenced(set("k", "v"), t2.clone()));
    run(&mut store, T0, fenced(set("k", "v"), token(T0 - 6, 0)));
    assert_eq!(
        run(&mut store, T0, fenced(set("k", "w"), token(T0 - 5, 0))).reply,
        error(StoreErrorKind::FencingTokenLowerVersion)
    );
    assert_eq!(store.entries[b"k".as_slice()].fencing_token, Some(t2));
}

#[test]
fn not_applied_set_does_not_change_the_token() {
    let mut store = store();
    let t1 = token(T0 - 5, 0);
    run(&mut store, T0, fenced(set("k", "v"), t1.clone()));
    let nx = set_with("k", "x", SetCondition::OnlyIfAbsent, None);
    assert_eq!(
        run(&mut store, T0, fenced(nx, token(T0 - 1, 0))).reply,
        Reply::NotApplied
    );
    assert_eq!(store.entries[b"k".as_slice()].fencing_token, Some(t1));
}

#[test]
fn deleting_a_key_removes_its_token() {
    let mut store = store();
    let t1 = token(T0 - 5, 0);
    run(&mut store, T0, fenced(set("k", "v"), t1.clone()));
    assert_eq!(
        run(&mut store, T0, fenced(del("k"), t1.clone())).reply,
        Reply::Count(1)
    );
    assert_eq!(
        reply(&mut store, set("k", "v")),
        Reply::Ok,
        "no token needed"
    );
    assert_eq!(reply(&mut store, del("k")), Reply::Count(1));

    run(&mut store, T0, fenced(set("k", "v"), t1.clone()));
    assert_eq!(
        run(&mut store, T0, fenced(vdel("k", "v"), t1)).reply,
        Reply::Count(1)
    );
    assert_eq!(
        reply(&mut store, set("k", "v")),
        Reply::Ok,
        "no token needed"
    );
}

#[test]
fn expiry_removes_the_token() {
    let mut store = store();
    run(
        &mut store,
        T0,
        fenced(set_px("k", "v", 100), token(T0 - 5, 0)),
    );
    assert_eq!(
        run(&mut store, T0 + 100, req(set("k", "v"))).reply,
        Reply::Ok
    );
}

#[test]
fn missing_key_needs_no_token_to_delete() {
    let mut store = store();
    assert_eq!(reply(&mut store, del("k")), Reply::Count(0));
    assert_eq!(
        run(&mut store, T0, fenced(del("k"), token(1, 0))).reply,
        Reply::Count(0)
    );
}

#[test]
fn reads_and_watches_ignore_fencing() {
    let mut store = store();
    run(&mut store, T0, fenced(set("k", "v"), token(T0 - 5, 3)));
    assert_eq!(reply(&mut store, get("k")), value("v"));
    assert_eq!(
        run(&mut store, T0, fenced(get("k"), token(0, 0))).reply,
        value("v")
    );
    assert_eq!(reply(&mut store, keynotify("k")), Reply::Ok);
    assert_eq!(
        run(&mut store, T0, fenced(stop("k"), token(0, 0))).reply,
        Reply::Ok
    );
}

#[test]
fn lock_handover_fences_out_the_old_holder() {
    // The elector's pattern: the version of a won `SET lock … NEX PX` is the
    // fencing token for the resource the leader writes.
    let mut store = store();
    let nex = |holder| {
        set_with(
            "lock",
            holder,
            SetCondition::OnlyIfAbsentOrEqual,
            Some(1_000),
        )
    };
    let old_token = run(&mut store, T0, req(nex("old"))).version;
    let old_write = fenced(set("resource", "from old"), old_token.clone());
    assert_eq!(run(&mut store, T0 + 10, old_write.clone()).reply, Reply::Ok);

    // The old holder stalls; its lease runs out and a new holder wins.
    let new_token = run(&mut store, T0 + 1_500, req(nex("new"))).version;
    assert!(new_token.is_newer_than(&old_token));
    let new_write = fenced(set("resource", "from new"), new_token);
    assert_eq!(run(&mut store, T0 + 1_510, new_write).reply, Reply::Ok);

    // The old holder wakes up and tries again: fenced out.
    assert_eq!(
        run(&mut store, T0 + 1_520, old_write).reply,
        error(StoreErrorKind::FencingTokenLowerVersion)
    );
    assert_eq!(
        run(&mut store, T0 + 1_530, req(get("resource"))).reply,
        value("from new")
    );
}

// --- expiry ------------------------------------------------------------------

#[test]
fn px_key_lives_until_its_deadline() {
    let mut store = store();
    run(&mut store, T0, req(set_px("k", "v", 1_000)));
    assert_eq!(store.next_expiry(), Some(T0 + 1_000));
    assert_eq!(run(&mut store, T0 + 999, req(get("k"))).reply, value("v"));
    assert_eq!(
        run(&mut store, T0 + 1_000, req(get("k"))).reply,
        Reply::Value(None)
    );
    assert_eq!(store.next_expiry(), None);
    assert!(store.is_empty());
}

#[test]
fn expired_key_is_absent_for_conditions() {
    let mut store = store();
    run(&mut store, T0, req(set_px("k", "old", 10)));
    let nx = set_with("k", "new", SetCondition::OnlyIfAbsent, None);
    assert_eq!(run(&mut store, T0 + 10, req(nx)).reply, Reply::Ok);
    assert_eq!(store.next_expiry(), None);
    assert_eq!(
        run(&mut store, T0 + 10_000, req(get("k"))).reply,
        value("new")
    );
}

#[test]
fn set_without_px_clears_an_earlier_expiry() {
    let mut store = store();
    run(&mut store, T0, req(set_px("k", "v", 1_000)));
    run(&mut store, T0 + 10, req(set("k", "v")));
    assert_eq!(store.next_expiry(), None);
    assert!(store.expire(T0 + 5_000).is_empty());
    assert_eq!(run(&mut store, T0 + 5_000, req(get("k"))).reply, value("v"));
}

#[test]
fn renewal_pushes_the_expiry_back() {
    let mut store = store();
    store.handle(T0, from("w", keynotify("lock")));
    let nex = set_with("lock", "me", SetCondition::OnlyIfAbsentOrEqual, Some(1_000));
    run(&mut store, T0, req(nex.clone()));
    run(&mut store, T0 + 600, req(nex));
    assert_eq!(store.next_expiry(), Some(T0 + 1_600));
    assert!(
        store.expire(T0 + 1_000).is_empty(),
        "the old deadline is gone"
    );
    assert_eq!(store.len(), 1);
    let notifications = store.expire(T0 + 1_600);
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0].event, KeyEvent::Delete);
    assert!(store.is_empty());
}

#[test]
fn delete_cancels_the_expiry() {
    let mut store = store();
    store.handle(T0, from("w", keynotify("k")));
    run(&mut store, T0, req(set_px("k", "v", 100)));
    run(&mut store, T0 + 1, req(del("k")));
    assert_eq!(store.next_expiry(), None);
    run(&mut store, T0 + 2, req(set("k", "again")));
    assert!(
        store.expire(T0 + 100).is_empty(),
        "the new key has no expiry"
    );
    assert_eq!(store.len(), 1);
}

#[test]
fn expire_deletes_due_keys_in_order_and_notifies_each_watcher_once() {
    let mut store = store();
    for (client, key) in [("w1", "a"), ("w2", "a"), ("w1", "b"), ("w1", "c")] {
        store.handle(T0, from(client, keynotify(key)));
    }
    run(&mut store, T0, req(set_px("b", "v", 300)));
    run(&mut store, T0, req(set_px("a", "v", 200)));
    run(&mut store, T0, req(set_px("c", "v", 900)));
    let before = store.current_version();
    assert_eq!(store.next_expiry(), Some(T0 + 200));
    assert!(store.expire(T0 + 199).is_empty());

    let notifications = store.expire(T0 + 400);
    let summary: Vec<(&str, &[u8], &KeyEvent)> = notifications
        .iter()
        .map(|n| (n.client, n.key.as_slice(), &n.event))
        .collect();
    assert_eq!(
        summary,
        [
            ("w1", b"a".as_slice(), &KeyEvent::Delete),
            ("w2", b"a".as_slice(), &KeyEvent::Delete),
            ("w1", b"b".as_slice(), &KeyEvent::Delete),
        ]
    );
    // One new version per expired key, shared by its watchers.
    assert_eq!(notifications[0].version, notifications[1].version);
    assert!(notifications[0].version.is_newer_than(&before));
    assert!(
        notifications[2]
            .version
            .is_newer_than(&notifications[0].version)
    );
    assert_eq!(store.current_version(), notifications[2].version);
    assert_eq!(store.next_expiry(), Some(T0 + 900));
    assert_eq!(store.len(), 1);
    assert!(store.expire(T0 + 400).is_empty(), "expires only once");
}

#[test]
fn expire_with_a_clock_that_went_back_expires_nothing() {
    let mut store = store();
    run(&mut store, T0, req(set_px("k", "v", 100)));
    assert!(store.expire(T0 - 1_000).is_empty());
    assert_eq!(store.len(), 1);
}

#[test]
fn handle_reports_expiries_before_the_requests_own_notifications() {
    let mut store = store();
    store.handle(T0, from("w", keynotify("old")));
    store.handle(T0, from("w", keynotify("new")));
    run(&mut store, T0, req(set_px("old", "v", 50)));
    let (response, notifications) = store.handle(T0 + 50, req(set("new", "x")));
    assert_eq!(response.reply, Reply::Ok);
    assert_eq!(notifications.len(), 2);
    assert_eq!(
        notifications[0],
        delete_for("w", "old", &notifications[0].version)
    );
    assert_eq!(
        notifications[1],
        set_for("w", "new", "x", &response.version)
    );
    assert!(response.version.is_newer_than(&notifications[0].version));
}

#[test]
fn handle_reports_expiries_even_when_the_request_is_refused() {
    let mut store = store();
    store.handle(T0, from("w", keynotify("k")));
    run(&mut store, T0, req(set_px("k", "v", 50)));
    let (response, notifications) = store.handle(T0 + 60, req(set("", "x")));
    assert_eq!(response.reply, error(StoreErrorKind::KeyLengthZero));
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0].event, KeyEvent::Delete);
    assert_eq!(response.version, notifications[0].version);
}

#[test]
fn huge_px_saturates_instead_of_overflowing() {
    let mut store = store();
    assert_eq!(reply(&mut store, set_px("k", "v", u64::MAX)), Reply::Ok);
    assert_eq!(store.next_expiry(), Some(u64::MAX));
}

// --- KEYNOTIFY ---------------------------------------------------------------

#[test]
fn writes_notify_every_watcher_of_the_key() {
    let mut store = store();
    for (client, key) in [("w2", "k"), ("w1", "k"), ("w3", "other")] {
        assert_eq!(
            run(&mut store, T0, from(client, keynotify(key))).reply,
            Reply::Ok
        );
    }
    assert_eq!(store.watch_count(), 3);

    let (set_response, notifications) = store.handle(T0, req(set("k", "v")));
    assert_eq!(
        notifications,
        [
            set_for("w1", "k", "v", &set_response.version),
            set_for("w2", "k", "v", &set_response.version),
        ]
    );

    let (vdel_miss, notifications) = store.handle(T0, req(vdel("k", "x")));
    assert_eq!(vdel_miss.reply, Reply::Count(-1));
    assert!(notifications.is_empty());

    let nx = set_with("k", "y", SetCondition::OnlyIfAbsent, None);
    let (not_applied, notifications) = store.handle(T0, req(nx));
    assert_eq!(not_applied.reply, Reply::NotApplied);
    assert!(notifications.is_empty());

    let (vdel_hit, notifications) = store.handle(T0, req(vdel("k", "v")));
    assert_eq!(
        notifications,
        [
            delete_for("w1", "k", &vdel_hit.version),
            delete_for("w2", "k", &vdel_hit.version),
        ]
    );

    let (_, notifications) = store.handle(T0, req(del("k")));
    assert!(notifications.is_empty(), "nothing deleted, nothing to tell");

    run(&mut store, T0, req(set("k", "again")));
    let (del_hit, notifications) = store.handle(T0, req(del("k")));
    assert_eq!(
        notifications,
        [
            delete_for("w1", "k", &del_hit.version),
            delete_for("w2", "k", &del_hit.version),
        ]
    );
}

#[test]
fn reads_and_refused_writes_notify_nobody() {
    let mut store = store();
    store.handle(T0, from("w", keynotify("k")));
    run(&mut store, T0, fenced(set("k", "v"), token(T0 - 5, 0)));
    for request in [req(get("k")), req(set("k", "x")), req(del("k"))] {
        let (_, notifications) = store.handle(T0, request);
        assert!(notifications.is_empty());
    }
}

#[test]
fn keynotify_on_an_absent_key_sees_its_creation() {
    let mut store = store();
    let response = run(&mut store, T0, from("w", keynotify("later")));
    assert_eq!(response.reply, Reply::Ok);
    assert_eq!(response.version, store.current_version());
    let (written, notifications) = store.handle(T0, req(set("later", "v")));
    assert_eq!(
        notifications,
        [set_for("w", "later", "v", &written.version)]
    );
}

#[test]
fn keynotify_is_idempotent() {
    let mut store = store();
    assert_eq!(
        run(&mut store, T0, from("w", keynotify("k"))).reply,
        Reply::Ok
    );
    assert_eq!(
        run(&mut store, T0, from("w", keynotify("k"))).reply,
        Reply::Ok
    );
    assert_eq!(store.watch_count(), 1);
    let (_, notifications) = store.handle(T0, req(set("k", "v")));
    assert_eq!(notifications.len(), 1);
}

#[test]
fn keynotify_does_not_tick_the_clock() {
    let mut store = store();
    let written = run(&mut store, T0, req(set("k", "v")));
    let watched = run(&mut store, T0, Request::new("w", keynotify("k")));
    assert_eq!(watched.version, written.version);
    let stopped = run(&mut store, T0, Request::new("w", stop("k")));
    assert_eq!(stopped.version, written.version);
}

#[test]
fn stop_answers_ok_for_a_watched_key_and_zero_otherwise() {
    let mut store = store();
    store.handle(T0, from("w", keynotify("k")));
    store.handle(T0, from("other", keynotify("k")));
    assert_eq!(
        run(&mut store, T0, from("w", stop("unwatched"))).reply,
        Reply::Count(0)
    );
    assert_eq!(run(&mut store, T0, from("w", stop("k"))).reply, Reply::Ok);
    assert_eq!(
        run(&mut store, T0, from("w", stop("k"))).reply,
        Reply::Count(0),
        "already stopped"
    );
    assert_eq!(store.watch_count(), 1);
    let (_, notifications) = store.handle(T0, req(set("k", "v")));
    let clients: Vec<_> = notifications.iter().map(|n| n.client).collect();
    assert_eq!(clients, ["other"]);
}

#[test]
fn forget_client_drops_only_that_clients_registrations() {
    let mut store = store();
    for (client, key) in [("gone", "a"), ("gone", "b"), ("stays", "a")] {
        store.handle(T0, from(client, keynotify(key)));
    }
    store.forget_client(&"gone");
    store.forget_client(&"never-seen");
    assert_eq!(store.watch_count(), 1);
    let (_, on_a) = store.handle(T0, req(set("a", "v")));
    let (_, on_b) = store.handle(T0, req(set("b", "v")));
    assert_eq!(on_a.iter().map(|n| n.client).collect::<Vec<_>>(), ["stays"]);
    assert!(on_b.is_empty());
    assert_eq!(
        run(&mut store, T0, from("gone", stop("a"))).reply,
        Reply::Count(0)
    );
}

#[test]
fn registrations_survive_the_key() {
    let mut store = store();
    store.handle(T0, from("w", keynotify("k")));
    run(&mut store, T0, req(set("k", "1")));
    run(&mut store, T0, req(del("k")));
    let (written, notifications) = store.handle(T0, req(set("k", "2")));
    assert_eq!(notifications, [set_for("w", "k", "2", &written.version)]);
}

// --- quotas ------------------------------------------------------------------

#[test]
fn key_count_quota_refuses_only_new_keys() {
    let mut store = store_with(Limits {
        max_keys: 2,
        ..Limits::default()
    });
    assert_eq!(reply(&mut store, set("a", "1")), Reply::Ok);
    assert_eq!(reply(&mut store, set("b", "1")), Reply::Ok);
    assert_eq!(
        reply(&mut store, set("c", "1")),
        error(StoreErrorKind::QuotaExceeded)
    );
    assert_eq!(reply(&mut store, set("a", "2")), Reply::Ok, "overwrite");
    let nx = set_with("a", "3", SetCondition::OnlyIfAbsent, None);
    assert_eq!(reply(&mut store, nx), Reply::NotApplied, "adds nothing");
    assert_eq!(reply(&mut store, get("c")), Reply::Value(None));
    assert_eq!(reply(&mut store, del("a")), Reply::Count(1));
    assert_eq!(reply(&mut store, set("c", "1")), Reply::Ok, "room again");
    assert_eq!(store.len(), 2);
}

#[test]
fn expired_keys_free_their_quota() {
    let mut store = store_with(Limits {
        max_keys: 1,
        ..Limits::default()
    });
    run(&mut store, T0, req(set_px("a", "1", 10)));
    assert_eq!(
        run(&mut store, T0 + 9, req(set("b", "1"))).reply,
        error(StoreErrorKind::QuotaExceeded)
    );
    assert_eq!(
        run(&mut store, T0 + 10, req(set("b", "1"))).reply,
        Reply::Ok
    );
}

#[test]
fn key_and_value_size_quotas() {
    let mut store = store_with(Limits {
        max_key_bytes: 4,
        max_value_bytes: 8,
        ..Limits::default()
    });
    assert_eq!(reply(&mut store, set("four", "eight..!")), Reply::Ok);
    assert_eq!(
        reply(&mut store, set("fiver", "v")),
        error(StoreErrorKind::QuotaExceeded)
    );
    assert_eq!(
        reply(&mut store, set("four", "nine....!")),
        error(StoreErrorKind::QuotaExceeded)
    );
    assert_eq!(reply(&mut store, get("four")), value("eight..!"));
    assert_eq!(
        reply(&mut store, get("fiver")),
        Reply::Value(None),
        "reads are not limited"
    );
    assert_eq!(reply(&mut store, del("fiver")), Reply::Count(0));
    assert_eq!(
        reply(&mut store, keynotify("fiver")),
        error(StoreErrorKind::QuotaExceeded),
        "a registration stores its key"
    );
}

#[test]
fn watch_quota_is_per_client() {
    let mut store = store_with(Limits {
        max_watches_per_client: 2,
        ..Limits::default()
    });
    assert_eq!(
        run(&mut store, T0, from("w", keynotify("a"))).reply,
        Reply::Ok
    );
    assert_eq!(
        run(&mut store, T0, from("w", keynotify("b"))).reply,
        Reply::Ok
    );
    assert_eq!(
        run(&mut store, T0, from("w", keynotify("c"))).reply,
        error(StoreErrorKind::QuotaExceeded)
    );
    assert_eq!(
        run(&mut store, T0, from("w", keynotify("a"))).reply,
        Reply::Ok,
        "re-registering adds nothing"
    );
    assert_eq!(
        run(&mut store, T0, from("x", keynotify("c"))).reply,
        Reply::Ok
    );
    assert_eq!(run(&mut store, T0, from("w", stop("a"))).reply, Reply::Ok);
    assert_eq!(
        run(&mut store, T0, from("w", keynotify("c"))).reply,
        Reply::Ok
    );
    assert_eq!(store.watch_count(), 3);
}

#[test]
fn quota_is_checked_after_fencing() {
    let mut store = store_with(Limits {
        max_value_bytes: 1,
        ..Limits::default()
    });
    run(&mut store, T0, fenced(set("k", "v"), token(T0 - 5, 0)));
    assert_eq!(
        reply(&mut store, set("k", "too big")),
        error(StoreErrorKind::FencingTokenRequired)
    );
}

#[test]
#[should_panic(expected = "invalid HLC node id")]
fn store_refuses_an_invalid_node_id() {
    let _ = StateStore::<u32>::new("a:b", Limits::default());
}

#[test]
fn peek_sees_what_get_would_without_changing_anything() {
    let mut store = store();
    run(&mut store, T0, req(set_px("k", "v", 100)));
    let version_before = store.current_version();
    let (value, version) = store.peek(T0 + 50, b"k").unwrap();
    assert_eq!(value, b"v");
    assert!(version.is_at_least(&version_before) || version_before.is_at_least(version));
    assert_eq!(store.peek(T0 + 100, b"k"), None, "expired by then");
    assert_eq!(store.peek(T0, b"absent"), None);
    assert_eq!(store.current_version(), version_before, "no version issued");
    assert_eq!(store.len(), 1, "nothing expired by peeking");
}
