//! Counters for every outcome, rendered in the Prometheus text format at `/metrics`. Labels are
//! fixed vocabularies (outcomes, reasons, event types): never ids, addresses or subjects.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// A set of counters keyed by name and label value.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
}

impl Metrics {
    /// Adds `n` to `name{label="value"}`.
    pub fn add(&self, name: &'static str, label: &'static str, value: &'static str, n: u64) {
        *self.counters.lock().entry((name, label, value)).or_insert(0) += n;
    }

    /// Adds one.
    pub fn inc(&self, name: &'static str, label: &'static str, value: &'static str) {
        self.add(name, label, value, 1);
    }

    /// The current value.
    pub fn get(&self, name: &'static str, label: &'static str, value: &'static str) -> u64 {
        self.counters.lock().get(&(name, label, value)).copied().unwrap_or(0)
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let counters = self.counters.lock();
        let mut out = String::new();
        let mut last = "";
        for ((name, label, value), n) in counters.iter() {
            if *name != last {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last = name;
            }
            out.push_str(&format!("{name}{{{label}=\"{value}\"}} {n}\n"));
        }
        out
    }
}
