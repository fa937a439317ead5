//! `--local-broker`: a mosquitto broker on a free loopback port (with
//! `set_tcp_nodelay true`, as the published numbers assume) and the
//! state-store service in its own `elector statestore` process, so the MQTT
//! numbers need nothing set up by hand. Both stop when this is dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cli::BrokerArgs;

/// How the local state-store service keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreMode {
    /// In a database in the broker's temporary directory (the default
    /// of `elector statestore`).
    Durable,
    /// In memory (`--in-memory`), with no lock-delay: the store is new.
    InMemory,
    /// Three frontends of the etcd-backed store (`--etcd`) over the
    /// cluster bench's `--etcd` names (a build with `--features etcd`).
    Etcd,
}

impl StoreMode {
    /// What the rows call a target with this service.
    pub fn label(self) -> &'static str {
        match self {
            StoreMode::Durable => "mqtt durable",
            StoreMode::InMemory => "mqtt in-memory",
            StoreMode::Etcd => "mqtt etcd (3 frontends)",
        }
    }
}

pub struct LocalBroker {
    url: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl LocalBroker {
    /// `etcd`: the cluster's endpoints, for [`StoreMode::Etcd`].
    pub fn start(mode: StoreMode, etcd: &[String]) -> anyhow::Result<LocalBroker> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("elector-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n\
                 user root\npersistence false\nlog_dest none\nmax_queued_messages 100000\n"
            ),
        )?;
        let mut broker = LocalBroker {
            url: format!("mqtt://127.0.0.1:{port}"),
            dir,
            children: Vec::new(),
        };
        let mosquitto = Command::new(find_mosquitto()?)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting mosquitto")?;
        broker.children.push(mosquitto);
        wait_for_port(port)?;
        let services = match mode {
            StoreMode::Durable => vec![vec![
                "--data-dir".to_owned(),
                broker.dir.join("statestore").display().to_string(),
            ]],
            StoreMode::InMemory => vec![vec![
                "--in-memory".to_owned(),
                "--lock-delay".to_owned(),
                "0s".to_owned(),
            ]],
            StoreMode::Etcd => {
                anyhow::ensure!(
                    !etcd.is_empty(),
                    "--store-modes etcd needs the cluster: --etcd http://HOST:PORT,..."
                );
                vec![vec!["--etcd".to_owned(), etcd.join(",")]; 3]
            }
        };
        for flags in services {
            let service = Command::new(std::env::current_exe()?)
                .args(["statestore", "--broker", &broker.url])
                .args(&flags)
                // The bench's own output stays a table; the service's
                // state-change lines are not part of it.
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .context("starting the state-store service")?;
            broker.children.push(service);
        }
        Ok(broker)
    }

    /// Flags that reach this broker.
    pub fn args(&self) -> BrokerArgs {
        BrokerArgs {
            broker: Some(self.url.clone()),
            ..BrokerArgs::default()
        }
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_mosquitto() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("mosquitto"))
        .find(|binary| Path::is_file(binary))
        .context("mosquitto is not installed (Debian: apt-get install -y mosquitto)")
}

fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "mosquitto did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
