//! Counters for every outcome, gauges and latency histograms, rendered in the Prometheus text
//! format at `/metrics`. Labels are fixed vocabularies (outcomes, reasons, event types): never
//! ids, addresses or subjects.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// A set of counters keyed by name and label value, and of gauges keyed by name.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    gauges: Mutex<BTreeMap<&'static str, i64>>,
    histograms: Mutex<BTreeMap<&'static str, Histogram>>,
}

/// Upper bounds of the latency buckets, in seconds: 1 ms to 10 s.
pub const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

/// Observations of one latency: how many fell at or under each of [`BUCKETS`], their count
/// and sum.
#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
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

    /// Records one observation of the latency histogram `name`.
    pub fn observe(&self, name: &'static str, took: std::time::Duration) {
        let seconds = took.as_secs_f64();
        let mut all = self.histograms.lock();
        let h = all.entry(name).or_default();
        for (bound, n) in BUCKETS.iter().zip(h.buckets.iter_mut()) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
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
        for (name, h) in self.histograms.lock().iter() {
            out.push_str(&format!("# TYPE {name} histogram\n"));
            for (bound, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                out.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {n}\n"));
            }
            out.push_str(&format!(
                "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}\n",
                h.count, h.sum, h.count
            ));
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

    #[test]
    fn latencies_fall_into_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("hcal_x_seconds", std::time::Duration::from_millis(3));
        m.observe("hcal_x_seconds", std::time::Duration::from_millis(40));
        m.observe("hcal_x_seconds", std::time::Duration::from_secs(30));
        let text = m.render();
        assert!(text.contains("# TYPE hcal_x_seconds histogram\n"), "{text}");
        assert!(text.contains("hcal_x_seconds_bucket{le=\"0.001\"} 0\n"), "{text}");
        assert!(text.contains("hcal_x_seconds_bucket{le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("hcal_x_seconds_bucket{le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("hcal_x_seconds_bucket{le=\"10\"} 2\n"), "{text}");
        assert!(
            text.contains("hcal_x_seconds_bucket{le=\"+Inf\"} 3\nhcal_x_seconds_sum 30.043\nhcal_x_seconds_count 3\n"),
            "{text}"
        );
    }
}
