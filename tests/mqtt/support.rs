//! Real parts for the MQTT tests: a mosquitto broker on a free loopback
//! port, the `elector` binary as separate processes, and a TCP proxy that
//! can cut a client's link.
//!
//! (Over 400 lines: every test module leans on these few fixtures, and they
//! share their process and port handling.)

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use elector_host::mqtt::BrokerOptions;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};
use serde_json::Value;

/// Bound for anything a passing test waits for; only guards against hangs.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The `RUST_LOG` of the `elector` processes a test starts:
/// `ELECTOR_TEST_LOG` (`debug` shows their logs when debugging), else
/// `default`.
pub fn test_log(default: &str) -> String {
    std::env::var("ELECTOR_TEST_LOG").unwrap_or_else(|_| default.into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < PATIENCE,
            "nothing listens on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mosquitto() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()]);
    for dir in candidates {
        let binary = dir.join("mosquitto");
        if binary.is_file() {
            return binary;
        }
    }
    panic!("mosquitto is not installed; install it (apt-get install -y mosquitto) or run .ci/run");
}

/// A mosquitto broker with TCP_NODELAY and persistence, on its own port.
pub struct Broker {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Broker {
    pub fn start() -> Broker {
        Broker::start_with("")
    }

    /// A broker whose single listener also has `listener_options` (TLS
    /// settings, for example); files can be put in [`Broker::dir`] first
    /// by passing a closure to [`Broker::start_prepared`].
    pub fn start_with(listener_options: &str) -> Broker {
        Broker::start_prepared(|_| listener_options.to_owned())
    }

    /// Like [`Broker::start_with`], with the options made from the
    /// broker's directory (to write certificates into it first).
    pub fn start_prepared(prepare: impl FnOnce(&std::path::Path) -> String) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let listener_options = prepare(dir.path());
        let config = format!(
            // `user root` keeps a broker started as root from switching to
            // a user that cannot write the temporary persistence directory.
            "listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nuser root\n\
             persistence true\npersistence_location {}/\nlog_dest file {}/mosquitto.log\n{listener_options}\n",
            dir.path().display(),
            dir.path().display()
        );
        std::fs::write(dir.path().join("mosquitto.conf"), config).unwrap();
        let mut broker = Broker {
            port,
            dir,
            child: None,
        };
        broker.run();
        broker
    }

    fn run(&mut self) {
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Stops the broker (SIGTERM, so it saves its sessions) and starts it
    /// again on the same port after `down`.
    pub fn restart(&mut self, down: Duration) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            let _ = child.wait();
        }
        std::thread::sleep(down);
        self.run();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, name: &str) {
    signal_pid(child.id(), name);
}

/// `kill -NAME pid`.
pub fn signal_pid(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// One line of an `elector` process's stdout, with the wall-clock time
/// it was read (to compare with the times the process prints).
pub struct Read {
    pub text: String,
    pub at: SystemTime,
}

/// An `elector` process whose stdout lines are read as they come: as JSON
/// by [`Elector::expect`], as text by [`Elector::next_line`].
pub struct Elector {
    child: Child,
    lines: mpsc::Receiver<Read>,
    pub label: String,
}

impl Elector {
    pub fn spawn(label: &str, args: &[&str]) -> Elector {
        Elector::spawn_command(
            label,
            Command::new(env!("CARGO_BIN_EXE_elector")).args(args),
        )
    }

    /// Runs `command` (an `elector` command line) with its stdout read.
    pub fn spawn_command(label: &str, command: &mut Command) -> Elector {
        let mut child = command
            .env("RUST_LOG", test_log("warn"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("elector starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(text) = line else { return };
                let read = Read {
                    text,
                    at: SystemTime::now(),
                };
                if sender.send(read).is_err() {
                    return;
                }
            }
        });
        Elector {
            child,
            lines,
            label: label.to_owned(),
        }
    }

    /// `elector campaign POSITION --name NAME --term TERM --json` (which
    /// renews by default).
    pub fn campaign(broker: &Broker, position: &str, name: &str, term: &str) -> Elector {
        Elector::campaign_with(broker, position, name, term, &[])
    }

    /// [`Elector::campaign`] with more flags.
    pub fn campaign_with(
        broker: &Broker,
        position: &str,
        name: &str,
        term: &str,
        extra: &[&str],
    ) -> Elector {
        let url = broker.url();
        let mut args = vec![
            "campaign", position, "--name", name, "--term", term, "--json", "--broker", &url,
        ];
        args.extend_from_slice(extra);
        Elector::spawn(name, &args)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of output as text, if one comes within `wait`.
    pub fn next_line(&self, wait: Duration) -> Option<String> {
        self.next_read(wait).map(|read| read.text)
    }

    /// The next line of output and when it was read.
    pub fn next_read(&self, wait: Duration) -> Option<Read> {
        self.lines.recv_timeout(wait).ok()
    }

    /// Waits for a JSON line with this `event`, skipping others; returns it
    /// with the time it was read.
    pub fn expect_read(&self, event: &str, wait: Duration) -> (Value, SystemTime) {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(read) => match serde_json::from_str::<Value>(&read.text) {
                    Ok(line) if line["event"] == event => return (line, read.at),
                    Ok(_) => continue,
                    Err(_) => eprintln!("{}: not JSON: {}", self.label, read.text),
                },
                Err(_) => panic!("{}: no {event:?} line within {wait:?}", self.label),
            }
        }
    }

    /// Waits for a JSON line with this `event`, skipping others.
    pub fn expect(&self, event: &str, wait: Duration) -> Value {
        self.expect_read(event, wait).0
    }

    /// True if a line with this `event` comes within `wait`.
    pub fn sees(&self, event: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while let Ok(read) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if serde_json::from_str::<Value>(&read.text).is_ok_and(|line| line["event"] == event) {
                return true;
            }
        }
        false
    }

    /// Sends `kill -NAME` (TERM, INT, STOP, CONT, ...).
    pub fn signal(&self, name: &str) {
        signal(&self.child, name);
    }

    pub fn terminate(&self) {
        self.signal("TERM");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn wait(&mut self) -> ExitStatus {
        self.wait_within(PATIENCE)
            .unwrap_or_else(|| panic!("{} did not exit", self.label))
    }

    /// The exit status, if the process exits within `wait`.
    pub fn wait_within(&mut self, wait: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() >= wait {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Elector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `elector ARGS --json` to completion and returns its lines.
pub fn run_elector(args: &[&str]) -> (ExitStatus, Vec<Value>) {
    let output = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(args)
        .arg("--json")
        .output()
        .expect("elector runs");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    (output.status, lines)
}

/// A broker with `elector statestore` answering on it: where most tests
/// start.
pub fn broker_with_service() -> (Broker, Service) {
    let broker = Broker::start();
    let service = Service::start(&broker);
    (broker, service)
}

/// `elector statestore` on the broker, ready when it answers.
/// Stops with the test (the process is killed on drop), and so does its
/// data directory (a temporary one, unless the test gave its own).
pub struct Service {
    process: Elector,
    _data_dir: Option<tempfile::TempDir>,
}

impl Service {
    pub fn start(broker: &Broker) -> Service {
        Service::start_via(broker, broker.port)
    }

    /// Stops the service's process in its tracks (SIGSTOP): requests reach
    /// the broker and get no answer, as from a hung store.
    pub fn freeze(&self) {
        self.process.signal("STOP");
    }

    pub fn thaw(&self) {
        self.process.signal("CONT");
    }

    /// Sends the service's process signal `name` (`KILL`: a crash).
    pub fn signal(&self, name: &str) {
        self.process.signal(name);
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The service connected to the broker through `port` (a [`Proxy`] in
    /// front of the broker, so a test can cut the service's own link).
    pub fn start_via(broker: &Broker, port: u16) -> Service {
        Service::start_with(broker, port, &[])
    }

    /// The service connecting with these extra flags (`--username`,
    /// `--in-memory`, ...); durable in a directory of its own unless told
    /// `--in-memory`.
    pub fn start_with(broker: &Broker, port: u16, flags: &[&str]) -> Service {
        let data_dir = (!flags.contains(&"--in-memory")).then(|| tempfile::tempdir().unwrap());
        let mut service = Service::spawn(broker, port, flags, data_dir.as_ref().map(|d| d.path()));
        service._data_dir = data_dir;
        service
    }

    /// The durable service keeping its state in `data_dir`, which the test
    /// owns: a restart in the same directory finds the state again.
    pub fn start_in(broker: &Broker, data_dir: &std::path::Path) -> Service {
        Service::spawn(broker, broker.port, &[], Some(data_dir))
    }

    fn spawn(
        broker: &Broker,
        port: u16,
        flags: &[&str],
        data_dir: Option<&std::path::Path>,
    ) -> Service {
        let url = format!("mqtt://127.0.0.1:{port}");
        let mut args = vec!["statestore", "--broker", &url];
        args.extend_from_slice(flags);
        let data_dir = data_dir.map(|dir| dir.to_str().expect("a UTF-8 temporary path"));
        if let Some(dir) = data_dir {
            args.extend(["--data-dir", dir]);
        }
        let service = Service {
            process: Elector::spawn("statestore", &args),
            _data_dir: None,
        };
        wait_until_served(broker);
        service
    }

    /// The most memory the service process has used so far (VmHWM), MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.pid()))
            .expect("the service's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status");
        kib / 1024
    }
}

/// Who leads `position` on `broker`, as `elector leader` says.
pub fn leader_of(broker: &Broker, position: &str) -> Option<String> {
    let url = broker.url();
    let (status, lines) = run_elector(&["leader", position, "--broker", &url]);
    assert!(status.success());
    lines[0]["leader"]["name"].as_str().map(str::to_owned)
}

/// Waits until the state-store service on `broker` (or a frontend of the
/// etcd-backed store) answers a request.
pub fn wait_until_served(broker: &Broker) {
    let url = broker.url();
    let started = Instant::now();
    loop {
        let (status, lines) = run_elector(&[
            "leader",
            "ready-check",
            "--broker",
            &url,
            "--request-timeout",
            "1s",
        ]);
        if status.success() && !lines.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the state-store service never answered"
        );
    }
}

/// The state-store service inside the test process, on a thread and
/// runtime of its own, with limits the binary has no flags for. Stops
/// on drop.
pub struct ServiceInProcess {
    stop: tokio_util::sync::CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServiceInProcess {
    pub fn start(broker: &Broker, limits: elector_statestore::Limits) -> ServiceInProcess {
        let settings = broker_args(broker.port)
            .settings_with_clean_start(false)
            .unwrap();
        let options = elector_service::ServiceOptions {
            limits,
            // A fresh store, for one test: nobody to wait out.
            storage: elector_service::Storage::InMemory {
                lock_delay: Duration::ZERO,
            },
            ..elector_service::ServiceOptions::default()
        };
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime
                .block_on(elector_service::serve(&settings, options, token))
                .expect("the in-process service runs");
        });
        wait_until_served(broker);
        ServiceInProcess {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ServiceInProcess {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Broker flags for the in-process client.
pub fn broker_args(port: u16) -> BrokerOptions {
    BrokerOptions {
        broker: Some(format!("mqtt://127.0.0.1:{port}")),
        ..BrokerOptions::default()
    }
}

/// Writes `key` on `store` unconditionally and checks that it applied.
pub async fn set_applied(store: &MqttStore, key: &[u8], value: &[u8]) {
    use elector_host::StateStoreBackend as _;
    let written = store
        .set(key, value, &elector_statestore::SetOptions::default())
        .await
        .unwrap();
    assert!(
        written.applied,
        "SET {} did not apply",
        String::from_utf8_lossy(key)
    );
}

pub async fn connect(port: u16, request_timeout: Duration) -> MqttStore {
    let options = MqttStoreOptions {
        request_timeout,
        ..MqttStoreOptions::default()
    };
    MqttStore::connect(&broker_args(port).settings().unwrap(), options)
        .await
        .expect("client connects")
}

/// A proxy in front of `broker`, with a runtime for its tasks beside the
/// test's blocking calls.
pub fn proxy_to(broker: &Broker) -> (tokio::runtime::Runtime, Proxy) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proxy = runtime.block_on(Proxy::start(broker.port));
    (runtime, proxy)
}

/// A loopback TCP proxy in front of a port, whose links can be cut (every
/// open connection closed, new ones refused), black-holed (bytes vanish,
/// connections stay open), stalled (nothing is read, so the senders'
/// sockets fill up) or slowed down.
pub struct Proxy {
    pub port: u16,
    mode: Arc<std::sync::Mutex<Mode>>,
    cut: Arc<tokio::sync::Notify>,
    open: Arc<std::sync::atomic::AtomicUsize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Pass,
    Refuse,
    Blackhole,
    Stall,
    Delay(Duration),
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(std::sync::Mutex::new(Mode::Pass));
        let cut = Arc::new(tokio::sync::Notify::new());
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (modes, cutting, opened) = (mode.clone(), cut.clone(), open.clone());
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                if *modes.lock().unwrap() == Mode::Refuse {
                    continue; // dropped: connection refused in effect
                }
                let (modes, cutting, opened) = (modes.clone(), cutting.clone(), opened.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::select! {
                        _ = forward(in_read, out_write, modes.clone()) => {}
                        _ = forward(out_read, in_write, modes) => {}
                        _ = cutting.notified() => {}
                    }
                    opened.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        Proxy {
            port,
            mode,
            cut,
            open,
        }
    }

    /// Connections open through the proxy now (one closes when either end
    /// closes it, or when the proxy cuts it).
    pub fn open_connections(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        *self.mode.lock().unwrap() = Mode::Refuse;
        self.cut.notify_waiters();
    }

    /// Keeps connections open but drops every byte.
    pub fn blackhole(&self) {
        *self.mode.lock().unwrap() = Mode::Blackhole;
    }

    /// Stops reading from every connection, both ways, until restored:
    /// the connections stay open, and what the ends send piles up in their
    /// sockets until those are full.
    pub fn stall(&self) {
        *self.mode.lock().unwrap() = Mode::Stall;
    }

    /// Delays every chunk of bytes by `delay`.
    pub fn slow(&self, delay: Duration) {
        *self.mode.lock().unwrap() = Mode::Delay(delay);
    }

    pub fn restore(&self) {
        *self.mode.lock().unwrap() = Mode::Pass;
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<std::sync::Mutex<Mode>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        while *mode.lock().unwrap() == Mode::Stall {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        let current = *mode.lock().unwrap();
        match current {
            Mode::Blackhole => continue,
            Mode::Delay(delay) => tokio::time::sleep(delay).await,
            Mode::Pass | Mode::Refuse | Mode::Stall => {}
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// `elector run` of the fenced-log example as replica `name`, with `args`
/// after the position and name (term, tick, broker, ...). Logs at
/// `ELECTOR_TEST_LOG`, else at `default_log`.
pub fn fenced_log_replica(name: &str, args: &[&str], default_log: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["run", env!("ELECTOR_COMPONENT_ELECTOR_EXAMPLE_FENCED_LOG")])
        .args(["--position", "log", "--name", name])
        .args(args)
        .env("RUST_LOG", test_log(default_log))
        .stdout(Stdio::null())
        .spawn()
        .expect("elector run starts")
}

/// The address a process announced on its first stderr line (`metrics and
/// health on http://ADDRESS/`), for a test to scrape.
pub fn announced_metrics_address(stderr: &mut impl BufRead) -> String {
    let mut announced = String::new();
    stderr.read_line(&mut announced).unwrap();
    announced
        .strip_prefix("metrics and health on http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("{announced}"))
        .to_owned()
}

/// `GET path` from the HTTP endpoint at `address`: the whole response,
/// status line, headers and body.
pub fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// All a finished child process wrote to its (piped) stderr.
pub fn stderr_of(child: &mut Child) -> String {
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().expect("stderr piped");
    std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    stderr
}
