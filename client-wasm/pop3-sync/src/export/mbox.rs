//! mboxrd, written exactly and read tolerantly (plain mboxo files read too).
//!
//! Framing of our files, for every message:
//!
//! ```text
//! From <envelope sender> <asctime date>\n
//! [X-POP3-UIDL: <uid><the message's own line ending>]
//! <the message, every line matching ^>*From  with one more '>'>
//! \n
//! ```
//!
//! The final `\n` is always written, so the reader removes exactly one `\n` before the next
//! `From ` line (or the end): a message without a final newline comes back without one, and
//! one ending in a newline is followed by the usual empty line.

use super::{
    ArchiveError, ExportMessage, Head, Imported, MAX_MESSAGES, check_uid, imported,
    split_uid_header, uid_line,
};
use crate::headers::parse_summary;

/// Writes messages as one mboxrd file: [`MboxWriter`] with each message in one piece.
pub fn write_mboxrd(messages: &[ExportMessage]) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.raw.len() + 128).sum());
    let mut w = MboxWriter::default();
    for m in messages {
        w.begin(m.uid.as_deref(), m.date_ms)?;
        w.write(&m.raw, &mut out)?;
        w.end(&mut out)?;
    }
    Ok(out)
}

/// An mboxrd file written a piece at a time, so that an export never holds more than a piece
/// of a message (and its head, see [`super::HEAD_MAX`]): for each message `begin`, `write`
/// its bytes in pieces of any size, `end`. The output is the same however the messages are
/// cut.
#[derive(Debug, Default)]
pub struct MboxWriter {
    /// Messages begun so far.
    count: usize,
    /// The message under way: its uid and date, until its head is complete.
    pending: Option<(Option<String>, Option<i64>)>,
    head: Head,
    quote: Quoter,
    open: bool,
}

impl MboxWriter {
    /// Starts the next message.
    pub fn begin(&mut self, uid: Option<&str>, date_ms: Option<i64>) -> Result<(), ArchiveError> {
        if self.open {
            return Err(ArchiveError::Order(
                "a message was begun before the last one ended",
            ));
        }
        if self.count >= MAX_MESSAGES {
            return Err(ArchiveError::TooLarge("too many messages"));
        }
        check_uid(self.count, uid)?;
        self.count += 1;
        self.open = true;
        self.pending = Some((uid.map(str::to_owned), date_ms));
        self.head = Head::default();
        self.quote = Quoter::default();
        Ok(())
    }

    /// The message's next bytes; what is ready goes to `out`.
    pub fn write(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), ArchiveError> {
        if !self.open {
            return Err(ArchiveError::Order("bytes came outside a message"));
        }
        if self.pending.is_none() {
            self.quote.push(bytes, out);
        } else if self.head.push(bytes) {
            self.start(out)?;
        }
        Ok(())
    }

    /// Ends the message.
    pub fn end(&mut self, out: &mut Vec<u8>) -> Result<(), ArchiveError> {
        if !self.open {
            return Err(ArchiveError::Order(
                "a message was ended before it was begun",
            ));
        }
        if self.pending.is_some() {
            self.start(out)?;
        }
        self.quote.finish(out);
        out.push(b'\n');
        self.open = false;
        Ok(())
    }

    /// Drops the message under way, as if it had not been begun (one that cannot be read,
    /// say); what `write` already gave must be dropped by the caller too.
    pub fn abandon(&mut self) {
        if self.open {
            self.open = false;
            self.count -= 1;
            self.pending = None;
            self.head = Head::default();
            self.quote = Quoter::default();
        }
    }

    /// The archive is complete (an mbox file has no last part): an error inside a message.
    pub fn finish(&self) -> Result<(), ArchiveError> {
        if self.open {
            return Err(ArchiveError::Order(
                "the archive was finished inside a message",
            ));
        }
        Ok(())
    }

    /// The head is known: the `From ` line, the `X-POP3-UIDL:` line, then what was held.
    fn start(&mut self, out: &mut Vec<u8>) -> Result<(), ArchiveError> {
        let index = self.count - 1;
        let head = self.head.decide();
        // Before anything is written or taken: a failure leaves the message as it was.
        let line = uid_line(
            index,
            self.pending.as_ref().and_then(|p| p.0.as_deref()),
            head,
        )?;
        let date_ms = self.pending.take().and_then(|p| p.1);
        out.extend_from_slice(b"From ");
        out.extend_from_slice(envelope_sender(head).as_bytes());
        out.push(b' ');
        out.extend_from_slice(asctime(date_ms.unwrap_or(0)).as_bytes());
        out.push(b'\n');
        // Never a `From ` line itself: it starts with `X-POP3-UIDL:`.
        out.extend_from_slice(&line);
        let held = std::mem::take(&mut self.head.buf);
        self.quote.push(&held, out);
        Ok(())
    }
}

/// True when the line starting at `line` matches `^>*From `.
fn is_from_line(line: &[u8]) -> bool {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    line[quotes..].starts_with(b"From ")
}

/// mboxrd quoting, a piece at a time: one more `>` before every line matching `^>*From `.
/// The `>`s a line begins with go out as they come (the one added may stand anywhere in that
/// run: it is placed just before `From `), so what is held back is at most four letters of
/// `From `, and each piece's output is about the piece's size.
#[derive(Debug)]
struct Quoter {
    /// At the start of a line (after its `>`s), still deciding.
    deciding: bool,
    /// Letters of `From ` that followed them.
    matched: usize,
}

impl Default for Quoter {
    fn default() -> Self {
        Quoter {
            deciding: true,
            matched: 0,
        }
    }
}

impl Quoter {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < bytes.len() {
            if !self.deciding {
                // Through the end of this line, as it is.
                match bytes[i..].iter().position(|&b| b == b'\n') {
                    Some(n) => {
                        out.extend_from_slice(&bytes[i..=i + n]);
                        i += n + 1;
                        self.deciding = true;
                    }
                    None => {
                        out.extend_from_slice(&bytes[i..]);
                        return;
                    }
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            if self.matched == 0 && b == b'>' {
                out.push(b'>');
            } else if b == b"From "[self.matched] {
                self.matched += 1;
                if self.matched == 5 {
                    out.push(b'>');
                    self.release(out);
                    self.deciding = false;
                }
            } else {
                self.release(out);
                out.push(b);
                // A line break ends the line: the next one is decided afresh.
                self.deciding = b == b'\n';
            }
        }
    }

    /// Writes the letters of `From ` held back, as they were.
    fn release(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&b"From "[..self.matched]);
        self.matched = 0;
    }

    /// The message ended: a line cut short is written as it was.
    fn finish(&mut self, out: &mut Vec<u8>) {
        self.release(out);
        *self = Quoter::default();
    }
}

/// mboxrd unquoting: one `>` less on every line matching `^>+From `.
fn unquote(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut start = 0;
    while start < msg.len() {
        let end = msg[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(msg.len(), |i| start + i + 1);
        let line = &msg[start..end];
        if line.first() == Some(&b'>') && is_from_line(line) {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
        start = end;
    }
    out
}

/// Reads an mbox file: messages start at lines beginning with `From `.
pub fn read_mbox(bytes: &[u8]) -> Result<Vec<Imported>, ArchiveError> {
    if !bytes.starts_with(b"From ") {
        return Err(ArchiveError::Unknown);
    }
    let mut starts = vec![0];
    let mut i = 0;
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'\n') {
        let next = i + p + 1;
        if bytes[next..].starts_with(b"From ") {
            if starts.len() >= MAX_MESSAGES {
                return Err(ArchiveError::TooLarge("too many messages"));
            }
            starts.push(next);
        }
        i = next;
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &s) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(bytes.len());
        let chunk = &bytes[s..end];
        // Past the From_ line.
        let body_start = chunk
            .iter()
            .position(|&b| b == b'\n')
            .map_or(chunk.len(), |p| p + 1);
        let mut body = &chunk[body_start..];
        // The newline the writer adds after every message.
        if let Some(b) = body.strip_suffix(b"\n") {
            body = b;
        }
        let unquoted = unquote(body);
        let (uid, raw) = split_uid_header(&unquoted);
        out.push(imported(uid, raw.to_vec()));
    }
    Ok(out)
}

/// The envelope sender for the `From ` line: Return-Path, else the From address, else
/// MAILER-DAEMON; never with spaces or control characters (they would break the line).
fn envelope_sender(raw: &[u8]) -> String {
    let return_path = return_path(raw);
    let from = parse_summary(raw).from;
    let candidate = return_path
        .as_deref()
        .or(from.as_deref())
        .map(address)
        .unwrap_or_default();
    let clean: String = candidate
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '<' && *c != '>')
        .take(256)
        .collect();
    if clean.is_empty() {
        "MAILER-DAEMON".to_owned()
    } else {
        clean
    }
}

fn return_path(raw: &[u8]) -> Option<String> {
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.len() > 12 && line[..12].eq_ignore_ascii_case(b"return-path:") {
            return Some(String::from_utf8_lossy(&line[12..]).trim().to_owned());
        }
    }
    None
}

/// The address in `Name <addr>`, or the first word.
fn address(v: &str) -> String {
    if let (Some(a), Some(b)) = (v.rfind('<'), v.rfind('>'))
        && a < b
    {
        return v[a + 1..b].to_owned();
    }
    v.split_whitespace().next().unwrap_or("").to_owned()
}

/// `Thu Jan  1 00:00:00 1970` for a unix time in ms (UTC).
pub fn asctime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WD: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // 1970-01-01 was a Thursday.
    let wd = WD[usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0)];
    let mo = MO[usize::try_from(m - 1).unwrap_or(0).min(11)];
    format!(
        "{wd} {mo} {d:2} {:02}:{:02}:{:02} {y}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_formats_like_mbox_from_lines() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_795_745_400_000), "Fri Nov 27 02:10:00 2026");
        assert_eq!(asctime(951_782_400_000), "Tue Feb 29 00:00:00 2000");
    }

    #[test]
    fn quoting_adds_one_angle_to_from_lines_only() {
        let mut out = Vec::new();
        let mut q = Quoter::default();
        q.push(b"From a\n>From b\n>>From c\nFrom\nx From \n", &mut out);
        q.finish(&mut out);
        assert_eq!(out, b">From a\n>>From b\n>>>From c\nFrom\nx From \n");
        assert_eq!(unquote(&out), b"From a\n>From b\n>>From c\nFrom\nx From \n");
    }

    #[test]
    fn envelope_sender_prefers_return_path() {
        assert_eq!(
            envelope_sender(b"From: A <a@x>\nReturn-Path: <b@y>\n\n"),
            "b@y"
        );
        assert_eq!(envelope_sender(b"From: A B <a@x>\n\n"), "a@x");
        assert_eq!(envelope_sender(b"Return-Path: <>\n\n"), "MAILER-DAEMON");
        assert_eq!(envelope_sender(b""), "MAILER-DAEMON");
    }
}
