//! W3C trace context (`traceparent`, `tracestate`): the trace a request belongs to, taken from
//! the client when it sent one, else begun here, and passed on to every upstream attempt as a
//! child span — so a client's trace continues through Seam into the vendor's.
//!
//! The edge sets the request's context for the task that serves it ([`CURRENT`]); the one function
//! that sends upstream requests ([`outgoing`], in `http.rs`) reads it, so no adapter has to carry it.

/// One request's trace: the trace id, the client's span (the parent of Seam's), the flags, and the
/// vendor-specific `tracestate` passed on as it came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub trace_id: [u8; 16],
    /// The span that sent the request to Seam; zero when Seam began the trace.
    pub parent_id: [u8; 8],
    /// W3C trace flags (bit 0: sampled).
    pub flags: u8,
    pub state: Option<String>,
    /// The request's spans, when `[telemetry]` exports traces and this one is sampled.
    pub recorder: Option<crate::otel::Recorder>,
}

tokio::task_local! {
    /// The trace of the request the current task serves.
    pub static CURRENT: Trace;
}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    // Upper-case hex is not valid `traceparent`.
    s.bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        .then_some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    push_hex(&mut s, bytes);
    s
}

/// Lower-case hex by table: `write!("{b:02x}")` costs a formatter call per byte, and every
/// request makes two ids and a `traceparent`.
fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    loop {
        for b in &mut out {
            *b = fastrand::u8(..);
        }
        // All zeros is invalid for both ids.
        if out.iter().any(|b| *b != 0) {
            return out;
        }
    }
}

impl Trace {
    /// The client's context, when its `traceparent` is valid (version `00`, or a later version
    /// read as `00` as the spec says); `tracestate` is kept only beside a valid `traceparent`
    /// and only when it is short and printable.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<Trace> {
        let mut parts = traceparent?.trim().split('-');
        let version = parts.next()?;
        let (trace_id, parent_id, flags) = (parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || version == "ff" || hex::<1>(version).is_none() {
            return None;
        }
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let trace_id = hex::<16>(trace_id).filter(|t| t.iter().any(|b| *b != 0))?;
        let parent_id = hex::<8>(parent_id).filter(|p| p.iter().any(|b| *b != 0))?;
        let flags = hex::<1>(flags)?[0];
        let state = tracestate
            .map(str::trim)
            .filter(|s| {
                !s.is_empty() && s.len() <= 512 && s.bytes().all(|b| (0x20..0x7f).contains(&b))
            })
            .map(str::to_owned);
        Some(Trace {
            trace_id,
            parent_id,
            flags,
            state,
            recorder: None,
        })
    }

    /// A new trace, begun by Seam (sampled).
    pub fn begin() -> Trace {
        Trace {
            trace_id: random(),
            parent_id: [0; 8],
            flags: 1,
            state: None,
            recorder: None,
        }
    }

    /// The trace of a request as it arrives: the client's when its `traceparent` is valid, else
    /// a new one; with `sink` (traces are exported), a recorder for its spans when it is sampled
    /// — a client's sampled flag decides for its trace, `telemetry.sampling` for the ones Seam
    /// begins (whose flag then says so upstream).
    pub fn incoming(
        traceparent: Option<&str>,
        tracestate: Option<&str>,
        sink: Option<std::sync::Arc<crate::otel::Sink>>,
        name: &str,
    ) -> Trace {
        let mut t = Trace::from_headers(traceparent, tracestate).unwrap_or_else(|| {
            let mut t = Trace::begin();
            if let Some(s) = &sink {
                t.flags = u8::from(s.sample());
            }
            t
        });
        if let Some(s) = sink
            && t.flags & 1 == 1
        {
            t.recorder = Some(crate::otel::Recorder::new(s, t.trace_id, t.parent_id, name));
        }
        t
    }

    /// The trace id as 32 lower-case hex digits (`x-seam-trace-id`, the audit record).
    pub fn trace_id_hex(&self) -> String {
        to_hex(&self.trace_id)
    }

    /// The `traceparent` of a new span of this trace (an upstream attempt).
    pub fn child(&self) -> String {
        self.child_of(random::<8>())
    }

    /// The `traceparent` of span `span_id` of this trace.
    pub fn child_of(&self, span_id: [u8; 8]) -> String {
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        push_hex(&mut s, &self.trace_id);
        s.push('-');
        push_hex(&mut s, &span_id);
        s.push('-');
        push_hex(&mut s, &[self.flags]);
        s
    }
}

/// The trace headers of an upstream request sent from the current task, if it serves a traced
/// request: a child span's `traceparent`, and `tracestate` as the client sent it.
/// The span is the current upstream attempt's when the request is recorded (so the vendor's
/// spans hang off Seam's attempt span), else a new one.
pub fn outgoing() -> Option<(String, Option<String>)> {
    let span = crate::otel::attempt_span().unwrap_or_else(random::<8>);
    CURRENT
        .try_with(|t| (t.child_of(span), t.state.clone()))
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_kept_and_a_bad_one_refused() {
        let t = Trace::from_headers(Some(VALID), Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.flags, 1);
        assert_eq!(t.state.as_deref(), Some("congo=t61rcWkgMzE"));
        // A child with the client's own span id prints the header it came from.
        let span = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
        assert_eq!(t.child_of(span), VALID);
        let child = t.child();
        assert!(child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(child.ends_with("-01"));
        assert_ne!(&child[36..52], "00f067aa0ba902b7", "a new span id");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        ] {
            assert!(Trace::from_headers(Some(bad), None).is_none(), "{bad}");
        }
        // A later version may carry more fields; its first four are read as version 00's.
        assert!(Trace::from_headers(Some(&format!("01{}-more", &VALID[2..])), None).is_some());
        assert!(Trace::from_headers(None, Some("a=b")).is_none());
    }

    #[test]
    fn a_begun_trace_has_a_nonzero_id_and_no_parent() {
        let t = Trace::begin();
        assert!(t.trace_id.iter().any(|b| *b != 0));
        assert_eq!(t.parent_id, [0; 8]);
        assert_eq!(t.trace_id_hex().len(), 32);
    }

    #[tokio::test]
    async fn outgoing_headers_exist_only_inside_a_traced_task() {
        assert!(outgoing().is_none());
        let t = Trace::from_headers(Some(VALID), Some("a=b")).unwrap();
        let (tp, ts) = CURRENT.scope(t, async { outgoing().unwrap() }).await;
        assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert_eq!(ts.as_deref(), Some("a=b"));
    }
}
