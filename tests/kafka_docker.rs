//! The Docker tier (`cargo test --features docker --test kafka_docker`): hcal's Kafka event log
//! against Apache Kafka itself, the `apache/kafka` image at the tag docker-compose.yml runs,
//! started through testcontainers. Without a Docker engine it prints "skipped: no Docker
//! engine (…)" and passes, as the tansu tier does without tansu.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use hcal::log::kafka::{KafkaConfig, KafkaLog};
use hcal_actors::log::{EventLog as _, MAILBOX_EVENTS, NOTIFICATIONS, partition_for};
use testcontainers_modules::kafka::apache;
use testcontainers_modules::testcontainers::ImageExt as _;
use testcontainers_modules::testcontainers::runners::AsyncRunner as _;

/// The tag of `apache/kafka` in docker-compose.yml, so both run the same broker.
fn compose_kafka_tag() -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    let image = doc["services"]["kafka"]["image"].as_str().unwrap();
    image.strip_prefix("apache/kafka:").unwrap_or_else(|| panic!("unexpected Kafka image {image}")).to_owned()
}

/// Whether a Docker engine answers `GET /_ping` at `DOCKER_HOST` (unix or tcp without TLS) or
/// at the default socket; why not otherwise.
fn docker_engine() -> Result<(), String> {
    const PING: &[u8] = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let timeout = Duration::from_secs(3);
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    let mut answer = String::new();
    if let Some(path) = host.strip_prefix("unix://") {
        let mut socket = std::os::unix::net::UnixStream::connect(path).map_err(|e| format!("{host}: {e}"))?;
        socket.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        socket.write_all(PING).and_then(|()| socket.read_to_string(&mut answer)).map_err(|e| format!("{host}: {e}"))?;
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        use std::net::ToSocketAddrs as _;
        let addr =
            addr.to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(|| format!("{host}: bad address"))?;
        let mut socket = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{host}: {e}"))?;
        if std::env::var_os("DOCKER_TLS_VERIFY").is_some() {
            return Ok(()); // Reachable; the TLS handshake is testcontainers' business.
        }
        socket.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        socket.write_all(PING).and_then(|()| socket.read_to_string(&mut answer)).map_err(|e| format!("{host}: {e}"))?;
    } else {
        return Err(format!("DOCKER_HOST={host} is neither unix:// nor tcp://"));
    }
    if answer.starts_with("HTTP/1.") && answer.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{host} did not answer the Docker ping"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_log_round_trip_on_apache_kafka() {
    let tag = compose_kafka_tag();
    if let Err(reason) = docker_engine() {
        println!("skipped: no Docker engine ({reason}); this tier runs apache/kafka:{tag}");
        return;
    }
    let broker = apache::Kafka::default().with_jvm_image().with_tag(&tag).start().await.expect("apache/kafka starts");
    // The module advertises the mapped port on 127.0.0.1.
    let port = broker.get_host_port_ipv4(apache::KAFKA_PORT).await.unwrap();
    let log = KafkaLog::connect(KafkaConfig::new(format!("127.0.0.1:{port}"))).await.expect("hcal connects");

    // hcal created its topics with the default partition count.
    let partitions = log.partitions(NOTIFICATIONS);
    assert_eq!(partitions, KafkaConfig::new("unused").partitions);
    assert_eq!(log.partitions(MAILBOX_EVENTS), partitions);

    let key = "0c0ffee0-0000-4000-8000-00000000c0de/00000000-0000-4000-8000-000000000001";
    let p = partition_for(key, partitions);
    let payloads = vec![b"{\"n\":1}".to_vec(), b"{\"n\":2}".to_vec(), b"{\"n\":3}".to_vec()];
    assert_eq!(log.append(NOTIFICATIONS, key, payloads.clone()).await.unwrap(), [0, 1, 2]);
    assert_eq!(log.append(NOTIFICATIONS, key, vec![b"{\"n\":4}".to_vec()]).await.unwrap(), [3]);

    let records = log.read(NOTIFICATIONS, p, 0, 10).await.unwrap();
    assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert!(records.iter().all(|r| r.partition == p && r.key == key), "{records:?}");
    assert_eq!(records[..3].iter().map(|r| r.payload.clone()).collect::<Vec<_>>(), payloads);
    let middle = log.read(NOTIFICATIONS, p, 1, 2).await.unwrap();
    assert_eq!(middle.iter().map(|r| r.offset).collect::<Vec<_>>(), [1, 2]);
    assert!(log.read(NOTIFICATIONS, p, 4, 10).await.unwrap().is_empty());
    for q in (0..partitions).filter(|q| *q != p) {
        assert!(log.read(NOTIFICATIONS, q, 0, 10).await.unwrap().is_empty(), "partition {q}");
    }
    assert!(log.read(MAILBOX_EVENTS, p, 0, 10).await.unwrap().is_empty());

    // Group positions round-trip through the broker.
    assert_eq!(log.committed("docker-tier", NOTIFICATIONS, p).await.unwrap(), 0);
    log.commit("docker-tier", NOTIFICATIONS, p, 4).await.unwrap();
    assert_eq!(log.committed("docker-tier", NOTIFICATIONS, p).await.unwrap(), 4);

    log.shutdown().await;
}
