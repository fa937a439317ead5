//! The store's bounds against clients that name many ids, watch one key
//! many times over or write large values: the memory budget, the caps on
//! registrations and fan-out, and registrations that lapse when their
//! client falls silent.

use super::tests::{
    Store, T0, del, from, get, keynotify, reply, req, run, set, set_px, stop, store_with, value,
};
use super::*;
use crate::limits::ENTRY_OVERHEAD_BYTES;

const QUOTA: Reply = Reply::Error(StoreErrorKind::QuotaExceeded);

/// Client names for invented ids, leaked so requests can borrow them.
fn ids(count: usize) -> Vec<&'static str> {
    (0..count)
        .map(|i| &*Box::leak(format!("id-{i}").into_boxed_str()))
        .collect()
}

fn big(bytes: usize) -> String {
    "v".repeat(bytes)
}

#[test]
fn the_store_budget_refuses_writes_past_it_and_deletes_and_expiry_free_it() {
    let entry = 1 + 1_000 + ENTRY_OVERHEAD_BYTES;
    let mut store = store_with(Limits {
        max_store_bytes: 3 * entry,
        ..Limits::default()
    });
    for key in ["a", "b", "c"] {
        assert_eq!(reply(&mut store, set(key, &big(1_000))), Reply::Ok);
    }
    assert_eq!(store.stored_bytes(), 3 * entry);
    assert_eq!(reply(&mut store, set("d", "x")), QUOTA);
    assert_eq!(
        reply(&mut store, set("a", &big(1_001))),
        QUOTA,
        "growing a value needs room too"
    );
    assert_eq!(
        reply(&mut store, set("a", "small")),
        Reply::Ok,
        "shrinking frees"
    );
    assert_eq!(reply(&mut store, set("d", "x")), Reply::Ok);
    assert_eq!(reply(&mut store, get("d")), value("x"));
    assert_eq!(reply(&mut store, del("b")), Reply::Count(1));
    run(&mut store, T0, req(set_px("e", "x", 10)));
    store.expire(T0 + 10);
    assert_eq!(
        store.stored_bytes(),
        [("a", 5), ("c", 1_000), ("d", 1)]
            .iter()
            .map(|(_, value)| 1 + value + ENTRY_OVERHEAD_BYTES)
            .sum::<usize>()
    );
    for key in ["a", "c", "d"] {
        reply(&mut store, del(key));
    }
    assert_eq!(store.stored_bytes(), 0);
}

#[test]
fn invented_ids_cannot_watch_one_key_past_its_cap_nor_all_keys_past_theirs() {
    let mut store = store_with(Limits {
        max_watchers_per_key: 3,
        max_watches: 5,
        ..Limits::default()
    });
    let ids = ids(10);
    let answers: Vec<Reply> = ids
        .iter()
        .map(|id| run(&mut store, T0, from(id, keynotify("job"))).reply)
        .collect();
    assert_eq!(answers[..3], [Reply::Ok, Reply::Ok, Reply::Ok]);
    assert!(answers[3..].iter().all(|answer| *answer == QUOTA));
    assert_eq!(
        run(&mut store, T0, from(ids[0], keynotify("job"))).reply,
        Reply::Ok,
        "an existing registration is renewed, not refused"
    );
    for id in &ids[3..5] {
        assert_eq!(
            run(&mut store, T0, from(id, keynotify("other"))).reply,
            Reply::Ok
        );
    }
    assert_eq!(
        run(&mut store, T0, from(ids[5], keynotify("third"))).reply,
        QUOTA,
        "five registrations in all"
    );
    assert_eq!(store.watch_count(), 5);
    let (_, notifications) = store.handle(T0, req(set("job", "leader")));
    assert_eq!(
        notifications.len(),
        3,
        "a change costs at most the per-key cap"
    );
    assert_eq!(
        run(&mut store, T0, from(ids[0], stop("job"))).reply,
        Reply::Ok
    );
    assert_eq!(
        run(&mut store, T0, from(ids[5], keynotify("third"))).reply,
        Reply::Ok,
        "room again"
    );
}

#[test]
fn registrations_are_held_to_their_byte_budget() {
    let key = "k".repeat(100);
    let mut store = store_with(Limits {
        max_watch_bytes: 2 * (100 + crate::limits::WATCH_OVERHEAD_BYTES),
        ..Limits::default()
    });
    assert_eq!(
        run(&mut store, T0, from("a", keynotify(&key))).reply,
        Reply::Ok
    );
    assert_eq!(
        run(&mut store, T0, from("b", keynotify(&key))).reply,
        Reply::Ok
    );
    assert_eq!(run(&mut store, T0, from("c", keynotify(&key))).reply, QUOTA);
    assert_eq!(
        run(&mut store, T0, from("c", keynotify("short"))).reply,
        QUOTA
    );
}

#[test]
fn a_large_value_cannot_fan_out_past_the_cap_to_many_watchers() {
    let mut store = store_with(Limits {
        max_fanout_bytes: 3 * 1_000,
        ..Limits::default()
    });
    for id in ids(3) {
        assert_eq!(
            run(&mut store, T0, from(id, keynotify("job"))).reply,
            Reply::Ok
        );
    }
    assert_eq!(reply(&mut store, set("job", &big(1_000))), Reply::Ok);
    assert_eq!(
        reply(&mut store, set("job", &big(1_001))),
        QUOTA,
        "3 x 1,001 bytes"
    );
    assert_eq!(
        run(&mut store, T0, from("fourth", keynotify("job"))).reply,
        QUOTA,
        "4 x the 1,000 bytes stored"
    );
    assert_eq!(reply(&mut store, set("job", &big(750))), Reply::Ok);
    assert_eq!(
        run(&mut store, T0, from("fourth", keynotify("job"))).reply,
        Reply::Ok,
        "4 x 750 bytes fit"
    );
    let (_, notifications) = store.handle(T0, req(del("job")));
    assert_eq!(notifications.len(), 4, "a DELETE carries no value");
}

#[test]
fn a_silent_clients_registrations_lapse_and_any_request_renews_them() {
    let lease = 1_000;
    let mut store: Store = store_with(Limits {
        watch_lease_ms: lease,
        ..Limits::default()
    });
    run(&mut store, T0, from("gone", keynotify("k")));
    run(&mut store, T0, from("alive", keynotify("k")));
    run(&mut store, T0, from("renewer", keynotify("k")));
    // "alive" reads something else; "renewer" repeats its KEYNOTIFY.
    run(&mut store, T0 + 600, from("alive", get("other")));
    assert_eq!(
        run(&mut store, T0 + 600, from("renewer", keynotify("k"))).reply,
        Reply::Ok,
        "a repeated KEYNOTIFY answers +OK"
    );
    let (_, notifications) = store.handle(T0 + 999, req(set("k", "1")));
    assert_eq!(notifications.len(), 3, "no lease has run out yet");
    let (_, notifications) = store.handle(T0 + 1_000, req(set("k", "2")));
    let told: Vec<_> = notifications.iter().map(|n| n.client).collect();
    assert_eq!(
        told,
        ["alive", "renewer"],
        "gone's lease ran out at T0 + 1,000"
    );
    assert_eq!(store.lapsed_registrations(), 1);
    // A request the store does not handle renews the lease as well.
    store.touch(&"alive", T0 + 1_500);
    store.expire(T0 + 1_600);
    assert_eq!(
        store.watch_count(),
        1,
        "renewer's lease ran out at T0 + 1,600"
    );
    assert_eq!(store.lapsed_registrations(), 2);
    assert_eq!(
        run(&mut store, T0 + 2_499, from("gone", stop("k"))).reply,
        Reply::Count(0),
        "nothing left to stop"
    );
    let (_, notifications) = store.handle(T0 + 2_499, req(del("k")));
    assert_eq!(notifications.len(), 1, "alive until T0 + 2,500");
    store.expire(T0 + 2_500);
    assert_eq!(store.watch_count(), 0);
}

#[test]
fn a_lapsed_client_that_comes_back_registers_again() {
    let mut store = store_with(Limits {
        watch_lease_ms: 1_000,
        ..Limits::default()
    });
    run(&mut store, T0, from("w", keynotify("k")));
    assert_eq!(
        run(&mut store, T0 + 5_000, from("w", keynotify("k"))).reply,
        Reply::Ok
    );
    assert_eq!(store.lapsed_registrations(), 1);
    let (_, notifications) = store.handle(T0 + 5_000, req(set("k", "v")));
    assert_eq!(notifications.len(), 1);
}
