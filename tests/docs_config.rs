//! The configuration the docs show is configuration that loads. Every ` ```toml ` block of
//! `README.md` and `docs/*.md` is read: one with `[service]`, `[tenant]` and `[graph]` is a whole
//! `hcal.toml` and must load as written; any other is a section and must load when added to a
//! minimal complete file. A block that is not `hcal.toml` text says so in its info string (` ```toml fragment `,
//! for a part of a section or a file of another kind): it must still be valid TOML.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// The smallest complete configuration, which section blocks are added to.
const BASE: &str = r#"
[service]
data_dir = "data"

[tenant]
id = "72f988bf-86f1-41af-91ab-2d7cd011db47"

[graph]
client_id = "0b1e9c1c-3a5d-4f7e-8c2a-6d9f0e1b2c3d"
"#;

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// (line, info string, text) of every fenced block whose info string starts with `toml`.
fn toml_blocks(text: &str) -> Vec<(usize, String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    if info.split_whitespace().next() == Some("toml") {
                        open = Some((n + 1, info.trim().to_owned(), String::new()));
                    } else if !info.trim().is_empty() {
                        // Another language's block: skip to its end.
                        open = Some((n + 1, format!("skip {info}"), String::new()));
                    } else {
                        open = Some((n + 1, "skip".to_owned(), String::new()));
                    }
                }
            }
            Some((_, _, body)) => {
                if trimmed.starts_with("```") {
                    let (at, info, body) = open.take().unwrap();
                    if !info.starts_with("skip") {
                        blocks.push((at, info, body));
                    }
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    blocks
}

/// `section` added to `base`, table into table (`[tenant.cloud]` joins the base's `[tenant]`).
fn merged(base: &str, section: &toml::Table) -> String {
    fn merge(into: &mut toml::Table, from: &toml::Table) {
        for (key, value) in from {
            match (into.get_mut(key), value) {
                (Some(toml::Value::Table(existing)), toml::Value::Table(add)) => merge(existing, add),
                _ => {
                    into.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let mut table: toml::Table = base.parse().unwrap();
    merge(&mut table, section);
    toml::to_string(&table).unwrap()
}

#[test]
fn every_configuration_block_of_the_docs_loads() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (line, info, body) in toml_blocks(&text) {
            checked += 1;
            let table: toml::Table = match body.parse() {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{name}:{line}: not TOML: {e}"));
                    continue;
                }
            };
            if info.split_whitespace().any(|w| w == "fragment") {
                continue;
            }
            let complete = ["service", "tenant", "graph"].iter().all(|k| table.contains_key(*k));
            let whole = if complete { body.clone() } else { merged(BASE, &table) };
            if let Err(e) = hcal::config::parse(&whole) {
                problems.push(format!("{name}:{line}: does not load: {e}"));
            }
        }
    }
    assert!(checked >= 8, "only {checked} blocks found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
