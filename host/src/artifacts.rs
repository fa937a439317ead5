//! The component built by `build.rs`, embedded in the library (and so in
//! the `elector` binary) so that the `elector` executable is all an
//! operator has to ship.

/// The elector component (`guest/`), built for `wasm32-wasip2`.
pub const ELECTOR_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/elector_guest.wasm"));

#[cfg(test)]
mod tests {
    use elector_guest::sabotage::MARKER_SECTION;
    use wasmparser::{Parser, Payload};

    use super::ELECTOR_WASM;

    /// The name of every custom section in a module or a component,
    /// including those of the core modules nested in it, and how many core
    /// modules were read.
    fn custom_sections(wasm: &[u8]) -> (Vec<String>, usize) {
        let (mut names, mut modules) = (Vec::new(), 0);
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.expect("well-formed wasm") {
                Payload::CustomSection(section) => names.push(section.name().to_owned()),
                Payload::ModuleSection { .. } => modules += 1,
                _ => {}
            }
        }
        (names, modules)
    }

    /// The component `elector` ships carries none of the deliberate defects
    /// of `elector-guest`'s `sabotage` feature: a build with them holds the
    /// guest's marker in a custom section of its core module (see
    /// `guest/src/sabotage.rs`; the guest profile's `strip` and the
    /// component wrapping keep custom sections), and this one has none.
    #[test]
    fn the_embedded_elector_carries_no_sabotage() {
        let (sections, modules) = custom_sections(ELECTOR_WASM);
        assert!(modules > 0, "the core modules inside were read");
        assert!(
            !sections.iter().any(|name| name == MARKER_SECTION),
            "elector.wasm was built with the sabotage feature: {sections:?}"
        );
    }

    /// `len` in unsigned LEB128, as wasm sizes are written.
    fn leb128(mut len: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn section(id: u8, content: &[u8]) -> Vec<u8> {
        let mut bytes = vec![id];
        leb128(content.len(), &mut bytes);
        bytes.extend_from_slice(content);
        bytes
    }

    /// The check above can fail: the marker's section, in a core module
    /// nested in a component as a sabotage build of the guest would put it,
    /// is found.
    #[test]
    fn a_marker_section_inside_a_component_is_found() {
        let mut custom = Vec::new();
        leb128(MARKER_SECTION.len(), &mut custom);
        custom.extend_from_slice(MARKER_SECTION.as_bytes());
        custom.extend_from_slice(b"elector-guest built with sabotage");
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(section(0, &custom));
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        component.extend(section(1, &module));
        assert_eq!(
            custom_sections(&component),
            (vec![MARKER_SECTION.into()], 1)
        );
    }
}
