//! docker-compose.yml read as Docker Compose would, without a Docker engine: every service it
//! names exists, hcal waits for a healthy broker, the hcal configuration it mounts loads with
//! hcal's own loader and is in kafka mode against the compose broker, hcal's endpoints and
//! secrets match the simulators', and the simulators' command lines are accepted by the real
//! `hcal sim` (run here with the compose arguments, on a free loopback port), and the whole
//! stack, run from those command lines against a real Kafka-protocol broker, decorates an invite.

// Helpers of a test crate panic on surprises just as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

mod support;
use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn compose() -> Yaml {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docker-compose.yml")).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).unwrap();
    assert_eq!(docs.len(), 1, "one YAML document");
    docs.remove(0)
}

fn service<'a>(doc: &'a Yaml, name: &str) -> &'a Yaml {
    let service = &doc["services"][name];
    assert!(service.as_hash().is_some(), "docker-compose.yml has no service {name:?}");
    service
}

fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// Compose's `${VAR:-default}` with VAR unset (the values the file itself supplies).
fn interpolate(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e).unwrap();
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A service's `command`, in list or string form.
fn command(service: &Yaml) -> Vec<String> {
    match &service["command"] {
        Yaml::Array(items) => items.iter().map(scalar).collect(),
        Yaml::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        other => panic!("no command: {other:?}"),
    }
}

/// The value after `flag` in a command line.
fn flag<'a>(command: &'a [String], flag: &str) -> &'a str {
    let at = command.iter().position(|a| a == flag).unwrap_or_else(|| panic!("{flag} missing in {command:?}"));
    &command[at + 1]
}

/// A service's `environment`, in map or list form, interpolated.
fn environment(service: &Yaml) -> BTreeMap<String, String> {
    match &service["environment"] {
        Yaml::Hash(map) => map.iter().map(|(k, v)| (scalar(k), interpolate(&scalar(v)))).collect(),
        Yaml::Array(items) => items
            .iter()
            .map(|i| {
                let item = scalar(i);
                let (k, v) = item.split_once('=').unwrap();
                (k.to_owned(), interpolate(v))
            })
            .collect(),
        Yaml::BadValue => BTreeMap::new(),
        other => panic!("environment: {other:?}"),
    }
}

/// A service's volumes as (source, target): a host path for bind mounts, a name for volumes.
fn volumes(service: &Yaml) -> Vec<(String, String)> {
    service["volumes"]
        .as_vec()
        .map(|v| {
            v.iter()
                .map(|m| {
                    let parts: Vec<String> = scalar(m).split(':').map(str::to_owned).collect();
                    (parts[0].clone(), parts[1].clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The host file bind-mounted at `target` in a service.
fn mounted_file(service: &Yaml, target: &str) -> PathBuf {
    let (source, _) = volumes(service)
        .into_iter()
        .find(|(_, t)| t == target)
        .unwrap_or_else(|| panic!("nothing is mounted at {target}"));
    assert!(source.starts_with("./"), "{source} is not a bind mount relative to the compose file");
    let path = Path::new(ROOT).join(&source);
    assert!(path.is_file(), "{} does not exist", path.display());
    path
}

/// `host:port` of an http URL.
fn authority(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port_or_known_default().unwrap())
}

/// `service:port` for a service listening on `--listen 0.0.0.0:PORT`.
fn listen_authority(name: &str, command: &[String]) -> String {
    let listen: std::net::SocketAddr = flag(command, "--listen").parse().unwrap();
    assert!(listen.ip().is_unspecified(), "{name} must listen on every interface of its container");
    format!("{name}:{}", listen.port())
}

fn hcal_config(doc: &Yaml) -> hcal::config::Config {
    let hcal = service(doc, "hcal");
    let command = command(hcal);
    assert_eq!(command[0], "serve", "{command:?}");
    hcal::config::load(&mounted_file(hcal, flag(&command, "--config"))).unwrap()
}

#[test]
fn every_service_and_volume_named_exists() {
    let doc = compose();
    let services = doc["services"].as_hash().unwrap();
    let names: Vec<String> = services.keys().map(scalar).collect();
    for expected in ["kafka", "graph-sim", "webex-sim", "hcal"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing: {names:?}");
    }
    let declared: Vec<String> = doc["volumes"].as_hash().map(|v| v.keys().map(scalar).collect()).unwrap_or_default();
    for (name, service) in services {
        let name = scalar(name);
        if let Some(deps) = service["depends_on"].as_hash() {
            for dep in deps.keys().map(scalar) {
                assert!(names.contains(&dep), "{name} depends on {dep}, which is not a service");
            }
        }
        for (source, _) in volumes(service) {
            if !source.starts_with('.') && !source.starts_with('/') {
                assert!(declared.contains(&source), "{name} uses volume {source}, which is not declared");
            }
        }
        // Every service runs an image that exists or is built here.
        let image = service["image"].as_str();
        let built = !service["build"].is_badvalue()
            || image.is_some_and(|i| {
                services.values().any(|s| !s["build"].is_badvalue() && s["image"].as_str() == Some(i))
            });
        assert!(built || image.is_some_and(|i| i.contains(':')), "{name}: no build and no tagged image");
    }
}

#[test]
fn hcal_runs_in_kafka_mode_against_the_healthy_compose_broker() {
    let doc = compose();
    let kafka = service(&doc, "kafka");
    assert!(kafka["image"].as_str().unwrap().starts_with("apache/kafka:"), "the official Apache Kafka image");
    assert!(!kafka["healthcheck"]["test"].is_badvalue(), "the broker has a health check");
    let broker_env = environment(kafka);
    assert_eq!(broker_env["KAFKA_PROCESS_ROLES"], "broker,controller", "KRaft, no ZooKeeper");
    assert!(broker_env["KAFKA_ADVERTISED_LISTENERS"].split(',').any(|l| l == "PLAINTEXT://kafka:9092"));

    let hcal = service(&doc, "hcal");
    assert_eq!(hcal["depends_on"]["kafka"]["condition"].as_str(), Some("service_healthy"));
    for sim in ["graph-sim", "webex-sim"] {
        assert!(!hcal["depends_on"][sim].is_badvalue(), "hcal depends on {sim}");
    }

    let config = hcal_config(&doc);
    let hcal::log::LogConfig::Kafka(kafka_config) = &config.log else { panic!("not in kafka mode: {:?}", config.log) };
    assert_eq!(kafka_config.bootstrap_servers, "kafka:9092");
    assert!(kafka_config.create_topics, "the broker does not auto-create topics, so hcal must");
    assert_eq!(broker_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"], "false");

    // Graph reaches hcal's webhook at public_url, which is the hcal service's listen port.
    assert!(config.service.listen.ip().is_unspecified());
    assert_eq!(authority(&config.service.public_url()), format!("hcal:{}", config.service.listen.port()));
    // The data directory is a named volume, created writable for the image's unprivileged user.
    let data_dir = config.service.data_dir.to_str().unwrap().to_owned();
    let (volume, _) = volumes(hcal).into_iter().find(|(_, t)| *t == data_dir).expect("data_dir is a volume");
    assert!(!volume.starts_with('.'), "data_dir is a named volume, not a bind mount");
    let dockerfile = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    assert!(dockerfile.contains(&format!("chown 65534:65534 {data_dir}")), "the image prepares {data_dir}");
}

#[test]
fn hcal_points_at_the_simulators_with_their_ids_and_secrets() {
    let doc = compose();
    let config = hcal_config(&doc);
    let graph_sim = command(service(&doc, "graph-sim"));
    let webex_sim = command(service(&doc, "webex-sim"));
    assert_eq!(&graph_sim[..2], ["sim", "graph"]);
    assert_eq!(&webex_sim[..2], ["sim", "webex"]);

    let graph = listen_authority("graph-sim", &graph_sim);
    assert_eq!(authority(&config.graph.login_base), graph);
    assert_eq!(authority(&config.graph.graph_base), graph);
    assert!(config.graph.graph_base.trim_end_matches('/').ends_with("/v1.0"));
    assert_eq!(authority(&config.webex.base_url), listen_authority("webex-sim", &webex_sim));
    hcal::tenant::cloud::reconcile(&config.tenant.cloud, &config.graph).unwrap();

    assert_eq!(flag(&graph_sim, "--tenant-id"), config.tenant.id.to_string());
    assert_eq!(flag(&graph_sim, "--client-id"), config.graph.client_id);
    assert_eq!(flag(&graph_sim, "--redirect-uri"), format!("{}/admin/consent/callback", config.service.public_url()));

    // The secrets hcal reads are set, and the simulators were given the same ones.
    let hcal_env = environment(service(&doc, "hcal"));
    for var in [&config.graph.client_secret_env, &config.webex.token_env, &config.service.api_token_env] {
        assert!(hcal_env.get(var).is_some_and(|v| !v.is_empty()), "hcal's environment lacks {var}");
    }
    let graph_env = environment(service(&doc, "graph-sim"));
    assert_eq!(graph_env.get("HCAL_GRAPH_CLIENT_SECRET"), hcal_env.get(&config.graph.client_secret_env));
    let webex_env = environment(service(&doc, "webex-sim"));
    assert_eq!(webex_env.get("HCAL_WEBEX_TOKEN"), hcal_env.get(&config.webex.token_env));
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a simulator service's command line with `hcal` here: its environment, its mounted
/// files at their host paths, `--listen` on a free loopback port. Returns its output up to
/// "Press Ctrl-C".
fn run_like_compose(doc: &Yaml, name: &str) -> Vec<String> {
    start_like_compose(doc, name, "127.0.0.1:0", &|a| a.to_owned()).1
}

/// Starts a simulator service's command line with `hcal` here, listening on `listen`, each
/// argument passed through `rewrite` (compose host names to loopback addresses). Returns the
/// running process and its output up to "Press Ctrl-C".
fn start_like_compose(doc: &Yaml, name: &str, listen: &str, rewrite: &dyn Fn(&str) -> String) -> (Killed, Vec<String>) {
    let service = service(doc, name);
    let mut args: Vec<String> = command(service).iter().map(|a| rewrite(a)).collect();
    let at = args.iter().position(|a| a == "--listen").unwrap() + 1;
    args[at] = listen.into();
    for arg in &mut args {
        if let Some((source, _)) = volumes(service).into_iter().find(|(_, t)| t == arg) {
            *arg = Path::new(ROOT).join(source).to_str().unwrap().to_owned();
        }
    }
    let child = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(&args)
        .env_remove("HCAL_GRAPH_CLIENT_SECRET")
        .env_remove("HCAL_WEBEX_TOKEN")
        .envs(environment(service))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    // Its log goes to stderr: drained all along (a full pipe would block the simulator) and
    // shown with the test's output.
    let log = BufReader::new(child.0.stderr.take().unwrap());
    let label = name.to_owned();
    std::thread::spawn(move || log.lines().map_while(Result::ok).for_each(|l| eprintln!("[{label}] {l}")));
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.0.stdout.take().unwrap()).lines();
    for line in out.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Press Ctrl-C");
        lines.push(line);
        if done {
            // Keep draining its output so the process never blocks on a full pipe.
            std::thread::spawn(move || out.for_each(drop));
            return (child, lines);
        }
    }
    panic!("{name} did not start with the compose arguments {args:?}: {lines:#?} (its log is above)");
}

#[test]
fn the_simulators_accept_their_compose_command_lines() {
    let doc = compose();
    let config = hcal_config(&doc);
    let graph = run_like_compose(&doc, "graph-sim");
    let tenant = format!("Demo tenant contoso.example ({})", config.tenant.id);
    assert!(graph.contains(&tenant), "{graph:#?}");
    assert!(graph.iter().any(|l| l.trim() == format!("client id        {}", config.graph.client_id)), "{graph:#?}");
    let webex = run_like_compose(&doc, "webex-sim");
    assert!(webex.iter().any(|l| l.contains("<alex@contoso.example>")), "{webex:#?}");

    // The Graph simulator's configuration lets it deliver to hcal over plain HTTP inside the
    // compose network.
    let graph_config = mounted_file(service(&doc, "graph-sim"), flag(&command(service(&doc, "graph-sim")), "--config"));
    let sim: hcal_sim::graph::GraphSimConfig = toml::from_str(&std::fs::read_to_string(graph_config).unwrap()).unwrap();
    assert!(!sim.require_https_except_loopback, "hcal's public_url is http://hcal:…, not loopback");
}

/// The compose stack without Docker: a real Kafka-protocol broker (tansu, installed by
/// `.ci/run`) in place of the kafka service, and the other three services run from their
/// compose command lines, environments and mounted files, with compose's host names mapped to
/// loopback ports. An `@webex` invite gets its join details: the shipped configuration works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_stack_decorates_an_invite_without_docker() {
    if !support::Broker::usable_for("the_compose_stack_decorates_an_invite_without_docker") {
        return;
    }
    let broker = support::Broker::start().unwrap();
    let doc = compose();
    let (graph_port, webex_port, hcal_port) = (support::port(), support::port(), support::port());
    let data = tempfile::tempdir().unwrap();
    // Compose's network names, as this host reaches them.
    let hosts: Vec<(String, String)> = vec![
        ("http://hcal:8080".into(), format!("http://127.0.0.1:{hcal_port}")),
        ("0.0.0.0:8080".into(), format!("127.0.0.1:{hcal_port}")),
        ("graph-sim:8025".into(), format!("127.0.0.1:{graph_port}")),
        ("webex-sim:8026".into(), format!("127.0.0.1:{webex_port}")),
        ("kafka:9092".into(), broker.bootstrap()),
        ("/var/lib/hcal".into(), data.path().to_str().unwrap().to_owned()),
    ];
    let rewrite = |text: &str| hosts.iter().fold(text.to_owned(), |t, (from, to)| t.replace(from, to));
    let (_graph, graph_out) = start_like_compose(&doc, "graph-sim", &format!("127.0.0.1:{graph_port}"), &rewrite);
    let (_webex, _) = start_like_compose(&doc, "webex-sim", &format!("127.0.0.1:{webex_port}"), &rewrite);

    let hcal_service = service(&doc, "hcal");
    let args = command(hcal_service);
    let mounted = mounted_file(hcal_service, flag(&args, "--config"));
    let config = data.path().join("hcal.toml");
    std::fs::write(&config, rewrite(&std::fs::read_to_string(mounted).unwrap())).unwrap();
    let env = environment(hcal_service);
    let log = std::fs::File::create(data.path().join("hcal.log")).unwrap();
    let _hcal = Killed(
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("HCAL_GRAPH_CLIENT_SECRET")
            .env_remove("HCAL_WEBEX_TOKEN")
            .env_remove("HCAL_API_TOKEN")
            .envs(&env)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let hcal = format!("http://127.0.0.1:{hcal_port}");
    let graph = format!("http://127.0.0.1:{graph_port}");
    let http = reqwest::Client::new();
    let token = env.get("HCAL_API_TOKEN").unwrap().clone();
    let hcal_log = || std::fs::read_to_string(data.path().join("hcal.log")).unwrap_or_default();
    // A failed step shows what hcal said.
    struct ShowLog(std::path::PathBuf);
    impl Drop for ShowLog {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("---- hcal output ----\n{}", std::fs::read_to_string(&self.0).unwrap_or_default());
            }
        }
    }
    let _show = ShowLog(data.path().join("hcal.log"));
    let wait = std::time::Duration::from_secs(60);
    support::eventually("hcal to start", wait, || async {
        http.get(format!("{hcal}/healthz")).send().await.ok()?.status().is_success().then_some(())
    })
    .await;

    // The demo mailbox the Graph simulator printed, enabled as an operator would.
    let alex = graph_out
        .iter()
        .find(|l| l.contains("<alex@contoso.example>"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no alex in {graph_out:#?}"))
        .to_owned();
    let enabled = http
        .post(format!("{hcal}/admin/v1/mailboxes"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"userId": alex}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 202, "{}", hcal_log());
    // A GET of hcal's API with the operator's token.
    let api = |path: String| {
        let request = http.get(format!("{hcal}{path}")).bearer_auth(&token);
        async move { request.send().await.ok()?.json::<serde_json::Value>().await.ok() }
    };
    support::eventually("alex active", wait, || async {
        (api(format!("/admin/v1/mailboxes/{alex}")).await?["status"] == "active").then_some(())
    })
    .await;

    // Alex types @webex in Outlook (the simulator's act-as-owner surface).
    let created: serde_json::Value = http
        .post(format!("{graph}/_sim/as/users/{alex}/events"))
        .json(&support::invite("Compose check", "@webex", "<p>Agenda</p>"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    support::eventually("join details written", wait, || async {
        let event: serde_json::Value =
            http.get(format!("{graph}/_sim/as/users/{alex}/events/{id}")).send().await.ok()?.json().await.ok()?;
        (support::blocks(event["body"]["content"].as_str()?) == 1).then_some(())
    })
    .await;
    // Alex's app reads the list with Alex's token, issued as an operator would.
    let issued: serde_json::Value = http
        .post(format!("{hcal}/admin/v1/tokens"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"userId": alex}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alex_token = issued["token"].as_str().unwrap_or_else(|| panic!("no token in {issued}")).to_owned();
    support::eventually("the meeting listed with its join address", wait, || async {
        let request = http.get(format!("{hcal}/v1/users/{alex}/meetings")).bearer_auth(&alex_token);
        let list = request.send().await.ok()?.json::<serde_json::Value>().await.ok()?;
        list.to_string().contains("hcal.webex.com").then_some(())
    })
    .await;
}
