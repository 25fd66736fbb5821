//! The example payloads in `schemas/examples/` (taken from a real run) match their schemas, and
//! every schema is valid JSON Schema.

// Test helpers: an unreadable fixture must fail the test loudly.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

#[test]
fn examples_match_their_schemas() {
    let envelope = load(&root().join("mailbox-event.envelope.v1.json"));
    let notification = load(&root().join("notification.v1.json"));
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("examples")).expect("examples") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let example = load(&path);
        if name.starts_with("notification-") {
            assert_eq!(errors(&notification, &example), Vec::<String>::new(), "{name}");
        } else if name.starts_with("meeting-list-") {
            let schema = load(&root().join("meeting-list.v1.json"));
            assert_eq!(errors(&schema, &example), Vec::<String>::new(), "{name}");
        } else if name.starts_with("presence-") {
            let schema = load(&root().join("presence.v1.json"));
            assert_eq!(errors(&schema, &example), Vec::<String>::new(), "{name}");
        } else if name.starts_with("room-bookings") {
            let schema = load(&root().join("room-bookings.v1.json"));
            assert_eq!(errors(&schema, &example), Vec::<String>::new(), "{name}");
        } else {
            assert_eq!(errors(&envelope, &example), Vec::<String>::new(), "{name}");
            let data_schema = load(&root().join("events").join(&name));
            assert_eq!(errors(&data_schema, &example["data"]), Vec::<String>::new(), "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} examples");
}

#[test]
fn a_message_with_a_clear_text_private_part_is_refused() {
    let mut example = load(&root().join("examples").join("MeetingScheduled.v1.json"));
    let data = example["data"].as_object_mut().expect("object");
    data.remove("sealed");
    data.insert("private".into(), serde_json::json!({"subject": "clear"}));
    let schema = load(&root().join("events").join("MeetingScheduled.v1.json"));
    assert!(!errors(&schema, &example["data"]).is_empty());
}

#[test]
fn every_event_type_of_the_envelope_has_a_data_schema_and_an_example() {
    let envelope = load(&root().join("mailbox-event.envelope.v1.json"));
    let mut listed: Vec<String> = envelope["properties"]["type"]["enum"]
        .as_array()
        .expect("the envelope lists its event types")
        .iter()
        .map(|t| t.as_str().expect("a name").to_owned())
        .collect();
    listed.sort();
    let names_in = |dir: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root().join(dir))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".v1.json").map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names_in("events"), listed);
    assert_eq!(names_in("examples"), listed);
}
