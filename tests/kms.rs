//! The end-to-end sentinel scenario with the keys from a real OpenBao Transit engine (embedded
//! mode): every produced message fits its schema, and nothing planted in an invite (subject,
//! body, attendee, text typed after a keyword) is found in the data directory, the logs, the
//! metrics or the admin endpoints; each mailbox has its key-encryption key at the KMS.

#[macro_use]
#[allow(unused_macros)]
mod scenarios;
mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_openbao_keys_every_produced_message_matches_its_schema_and_no_sentinel_leaks() {
    if !hcal_sim::openbao::Server::usable_for("with_openbao_keys_every_produced_message_matches_its_schema") {
        return;
    }
    let bao = hcal_sim::openbao::Server::start().unwrap();
    let env = support::Env::new().await;
    env.set_var("HCAL_KMS_TOKEN", bao.root_token());
    env.add_sections(&format!("[keys]\nkms = \"transit\"\n\n[keys.transit]\nurl = \"{}\"\n", bao.url()));
    scenarios::every_produced_message_matches_its_schema_and_no_sentinel_leaks(env).await;
    let keys = bao.transit_keys().unwrap();
    assert!(keys.iter().filter(|k| k.starts_with("hcal-mbx-")).count() >= 2, "a key per mailbox: {keys:?}");
}
