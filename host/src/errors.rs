//! Errors as users read them: one line, message and causes, never Rust's
//! Debug layout (which spreads a chain over lines, names types and may add
//! a backtrace).

/// `message: cause: cause` (what `{:#}` gives `anyhow` and `wasmtime`
/// errors), with any line breaks inside a message (a trap's wasm
/// backtrace) folded into spaces.
pub fn one_line(error: &(impl std::fmt::Display + ?Sized)) -> String {
    format!("{error:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_reads_as_one_line() {
        let error = anyhow::anyhow!("no answer\nfrom 127.0.0.1")
            .context("reading \"job\"")
            .context("elector get");
        assert_eq!(
            one_line(&error),
            "elector get: reading \"job\": no answer from 127.0.0.1"
        );
    }
}
