//! Server-provided text (the greeting and the STLS answer) before the bridge quotes it in an
//! answer's `greeting_untrusted` or `detail`.

/// Replace control characters and cap the length of server-provided text before it is shown
/// (server strings are untrusted and must not be able to spoof UI or logs).
pub fn sanitize_server_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .trim_end_matches(['\r', '\n'])
        .chars()
        // The one rule of unsafe characters (control, bidi, invisible): pop3_proto::text.
        .map(|c| {
            if pop3_proto::text::is_unsafe(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .take(512)
        .collect();
    out.truncate(out.trim_end().len());
    out
}
