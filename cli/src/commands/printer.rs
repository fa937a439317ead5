//! What the commands print on stdout: one line per event, as text for a
//! person or as JSON for a script (`--json`), errors included, so a script
//! reading JSON lines also learns why a command failed.

use serde::Serialize;

use elector_host::bindings::{Hlc, HumanText as _, Leader};

/// Prints lines as text or JSON.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    pub json: bool,
}

/// One event. Empty fields are left out of JSON and text alike.
#[derive(Default, Serialize)]
pub struct Line<'a> {
    pub event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<LeaderJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<String>,
    /// When the lease ends by this process's clock, in milliseconds since
    /// the Unix epoch: the moment it stops acting as leader unless renewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_until_ms: Option<u64>,
    /// The store's version of an observed change or a value read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A command's exit code (`exited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Serialize)]
pub struct LeaderJson {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    /// The lock value as stored: `name` or `name:session-id`.
    lock_value: String,
}

impl From<&Leader> for LeaderJson {
    fn from(leader: &Leader) -> Self {
        LeaderJson {
            name: leader.name.clone(),
            session_id: leader.session_id.clone(),
            lock_value: leader.text().to_string(),
        }
    }
}

impl<'a> Line<'a> {
    pub fn new(event: &'a str) -> Self {
        Line {
            event,
            ..Line::default()
        }
    }

    pub fn position(mut self, position: &'a str) -> Self {
        self.position = Some(position);
        self
    }

    pub fn leader(mut self, leader: Option<&Leader>) -> Self {
        self.leader = leader.map(LeaderJson::from);
        self
    }

    pub fn token(mut self, token: &Hlc) -> Self {
        self.fencing_token = Some(token.text().to_string());
        self
    }

    pub fn version(mut self, version: &Hlc) -> Self {
        self.version = Some(version.text().to_string());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `event leader fencing-token=T version=V (detail)`.
    fn text(&self) -> String {
        let mut text = self.event.to_owned();
        if let Some(leader) = &self.leader {
            text.push(' ');
            text.push_str(&leader.lock_value);
        }
        if let Some(token) = &self.fencing_token {
            text.push_str(&format!(" fencing-token={token}"));
        }
        if let Some(version) = &self.version {
            text.push_str(&format!(" version={version}"));
        }
        if let Some(detail) = &self.detail {
            text.push_str(&format!(" ({detail})"));
        }
        text
    }
}

impl Printer {
    pub fn line(&self, line: &Line<'_>) {
        if self.json {
            crate::output::line(&serde_json::to_string(line).expect("lines serialize"));
        } else {
            crate::output::line(&line.text());
        }
    }

    /// A failure, as one line: `error: message` on stderr, or with
    /// `--json` an `error` event on stdout, where the script reads.
    pub fn error(&self, message: &str) {
        if self.json {
            self.line(&Line::new("error").detail(message));
        } else {
            eprintln!("error: {message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader() -> Leader {
        Leader {
            name: "a".into(),
            session_id: Some("5f3a".into()),
        }
    }

    #[test]
    fn text_lines_show_the_lock_value_and_the_token_as_aio_text() {
        let token = Hlc {
            wall_clock_ms: 1_795_690_343_609,
            counter: 2,
            node_id: "n".into(),
        };
        let line = Line::new("elected")
            .position("job")
            .leader(Some(&leader()))
            .token(&token);
        assert_eq!(
            line.text(),
            "elected a:5f3a fencing-token=001795690343609:00002:n"
        );
        let json = serde_json::to_value(&line).unwrap();
        assert_eq!(json["leader"]["name"], "a");
        assert_eq!(json["leader"]["session_id"], "5f3a");
        assert_eq!(json["fencing_token"], "001795690343609:00002:n");
        assert!(json.get("detail").is_none());
    }
}
