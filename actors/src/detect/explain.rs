//! The answer to "why did (or didn't) this invite get a Join button?": an ordered list of
//! what detection looked at, kept, ignored and chose.

use serde::Serialize;

use super::Source;

/// Lines kept; a hostile body could otherwise produce one per link.
pub const MAX_LINES: usize = 64;

/// What a line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The keyword found (or not) in Location.
    Keyword,
    /// What a source held.
    Input,
    /// A wrapper (Safe Links, ...) removed from a link.
    Unwrapped,
    /// A join address kept as a candidate.
    Candidate,
    /// Something that looked like an address but is not a meeting.
    Ignored,
    /// An admin rule matched.
    Rule,
    /// The join address chosen, and why.
    Chosen,
    /// Lines left out.
    Truncated,
}

/// One line of an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainLine {
    /// What the line is about.
    pub step: Step,
    /// The part of the invite it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Human-readable detail (may quote links of the invite).
    pub message: String,
}

/// Collects lines up to [`MAX_LINES`].
#[derive(Debug, Default)]
pub(crate) struct Explainer {
    lines: Vec<ExplainLine>,
    dropped: usize,
}

impl Explainer {
    pub(crate) fn push(&mut self, step: Step, source: Option<Source>, message: impl Into<String>) {
        let line = ExplainLine { step, source, message: message.into() };
        if self.lines.contains(&line) {
            // The same link as text and as a link target: said once.
        } else if self.lines.len() < MAX_LINES - 2 {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }

    /// Adds the final line, which is never dropped.
    pub(crate) fn finish(mut self, step: Step, message: String) -> Vec<ExplainLine> {
        if self.dropped > 0 {
            let dropped = self.dropped;
            self.lines.push(ExplainLine {
                step: Step::Truncated,
                source: None,
                message: format!("{dropped} more lines left out"),
            });
        }
        self.lines.push(ExplainLine { step, source: None, message });
        self.lines
    }
}

/// Shortens a quoted link so explanations stay readable.
pub(crate) fn quote(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 120;
    let cut = super::html::clip(s, MAX);
    if cut.len() < s.len() { format!("{cut}…").into() } else { cut.into() }
}

/// Joins `parts` into one message with a single allocation (explanations are written for
/// every candidate of every invite, so `format!`'s machinery shows up in profiles).
pub(crate) fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| out.push_str(p));
    out
}
