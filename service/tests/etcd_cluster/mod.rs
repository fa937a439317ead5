//! A real 3-member etcd cluster for the tests: Debian's `etcd` binary
//! (`ETCD_BIN` overrides it), loopback ports, a temporary data directory
//! per member, and short Raft timings so that elections take a fraction of
//! a second. Members can be killed (`kill -9`) and restarted on their data.
//! Everything is killed when the cluster is dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, GetOptions};

/// Bound for anything a passing test waits for; only guards against hangs.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Times a cluster is started on new ports when its first ports were
/// taken meanwhile by someone else.
const STARTS: usize = 4;

fn etcd() -> PathBuf {
    if let Some(binary) = std::env::var_os("ETCD_BIN") {
        return binary.into();
    }
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/bin".into(), "/usr/local/bin".into()]);
    for dir in candidates {
        let binary = dir.join("etcd");
        if binary.is_file() {
            return binary;
        }
    }
    panic!("etcd is not installed; install it (apt-get install -y etcd-server) or run .ci/run");
}

/// `count` distinct free loopback ports: all are bound at once (so they
/// differ), then released for etcd to bind.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

/// A running 3-member etcd cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    initial_cluster: String,
    token: String,
}

impl Cluster {
    /// Starts 3 members and waits until each serves linearizable reads.
    pub async fn start() -> Cluster {
        let mut last_logs = String::new();
        for attempt in 0..STARTS {
            let mut cluster = Cluster::on_free_ports(attempt);
            for member in 0..cluster.members.len() {
                cluster.spawn(member);
            }
            if cluster.wait_healthy_all().await {
                return cluster;
            }
            last_logs = cluster.logs();
            eprintln!("etcd cluster did not start (attempt {attempt}); trying other ports");
        }
        panic!("no etcd cluster started in {STARTS} attempts; last logs:\n{last_logs}");
    }

    fn on_free_ports(attempt: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ports = free_ports(6);
        let members: Vec<Member> = (0..3)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: ports[2 * i],
                peer_port: ports[2 * i + 1],
                child: None,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!("elector-test-{}-{attempt}", std::process::id());
        Cluster {
            dir,
            members,
            initial_cluster,
            token,
        }
    }

    fn spawn(&mut self, index: usize) {
        let member = &self.members[index];
        let data = self.dir.path().join(&member.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", member.name)))
            .unwrap();
        let client_url = format!("http://127.0.0.1:{}", member.client_port);
        let peer_url = format!("http://127.0.0.1:{}", member.peer_port);
        let child = Command::new(etcd())
            .arg("--name")
            .arg(&member.name)
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &self.initial_cluster])
            // Ignored on a restart: the data directory has the cluster.
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &self.token])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .args(["--logger", "zap", "--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        self.members[index].child = Some(child);
    }

    /// `http://127.0.0.1:<client port>` of every member.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.members.len()).map(|i| self.endpoint(i)).collect()
    }

    pub fn endpoint(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.members[index].client_port)
    }

    /// `kill -9` of member `index`, waited for.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.members[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `index` again on its data and ports, and waits until
    /// it serves linearizable reads.
    pub async fn restart(&mut self, index: usize) {
        assert!(self.members[index].child.is_none(), "member {index} runs");
        self.spawn(index);
        assert!(
            self.wait_healthy(index, Instant::now() + PATIENCE).await,
            "member {index} did not come back; logs:\n{}",
            self.logs()
        );
    }

    async fn wait_healthy_all(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        for index in 0..self.members.len() {
            if !self.wait_healthy(index, deadline).await {
                return false;
            }
        }
        true
    }

    /// Whether member `index` serves a linearizable read (so it is up and
    /// has a leader with quorum) before `deadline`; false at once if its
    /// process exited (a port was taken, say).
    async fn wait_healthy(&mut self, index: usize, deadline: Instant) -> bool {
        let endpoint = self.endpoint(index);
        while Instant::now() < deadline {
            if let Some(child) = self.members[index].child.as_mut()
                && !matches!(child.try_wait(), Ok(None))
            {
                return false;
            }
            if healthy(&endpoint).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Every member's log so far.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let log = std::fs::read_to_string(self.dir.path().join(format!("{}.log", m.name)))
                    .unwrap_or_default();
                format!("--- {} ---\n{log}", m.name)
            })
            .collect()
    }
}

async fn healthy(endpoint: &str) -> bool {
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_millis(500))
        .with_require_leader(true);
    let read = async {
        let mut client = Client::connect([endpoint], Some(options)).await?;
        client
            .get("health", Some(GetOptions::new().with_count_only()))
            .await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), read).await,
        Ok(Ok(_))
    )
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            self.kill(index);
        }
    }
}
