//! AIO's imports as the election core needs them (`elector:aio/store-client`
//! in `wit/elector-aio`): state-store, logger, WASI clocks and poll.
//! Public so that an operator can hand its own generated bindings these
//! types (`with:`) instead of converting.

wit_bindgen::generate!({
    world: "elector:aio/store-client",
    path: ["../wit/deps/io", "../wit/deps/clocks", "../wit/aio", "../wit/elector-aio"],
    generate_all,
});
