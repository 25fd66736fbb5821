//! The join block's language end to end: mailboxes of different languages each get a block with
//! their own language's heading, a later change of language leaves decorated invites alone, and
//! an organisation's `default_language` (with its header and footer) wins over the mailbox's.

// Test code: a failed step fails the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hcal_sim::graph::UserSpec;
use serde_json::{Value, json};
use support::{Env, blocks, eventually, invite};

const WAIT: Duration = Duration::from_secs(30);

/// Adds a mailbox of `locale` with a Webex account; returns its object id.
fn add_speaker(env: &Env, name: &str, local: &str, locale: &str) -> String {
    let mail = format!("{local}@{}", env.demo.domain);
    let spec = UserSpec { locale: locale.into(), ..UserSpec::new(&env.demo.tenant_id, name, &mail) };
    let id = env.graph.add_user(&spec).unwrap();
    env.webex.add_person(&mail, name);
    id
}

/// The user creates an `@webex` invite; returns its id once hcal's block is in it, and the body.
async fn decorated(env: &Env, user: &str, subject: &str) -> (String, String) {
    let created = env.graph.create_event(user, invite(subject, "@webex", "<p>Agenda</p>")).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let body = eventually(&format!("join details in {subject:?}"), WAIT, || async {
        let ev = env.graph_event(user, &id).await;
        let body = ev["body"]["content"].as_str().unwrap_or_default().to_owned();
        (blocks(&body) > 0).then_some(body)
    })
    .await;
    assert_eq!(blocks(&body), 1, "{subject}: one block");
    assert!(body.contains("<p>Agenda</p>"), "{subject}: the body is kept");
    (id, body)
}

async fn body(env: &Env, user: &str, id: &str) -> String {
    env.graph_event(user, id).await["body"]["content"].as_str().unwrap().to_owned()
}

async fn enable_all(env: &Env, users: &[&str]) {
    for user in users {
        env.enable(user).await;
    }
    for user in users {
        env.wait_resynced(user).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mailbox_gets_the_block_in_its_language_and_keeps_it_when_the_language_changes() {
    let env = Env::new().await;
    let _hcal = env.start("").await;
    let (alex, deniz, megan) = (env.user("alex"), env.user("deniz"), env.user("megan"));
    let kenji = add_speaker(&env, "Kenji Sato", "kenji", "ja-JP");
    let joana = add_speaker(&env, "Joana Souza", "joana", "pt_BR");
    enable_all(&env, &[&alex, &deniz, &megan, &kenji, &joana]).await;

    let mut turkish = None;
    for (user, subject, lang, heading) in [
        (&alex, "Roadmap", "en", "Join Webex meeting"),
        (&deniz, "Yol haritası", "tr", "Webex toplantısına katılın"),
        (&megan, "Planung", "de", "Am Webex-Meeting teilnehmen"),
        (&kenji, "計画", "ja", "Webex ミーティングに参加"),
        (&joana, "Planejamento", "pt-BR", "Participar da reunião do Webex"),
    ] {
        let (id, body) = decorated(&env, user, subject).await;
        assert!(body.contains(&format!("<b>{heading}</b>")), "{lang}: {body}");
        assert!(body.contains(&format!("class=\"hcal-join\" lang=\"{lang}\"")), "{lang}: {body}");
        if lang == "tr" {
            turkish = Some(id);
        }
    }

    // Deniz switches Outlook to German and an admin enables the mailbox again (which reads its
    // settings anew): the invite already decorated stays Turkish, with one block, even when it
    // is edited; a new invite is German.
    let turkish = turkish.unwrap();
    let patched = env
        .graph
        .act("PATCH", &format!("/users/{deniz}/mailboxSettings"), Some(json!({"language": {"locale": "de-DE"}})))
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    env.enable(&deniz).await;
    eventually("Deniz's new language in the status", WAIT, || async {
        let status: Value = env.mailbox_status(&deniz).await?;
        (status["locale"] == "de-DE").then_some(())
    })
    .await;
    env.graph.update_event(&deniz, &turkish, json!({"subject": "Yol haritası (taşındı)"})).await.unwrap();
    eventually("the edit in Deniz's list", WAIT, || async {
        env.meetings(&deniz).await.into_iter().find(|m| m["subject"] == "Yol haritası (taşındı)")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = body(&env, &deniz, &turkish).await;
    assert_eq!(blocks(&kept), 1, "not written again: {kept}");
    assert!(kept.contains("Webex toplantısına katılın") && !kept.contains("Am Webex-Meeting"), "{kept}");
    let (_, german) = decorated(&env, &deniz, "Planung (Deniz)").await;
    assert!(german.contains("<b>Am Webex-Meeting teilnehmen</b>"), "{german}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_default_language_overrides_the_mailbox_language() {
    let env = Env::new().await;
    // The `[domain.join]` tables go after the `[testing]` lines the harness writes last; TOML
    // takes tables in any order.
    let _hcal = env
        .start(
            r#"
[domain.join]
default_language = "fr-FR"

[domain.join.languages.fr]
header = "Besoin d'aide ? <Support> & co"
footer = "Ligne 1\nLigne 2"

[domain.join.languages.tr]
header = "Türkçe başlık"
"#,
        )
        .await;
    let (alex, deniz) = (env.user("alex"), env.user("deniz"));
    enable_all(&env, &[&alex, &deniz]).await;
    for user in [&alex, &deniz] {
        let (_, body) = decorated(&env, user, "Réunion").await;
        assert!(body.contains("<b>Rejoindre la réunion Webex</b>") && body.contains("lang=\"fr\""), "{body}");
        assert!(body.contains("Lien de la réunion\u{a0}: <a href=\"https://hcal.webex.com/meet/"), "{body}");
        assert!(
            body.contains("<p class=\"hcal-join-header\">Besoin d&#39;aide ? &lt;Support&gt; &amp; co</p>"),
            "the header, escaped: {body}"
        );
        assert!(body.contains("<p class=\"hcal-join-footer\">Ligne 1<br>Ligne 2</p>"), "{body}");
        assert!(!body.contains("Türkçe başlık") && !body.contains("toplantısına"), "{body}");
    }
    // The mailbox keeps its own language; only the block follows the organisation's.
    assert_eq!(env.mailbox_status(&deniz).await.unwrap()["locale"], "tr-TR");
}
