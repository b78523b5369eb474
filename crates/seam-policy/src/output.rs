//! The answer's way back: restore the caller's tokens, then handle personal data the model produced
//! itself with the output action — for a whole text, or for a stream with a bounded hold-back.
//!
//! Streaming: restored text goes into a pending buffer; everything but the last [`HOLD_BACK`]
//! bytes is scanned and released, except that the cut never falls inside a finding or a restored
//! value. A value the model is still writing therefore stays in the buffer until it is complete or
//! clearly over; the client sees each byte once, already handled.

use std::ops::Range;
use std::sync::Arc;

use crate::engine::{Policy, Record};
use crate::normalize::Normalized;
use crate::restore::{Escape, Restored, Restorer};
use crate::vault::Vault;

/// How much restored text a stream keeps back for the output scan, in bytes of the text as the
/// detectors read it (escapes decoded, see [`Normalized`]): longer than any structured entity
/// they report, short enough to cost the reader nothing. An encoded value is up to twelve times
/// longer as written (`\uD83D\uDE00`), so the cut is placed in the decoded text.
pub const HOLD_BACK: usize = 96;

/// What an answer needs: the request's vault and its policy.
#[derive(Clone)]
pub struct OutputFilter {
    policy: Arc<Policy>,
    vault: Arc<Vault>,
}

impl OutputFilter {
    /// `None` when there is nothing to do: no token was minted and the policy does not scan
    /// answers.
    pub fn new(policy: Arc<Policy>, vault: Arc<Vault>) -> Option<Self> {
        if vault.is_empty() && !policy.scans_output() {
            return None;
        }
        Some(OutputFilter { policy, vault })
    }

    /// A whole text: restored, then scanned. `None` when unchanged.
    pub fn text(
        &self,
        text: &str,
        location: &str,
        escape: Escape,
        records: &mut Vec<Record>,
    ) -> Option<String> {
        let restored = if self.vault.is_empty() {
            Restored {
                text: text.to_owned(),
                spans: Vec::new(),
            }
        } else {
            crate::restore::restore(text, &self.vault, escape)
        };
        match self
            .policy
            .output_text(&restored.text, &restored.spans, location, records)
        {
            Some(t) => Some(t),
            None if restored.text != text => Some(restored.text),
            None => None,
        }
    }

    /// A filter for one streamed channel (a choice's content, or one tool call's arguments).
    pub fn stream(&self, location: impl Into<String>, escape: Escape) -> StreamFilter {
        StreamFilter {
            policy: Arc::clone(&self.policy),
            restorer: Restorer::new(Arc::clone(&self.vault), escape),
            pending: String::new(),
            exempt: Vec::new(),
            left: String::new(),
            base: 0,
            location: location.into(),
        }
    }
}

pub struct StreamFilter {
    policy: Arc<Policy>,
    restorer: Restorer,
    /// Restored text not yet released.
    pending: String,
    /// Restored values in `pending`.
    exempt: Vec<Range<usize>>,
    /// The last bytes released (as restored, before actions), for context.
    left: String,
    /// Bytes released before `pending`: record offsets are into the whole answer.
    base: usize,
    location: String,
}

impl StreamFilter {
    /// The text that is safe to release after `chunk` (possibly empty).
    pub fn push(&mut self, chunk: &str, records: &mut Vec<Record>) -> String {
        let restored = self.restorer.push(chunk);
        self.take(restored, false, records)
    }

    /// Everything still held, handled.
    pub fn finish(&mut self, records: &mut Vec<Record>) -> String {
        let restored = self.restorer.finish();
        self.take(restored, true, records)
    }

    fn take(&mut self, restored: Restored, last: bool, records: &mut Vec<Record>) -> String {
        if !self.policy.scans_output() {
            return restored.text;
        }
        let offset = self.pending.len();
        self.pending.push_str(&restored.text);
        self.exempt.extend(
            restored
                .spans
                .into_iter()
                .map(|r| r.start + offset..r.end + offset),
        );
        // With the model reading answers, text is released a hold-back's worth at a time, so
        // the model runs once per step of about HOLD_BACK bytes, not once per chunk.
        let step = if self.policy.output_model_on() {
            2 * HOLD_BACK
        } else {
            HOLD_BACK
        };
        if !last && self.pending.len() <= step {
            return String::new();
        }
        // The scan sees the tail of what was released, so context words and boundaries before
        // the cut count as they would in the whole text; findings in that tail are done.
        let l = self.left.len();
        let window = format!("{}{}", self.left, self.pending);
        let exempt: Vec<_> = self.exempt.iter().map(|r| r.start + l..r.end + l).collect();
        let findings: Vec<_> = self
            .policy
            .output_findings(&window, &exempt)
            .into_iter()
            .filter(|(f, _)| f.start >= l)
            .map(|(mut f, a)| {
                f.start -= l;
                f.end -= l;
                (f, a)
            })
            .collect();
        let mut cut = if last {
            self.pending.len()
        } else {
            hold_cut(&self.pending)
        };
        if !last {
            // Never cut through a finding or a restored value: keep all of it back.
            let spans = findings
                .iter()
                .map(|(f, _)| f.start..f.end)
                .chain(self.exempt.iter().cloned());
            for r in spans {
                if r.start < cut && cut < r.end {
                    cut = r.start;
                }
            }
        }
        let head = self.pending[..cut].to_owned();
        let ready: Vec<_> = findings.into_iter().filter(|(f, _)| f.end <= cut).collect();
        let before = records.len();
        let out = self
            .policy
            .apply_output(&head, &ready, &self.location, records)
            .unwrap_or(head);
        for r in &mut records[before..] {
            r.start += self.base;
            r.end += self.base;
        }
        let released = format!("{}{}", self.left, &self.pending[..cut]);
        let from = ceil_char(
            &released,
            released.len().saturating_sub(crate::CONTEXT_WINDOW),
        );
        self.left = released[from..].to_owned();
        self.base += cut;
        self.pending.drain(..cut);
        self.exempt = self
            .exempt
            .iter()
            .filter(|r| r.start >= cut)
            .map(|r| r.start - cut..r.end - cut)
            .collect();
        out
    }
}

/// Where the held-back tail of `pending` starts: at least [`HOLD_BACK`] bytes of decoded text
/// stay, and the cut falls on the start of a character or a whole escape.
fn hold_cut(pending: &str) -> usize {
    let norm = Normalized::new(pending);
    let t = norm.text();
    match t.len().checked_sub(HOLD_BACK) {
        None | Some(0) => 0,
        Some(at) => norm.original_offset(floor_char(t, at)),
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}
