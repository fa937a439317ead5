//! `elector run` with its metrics endpoint, seen over plain HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::{PATIENCE, http_get, test_log};

/// An `elector run` process serving `/metrics`, `/healthz` and `/readyz`.
/// Killed when dropped.
pub struct Running {
    child: Child,
    pub address: String,
}

impl Running {
    /// `elector run MODULE ARGS --metrics-addr 127.0.0.1:0`, once it has
    /// announced the address it serves on.
    pub fn start(module: &str, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_elector"))
            .args(["run", module])
            .args(args)
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("RUST_LOG", test_log("error"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("elector run starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let address = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "no metrics address announced"
            );
            if let Some(rest) = line.strip_prefix("metrics and health on http://") {
                break rest.split('/').next().unwrap().to_owned();
            }
            eprint!("{line}");
        };
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        });
        Running { child, address }
    }

    /// `elector run` of the fenced-log example as `name` on position `job`,
    /// with a 2 s term, a 100 ms tick and the flags in `more` (where the
    /// store is, how many replicas, ...).
    pub fn fenced_log(name: &str, more: &[&str]) -> Running {
        let mut args = vec![
            "--position",
            "job",
            "--name",
            name,
            "--term",
            "2s",
            "--tick",
            "100ms",
        ];
        args.extend_from_slice(more);
        Running::start(crate::FENCED_LOG, &args)
    }

    /// `GET path`: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let response = http_get(&self.address, path);
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Asks `path` until `done(status, body)`; returns that answer.
    pub fn wait_for(
        &self,
        path: &str,
        what: &str,
        done: impl Fn(u16, &str) -> bool,
    ) -> (u16, String) {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(path);
            if done(status, &body) {
                return (status, body);
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{what}: {path} still answers {status}:\n{body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The value of one series in a scrape, once `done` holds for it.
    pub fn wait_for_series(&self, series: &str, done: impl Fn(f64) -> bool) -> f64 {
        let (_, body) = self.wait_for("/metrics", series, |_, body| {
            value(body, series).is_some_and(&done)
        });
        value(&body, series).unwrap()
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `series` (name and labels as exported) in a scrape.
pub fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// Seconds since the Unix epoch, now.
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
