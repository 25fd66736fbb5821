//! Counters for every outcome, rendered in the Prometheus text format at `/metrics`. Labels are
//! fixed vocabularies (outcomes, reasons, event types): never ids, addresses or subjects.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// A set of counters keyed by name and label value, and of gauges keyed by name.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    gauges: Mutex<BTreeMap<&'static str, i64>>,
}

impl Metrics {
    /// Adds `n` to `name{label="value"}` (`name` alone when `label` is empty).
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

    /// Sets the gauge `name`.
    pub fn set(&self, name: &'static str, value: i64) {
        self.gauges.lock().insert(name, value);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut last = "";
        for ((name, label, value), n) in self.counters.lock().iter() {
            if *name != last {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last = name;
            }
            if label.is_empty() {
                out.push_str(&format!("{name} {n}\n"));
            } else {
                out.push_str(&format!("{name}{{{label}=\"{value}\"}} {n}\n"));
            }
        }
        for (name, value) in self.gauges.lock().iter() {
            out.push_str(&format!("# TYPE {name} gauge\n{name} {value}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_with_and_without_labels_and_gauges_render_in_the_text_format() {
        let m = Metrics::default();
        m.inc("hcal_a_total", "outcome", "ok");
        m.add("hcal_a_total", "outcome", "failed", 2);
        m.inc("hcal_b_total", "", "");
        m.set("hcal_c", 8);
        m.set("hcal_c", 3);
        assert_eq!(
            m.render(),
            "# TYPE hcal_a_total counter\nhcal_a_total{outcome=\"failed\"} 2\nhcal_a_total{outcome=\"ok\"} 1\n\
             # TYPE hcal_b_total counter\nhcal_b_total 1\n\
             # TYPE hcal_c gauge\nhcal_c 3\n"
        );
    }
}
