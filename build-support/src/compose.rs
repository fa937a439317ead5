//! Composition of two components with `wac-graph` (the library behind the
//! `wac` tool): a *plug* whose exports satisfy some imports of a *socket*.
//! Used for the AIO operators written against `elector:aio/leader-election`
//! (examples/aio-singleton), which become plain AIO `map` operators once
//! composed with `elector-aio.wasm`.

use std::path::Path;

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// Writes to `out` the socket instantiated with every import that the plug
/// exports taken from one plug instance; the socket's other imports and
/// the plug's imports become imports of the composition (an import both
/// have, such as AIO's `state-store`, is imported once and shared). The
/// composition exports what the socket exports.
pub fn plug(plug: &Path, socket: &Path, out: &Path) -> Result<(), String> {
    let mut graph = CompositionGraph::new();
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let plug_package = Package::from_bytes("elector:plug", None, read(plug)?, graph.types_mut())
        .map_err(|e| format!("{}: {e:#}", plug.display()))?;
    let socket_package =
        Package::from_bytes("elector:socket", None, read(socket)?, graph.types_mut())
            .map_err(|e| format!("{}: {e:#}", socket.display()))?;
    let plug_exports: Vec<String> = graph.types()[plug_package.ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    let socket_world = &graph.types()[socket_package.ty()];
    let socket_imports: Vec<String> = socket_world.imports.keys().cloned().collect();
    let socket_exports: Vec<String> = socket_world.exports.keys().cloned().collect();

    let plug_id = graph
        .register_package(plug_package)
        .map_err(|e| e.to_string())?;
    let socket_id = graph
        .register_package(socket_package)
        .map_err(|e| e.to_string())?;
    let plug_instance = graph.instantiate(plug_id);
    let socket_instance = graph.instantiate(socket_id);
    let mut plugged = 0;
    for name in plug_exports
        .iter()
        .filter(|name| socket_imports.contains(name))
    {
        let export = graph
            .alias_instance_export(plug_instance, name)
            .map_err(|e| e.to_string())?;
        graph
            .set_instantiation_argument(socket_instance, name, export)
            .map_err(|e| format!("plugging {name}: {e}"))?;
        plugged += 1;
    }
    if plugged == 0 {
        return Err(format!(
            "{} exports nothing {} imports",
            plug.display(),
            socket.display()
        ));
    }
    for name in &socket_exports {
        let export = graph
            .alias_instance_export(socket_instance, name)
            .map_err(|e| e.to_string())?;
        graph.export(export, name).map_err(|e| e.to_string())?;
    }
    let bytes = graph
        .encode(EncodeOptions::default())
        .map_err(|e| format!("encoding the composition: {e:#}"))?;
    std::fs::write(out, bytes).map_err(|e| format!("{}: {e}", out.display()))
}
