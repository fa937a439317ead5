//! The etcd-backed store for a test: a real 3-member etcd cluster, a
//! mosquitto, and `elector statestore --etcd` frontends on it, answering
//! by the time [`EtcdStore::start`] returns. Everything stops on drop.

use crate::support::*;

#[path = "../../service/tests/etcd_cluster/mod.rs"]
#[allow(dead_code)]
pub mod etcd_cluster;

pub struct EtcdStore {
    pub frontends: Vec<Elector>,
    pub broker: Broker,
    pub cluster: etcd_cluster::Cluster,
}

impl EtcdStore {
    pub async fn start(frontends: usize) -> EtcdStore {
        let cluster = etcd_cluster::Cluster::start().await;
        let broker = Broker::start();
        let endpoints = cluster.endpoints();
        let frontends = (0..frontends)
            .map(|_| frontend(&broker, &endpoints))
            .collect();
        tokio::task::block_in_place(|| wait_until_served(&broker));
        EtcdStore {
            frontends,
            broker,
            cluster,
        }
    }
}

/// `store`'s broker, with a frontend killed 100 ms from now and an etcd
/// member 400 ms from now (both `kill -9`), while the caller goes on using
/// it.
pub fn kill_one_of_each_meanwhile(store: EtcdStore) -> UnderKills {
    let EtcdStore {
        mut frontends,
        broker,
        mut cluster,
    } = store;
    let kept = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        frontends[0].kill();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cluster.kill(0);
        (frontends, cluster)
    });
    UnderKills {
        broker,
        _kept: kept,
    }
}

/// The broker of [`kill_one_of_each_meanwhile`]; the frontends and the
/// cluster live (in the killing task's result) as long as this does.
pub struct UnderKills {
    pub broker: Broker,
    _kept: tokio::task::JoinHandle<(Vec<Elector>, etcd_cluster::Cluster)>,
}

/// An `elector statestore --etcd ENDPOINTS` frontend on `broker`.
pub fn frontend(broker: &Broker, endpoints: &[String]) -> Elector {
    let url = broker.url();
    let etcd = endpoints.join(",");
    Elector::spawn(
        "frontend",
        &["statestore", "--broker", &url, "--etcd", &etcd],
    )
}
