//! `hcal demo`: the service and the bundled simulators in one process, a few enabled users, and
//! a scripted scenario played through the real APIs, narrated in plain language.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use hcal_sim::chat::hook::{HookSim, HookSimConfig};
use hcal_sim::device::{DeviceSim, DeviceSimConfig, DeviceSpec};
use hcal_sim::graph::{GraphSim, GraphSimConfig, MailboxKind};
use hcal_sim::webex::{WebexSim, WebexSimConfig};
use serde_json::{Value, json};

use hcal::service::{self, Secrets};

/// Options of the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where all state goes; a temporary directory when `None`.
    pub data_dir: Option<PathBuf>,
    /// hcal's HTTP address.
    pub listen: SocketAddr,
    /// Play the scenario and return instead of running on.
    pub exit: bool,
}

/// Heading of the join block; the demo counts it to show the invite was written once.
const BLOCK_HEADING: &str = "Join Webex meeting";

/// The simulated video device of Conf Room Rainier.
const ROOM_DEVICE: &str = "rainier-1";

/// How often the demo reads automatic replies (the default is 5 minutes): short, so a change
/// made in the simulator shows within seconds.
const DEMO_CADENCE: &str = "10s";

struct Scene {
    http: reqwest::Client,
    hcal: String,
    /// The admin token.
    token: String,
    /// Each enabled user's token, as their app would hold it.
    user_tokens: parking_lot::Mutex<std::collections::HashMap<String, String>>,
}

impl Scene {
    async fn meetings(&self, user: &str) -> anyhow::Result<Vec<Value>> {
        let token = self.user_tokens.lock().get(user).cloned().unwrap_or_default();
        let resp = self
            .http
            .get(format!("{}/v1/users/{user}/meetings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", self.hcal))
            .bearer_auth(token)
            .send()
            .await?;
        let body: Value = resp.error_for_status()?.json().await?;
        Ok(body["value"].as_array().cloned().unwrap_or_default())
    }

    async fn status(&self, user: &str) -> anyhow::Result<Value> {
        let resp =
            self.http.get(format!("{}/admin/v1/mailboxes/{user}", self.hcal)).bearer_auth(&self.token).send().await?;
        Ok(resp.error_for_status()?.json().await?)
    }

    async fn enable(&self, user: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}/admin/v1/mailboxes", self.hcal))
            .bearer_auth(&self.token)
            .json(&json!({"userId": user}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "enabling failed with {status}: {body}");
        Ok(body)
    }

    /// Issues the user's token (what `hcal tokens issue --user` does) and keeps it.
    async fn issue_token(&self, user: &str) -> anyhow::Result<String> {
        let resp = self
            .http
            .post(format!("{}/admin/v1/tokens", self.hcal))
            .bearer_auth(&self.token)
            .json(&json!({"userId": user}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "issuing a token failed with {status}: {body}");
        let token = body["token"].as_str().unwrap_or_default().to_owned();
        self.user_tokens.lock().insert(user.to_owned(), token.clone());
        Ok(token)
    }
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<Value>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            anyhow::bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn in_a_week(hour: u32) -> (String, String) {
    let day = (chrono::Utc::now() + chrono::Duration::days(7)).date_naive();
    let start = day.and_hms_opt(hour, 0, 0).unwrap_or_default();
    let end = start + chrono::Duration::hours(1);
    (start.format("%Y-%m-%dT%H:%M:%S").to_string(), end.format("%Y-%m-%dT%H:%M:%S").to_string())
}

/// Runs the demo. Returns whether every step was observed.
pub async fn run(options: DemoOptions) -> anyhow::Result<bool> {
    let graph = GraphSim::start(GraphSimConfig::default()).await.context("starting the Graph simulator")?;
    let webex = WebexSim::start(WebexSimConfig::default()).await.context("starting the Webex simulator")?;
    let devices = DeviceSim::start(DeviceSimConfig::default()).await.context("starting the device simulator")?;
    let device_password = format!("demo-{}", uuid::Uuid::new_v4().simple());
    devices.add_device(DeviceSpec::roomos(ROOM_DEVICE, "admin", &device_password));
    // The bundled receiver of the presence webhook, with a fresh signing secret.
    let hook_secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD
            .encode([uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat())
    );
    let hook = HookSim::start(HookSimConfig::new(&hook_secret)).await.context("starting the webhook receiver")?;
    let webex_token = format!("demo-{}", uuid::Uuid::new_v4().simple());
    webex.add_token(&webex_token);
    let demo = graph.seed_demo("http://127.0.0.1/admin/consent").map_err(anyhow::Error::msg)?;
    for (_, name, mail, kind) in &demo.users {
        if *kind == MailboxKind::User {
            webex.add_person(mail, name);
        }
    }
    let user =
        |local: &str| demo.users.iter().find(|u| u.2.starts_with(local)).map(|u| u.0.clone()).unwrap_or_default();
    let (alex, deniz, room) = (user("alex"), user("deniz"), user("rainier"));

    let temp = tempfile::tempdir().context("creating a temporary data directory")?;
    let data_dir = options.data_dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let api_token = format!("hcal-{}", uuid::Uuid::new_v4().simple());
    // The demo's configuration is a file's text, read by the loader `hcal serve` uses.
    let text = format!(
        r#"[service]
listen = "{listen}"
data_dir = "{data_dir}"

[tenant]
id = "{tenant}"

[graph]
client_id = "{client}"
login_base = "{login}"
graph_base = "{graph_base}"

[webex]
base_url = "{webex}"

[presence]
cadence = "{cadence}"
soon_cadence = "{cadence}"

[[presence.sinks]]
kind = "webhook"
url = "{hook}/presence"
secret_env = "HCAL_PRESENCE_WEBHOOK_SECRET"
"#,
        cadence = DEMO_CADENCE,
        hook = hook.url(),
        listen = options.listen,
        data_dir = data_dir.display().to_string().replace('\\', "\\\\").replace('"', "\\\""),
        tenant = demo.tenant_id,
        client = demo.client_id,
        login = graph.url(),
        graph_base = graph.graph_url(),
        webex = webex.url(),
    );
    let config = hcal::config::parse(&text).context("the demo's configuration")?;
    let secrets = Secrets {
        graph_client_secret: demo.client_secret.clone(),
        webex_token,
        api_token: api_token.clone(),
        platforms: Default::default(),
        presence: [("webhook".to_owned(), hook_secret)].into_iter().collect(),
        kms_token: None,
    };
    let running = service::start(config, secrets).await?;
    let hcal = running.url.clone();
    println!("hcal demo: the service and its simulators in one process");
    println!("  data directory     {}", data_dir.display());
    println!("  webhook            POST {hcal}/webhook/graph   (lifecycle: {hcal}/webhook/graph/lifecycle)");
    println!("  meeting lists      GET  {hcal}/v1/users/{{userId}}/meetings?from=&to=");
    println!("  admin              POST {hcal}/admin/v1/mailboxes   GET {hcal}/admin/v1/mailboxes/{{userId}}");
    println!("  presence           GET  {hcal}/v1/users/{{userId}}/presence");
    println!("  metrics            GET  {hcal}/metrics     health: {hcal}/healthz");
    println!("  admin token        {api_token}   (the admin API only; users' tokens follow)");
    println!("  Graph simulator    {}/v1.0   (control: {}/_sim)", graph.url(), graph.url());
    println!("  Webex simulator    {}", webex.url());
    println!(
        "  device simulator   {}   (Conf Room Rainier's device: GET {}/_sim/devices/{ROOM_DEVICE}/bookings)",
        devices.url(),
        devices.url()
    );
    println!(
        "  webhook receiver   {}/presence   (hcal's presence webhook, signed; automatic replies read every {DEMO_CADENCE})",
        hook.url()
    );
    println!();

    let scene =
        Scene { http: reqwest::Client::new(), hcal: hcal.clone(), token: api_token, user_tokens: Default::default() };
    let room_device = RoomDevice { sim: &devices, password: device_password };
    let outcome = match play(&scene, &graph, &alex, &deniz, &room, &room_device).await {
        Ok(()) => out_of_office(&scene, &graph, &hook, &deniz).await,
        failed => failed,
    };
    let ok = match outcome {
        Ok(()) => {
            println!("\nEvery step was observed through the real APIs.");
            true
        }
        Err(e) => {
            println!("\nA step was not observed: {e:#}");
            false
        }
    };
    if !options.exit {
        println!("\nhcal keeps running; try the endpoints above. Press Ctrl-C to stop.");
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    }
    running.stop().await;
    graph.stop().await;
    webex.stop().await;
    devices.stop().await;
    hook.stop().await;
    drop(temp);
    Ok(ok)
}

/// The room's simulated device and the password of its admin account.
struct RoomDevice<'a> {
    sim: &'a DeviceSim,
    password: String,
}

impl RoomDevice<'_> {
    fn booking(&self, title: &str) -> Option<Value> {
        self.sim.bookings(ROOM_DEVICE)?.into_iter().find(|b| b["Title"] == title)
    }
}

async fn play(
    scene: &Scene,
    graph: &GraphSim,
    alex: &str,
    deniz: &str,
    room: &str,
    device: &RoomDevice<'_>,
) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(30);
    for (who, id) in [("Alex", alex), ("Deniz", deniz), ("Conf Room Rainier", room)] {
        scene.enable(id).await?;
        let status = wait_for("the mailbox to become active", timeout, || async {
            let s = scene.status(id).await?;
            Ok((s["status"] == "active").then_some(s))
        })
        .await?;
        println!(
            "✓ {who}'s mailbox is enabled (user {id}, language {}, subscription {}).",
            status["locale"].as_str().unwrap_or("?"),
            status["subscription"]["id"].as_str().unwrap_or("?")
        );
        if id == room {
            continue;
        }
        let token = scene.issue_token(id).await?;
        println!(
            "  {who}'s meeting list: GET {}/v1/users/{id}/meetings with Authorization: Bearer {token}",
            scene.hcal
        );
    }
    let registered = scene
        .http
        .post(format!("{}/admin/v1/devices", scene.hcal))
        .bearer_auth(&scene.token)
        .json(&json!({
            "roomUserId": room, "kind": "roomOs", "address": device.sim.url_of(ROOM_DEVICE),
            "username": "admin", "password": device.password,
        }))
        .send()
        .await?;
    let status = registered.status();
    let body: Value = registered.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "registering the room's device failed with {status}: {body}");
    println!(
        "✓ Conf Room Rainier's video device is registered (device {}); hcal pushes the room's bookings to it.",
        body["id"].as_str().unwrap_or("?")
    );

    let (start, end) = in_a_week(9);
    println!("\n1. Alex types @webex in the Location of a new invite to Deniz and a meeting room.");
    let invite = graph
        .create_event(alex, json!({
            "subject": "Quarterly planning",
            "body": {"contentType": "html", "content": "<html><body><p>Agenda: roadmap and budget.</p></body></html>"},
            "start": {"dateTime": start, "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": end, "timeZone": "Pacific Standard Time"},
            "location": {"displayName": "@webex"},
            "attendees": [
                {"type": "required", "emailAddress": {"name": "Deniz Yılmaz", "address": "deniz@contoso.example"}},
                {"type": "resource", "emailAddress": {"name": "Conf Room Rainier", "address": "rainier@contoso.example"}}
            ]
        }))
        .await
        .map_err(|r| anyhow::anyhow!("creating the invite failed: {:?}", r.body))?;
    let invite_id = invite["id"].as_str().unwrap_or_default().to_owned();
    let decorated = wait_for("join details in Alex's invite", timeout, || async {
        let ev = graph.get_event(alex, &invite_id, &[]).await.map_err(|r| anyhow::anyhow!("{:?}", r.body))?;
        let body = ev["body"]["content"].as_str().unwrap_or_default();
        Ok((body.matches(BLOCK_HEADING).count() == 1).then_some(ev))
    })
    .await?;
    let _ = decorated;
    println!("✓ hcal wrote the Webex join details into the invite (exactly one block), in Alex's language.");
    let listed = wait_for("the meeting in Alex's list", timeout, || async {
        let rows = scene.meetings(alex).await?;
        Ok(rows.into_iter().find(|r| r["eventId"] == invite_id.as_str() && r["join"]["provider"] == "webex"))
    })
    .await?;
    println!(
        "✓ Alex's meeting list shows it with the personal room: {}",
        listed["join"]["address"].as_str().unwrap_or("?")
    );
    let in_deniz = wait_for("the meeting in Deniz's list", timeout, || async {
        let rows = scene.meetings(deniz).await?;
        Ok(rows.into_iter().find(|r| r["subject"] == "Quarterly planning" && r["join"]["provider"] == "webex"))
    })
    .await?;
    println!(
        "✓ Deniz's copy of the invite carries the same join details; Deniz's list shows {}",
        in_deniz["join"]["address"].as_str().unwrap_or("?")
    );
    let booking = wait_for("the meeting on the room's device", timeout, || async {
        Ok(device.booking("Quarterly planning").filter(|b| b["Number"] != ""))
    })
    .await?;
    println!(
        "✓ Conf Room Rainier's device shows it with a Join button: {} {} ({}), from 5 minutes before the start.",
        booking["Protocol"].as_str().unwrap_or("?"),
        booking["Number"].as_str().unwrap_or("?"),
        booking["MeetingPlatform"].as_str().unwrap_or("?"),
    );

    let (start, end) = in_a_week(14);
    println!("\n2. Deniz sends an invite that already has a Zoom link.");
    let zoom_body = "<html><body><p>Join Zoom Meeting</p><p><a href=\"https://us02web.zoom.us/j/85123456789?pwd=demo\">https://us02web.zoom.us/j/85123456789?pwd=demo</a></p></body></html>";
    let zoom = graph
        .create_event(
            deniz,
            json!({
                "subject": "Vendor sync",
                "body": {"contentType": "html", "content": zoom_body},
                "start": {"dateTime": start, "timeZone": "Turkey Standard Time"},
                "end": {"dateTime": end, "timeZone": "Turkey Standard Time"},
                "location": {"displayName": "Zoom"}
            }),
        )
        .await
        .map_err(|r| anyhow::anyhow!("creating the invite failed: {:?}", r.body))?;
    let zoom_id = zoom["id"].as_str().unwrap_or_default().to_owned();
    let listed = wait_for("the Zoom meeting in Deniz's list", timeout, || async {
        let rows = scene.meetings(deniz).await?;
        Ok(rows.into_iter().find(|r| r["eventId"] == zoom_id.as_str()))
    })
    .await?;
    anyhow::ensure!(listed["join"]["provider"] == "zoom", "the Zoom meeting was listed without its link: {listed}");
    let ev = graph.get_event(deniz, &zoom_id, &[]).await.map_err(|r| anyhow::anyhow!("{:?}", r.body))?;
    anyhow::ensure!(
        !ev["body"]["content"].as_str().unwrap_or_default().contains(BLOCK_HEADING),
        "the Zoom invite was rewritten"
    );
    println!("✓ Listed with its Zoom link ({}) and left as it was.", listed["join"]["address"].as_str().unwrap_or("?"));

    println!("\n3. Alex cancels the quarterly planning.");
    graph.delete_event(alex, &invite_id).await.map_err(|r| anyhow::anyhow!("cancelling failed: {:?}", r.body))?;
    wait_for("the meeting to leave Alex's list", timeout, || async {
        let rows = scene.meetings(alex).await?;
        Ok((!rows.iter().any(|r| r["eventId"] == invite_id.as_str())).then_some(Value::Null))
    })
    .await?;
    println!("✓ It is gone from Alex's meeting list.");
    wait_for("the meeting to leave the room's device", timeout, || async {
        Ok(device.booking("Quarterly planning").is_none().then_some(Value::Null))
    })
    .await?;
    println!("✓ And from Conf Room Rainier's device.");
    Ok(())
}

/// The statuses the bundled webhook receiver verified for `user`, in order.
fn heard(hook: &HookSim, user: &str) -> Vec<String> {
    hook.deliveries()
        .iter()
        .filter(|d| d.body["data"]["userId"] == user)
        .filter_map(|d| d.body["data"]["status"].as_str().map(str::to_owned))
        .collect()
}

async fn out_of_office(scene: &Scene, graph: &GraphSim, hook: &HookSim, deniz: &str) -> anyhow::Result<()> {
    // A read every DEMO_CADENCE, a delivery after it: well inside a minute.
    let timeout = Duration::from_secs(60);
    let presence = |user: &str| {
        let token = scene.user_tokens.lock().get(user).cloned().unwrap_or_default();
        let url = format!("{}/v1/users/{user}/presence", scene.hcal);
        async move {
            let resp = scene.http.get(url).bearer_auth(token).send().await?;
            anyhow::Ok(resp.error_for_status()?.json::<Value>().await?)
        }
    };
    println!("\n4. Deniz turns on automatic replies in Outlook (Graph sends no notification for that).");
    graph
        .set_automatic_replies(
            deniz,
            json!({"status": "alwaysEnabled", "internalReplyMessage": "I am away this week.", "externalReplyMessage": "I am away this week."}),
        )
        .await
        .map_err(|r| anyhow::anyhow!("turning automatic replies on failed: {:?}", r.body))?;
    let started = Instant::now();
    wait_for("out of office at the webhook receiver", timeout, || async {
        Ok((heard(hook, deniz) == ["outOfOffice"]).then_some(Value::Null))
    })
    .await?;
    let now = presence(deniz).await?;
    anyhow::ensure!(now["status"] == "outOfOffice", "Deniz's presence is {now}");
    println!(
        "✓ After {} s the presence webhook (signed, Standard Webhooks) said Deniz is out of office;",
        started.elapsed().as_secs()
    );
    println!("  GET /v1/users/{deniz}/presence says {}.", now["status"]);

    println!("\n5. Deniz is back and turns automatic replies off.");
    graph
        .set_automatic_replies(deniz, json!({"status": "disabled"}))
        .await
        .map_err(|r| anyhow::anyhow!("turning automatic replies off failed: {:?}", r.body))?;
    let started = Instant::now();
    wait_for("the return at the webhook receiver", timeout, || async {
        Ok((heard(hook, deniz) == ["outOfOffice", "available"]).then_some(Value::Null))
    })
    .await?;
    println!("✓ After {} s the webhook said Deniz is available again.", started.elapsed().as_secs());
    anyhow::ensure!(hook.rejected() == 0, "the receiver refused {} deliveries", hook.rejected());
    Ok(())
}
