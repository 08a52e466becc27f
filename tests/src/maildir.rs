//! Deterministic Maildir content for tests.
//!
//! [`Mailbox`] describes a set of messages (count, approximate size, seed, edge cases) and
//! [`Mailbox::write_to`] stores them as files in a Maildir's `new/` or `cur/` directory.
//!
//! File names start with a strictly increasing Unix timestamp (`1600000000 + i`), so Dovecot,
//! which assigns UIDs to new files ordered by that timestamp, numbers them in the order they were
//! generated: message `index` (0-based) is POP3 message number `index + 1`.
//!
//! Files are written with LF line endings (unless [`LineEnding::Crlf`] is chosen). Dovecot sends
//! every bare LF as CRLF, so what a POP3 client must receive after removing dot-stuffing and the
//! terminating `.` line is [`WrittenMailbox::expected_bytes`]: the file with each bare LF turned
//! into CRLF. File names carry correct `,S=` (file size) and `,W=` (size with CRLF) fields, so
//! Dovecot answers `LIST`/`STAT` without reading every file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Which Maildir subdirectory the messages are written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Folder {
    /// `new/`: unseen messages (Dovecot moves them to `cur/` on first access).
    #[default]
    New,
    /// `cur/`: already seen messages (file names get a `:2,S` suffix).
    Cur,
}

/// Line endings used in the stored files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\n` (what an MTA normally stores; Dovecot converts to CRLF on the wire).
    #[default]
    Lf,
    /// `\r\n` already in the file (sent as is).
    Crlf,
}

/// Content style of generated messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// Machine-looking test messages with index and seed in the headers.
    #[default]
    Test,
    /// Friendly, human-looking sample messages (for demos).
    Friendly,
}

/// The body lines inserted by [`Mailbox::edge_cases`] (without line endings).
pub const EDGE_CASE_LINES: &[&str] = &[
    ".",
    "..",
    "...",
    ".hidden line starting with a dot",
    "..two dots at the start",
    "+OK this line looks like a status line",
    "-ERR this line looks like an error",
    " .",
    ". ",
    "+OK",
    "-ERR",
    "",
    ".",
];

/// A description of the messages to put into a Maildir.
#[derive(Debug, Clone)]
pub struct Mailbox {
    count: usize,
    approx_size: usize,
    seed: u64,
    folder: Folder,
    edge_cases: bool,
    line_ending: LineEnding,
    style: Style,
    recipient: String,
    raw: Vec<Vec<u8>>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox::new(0)
    }
}

impl Mailbox {
    /// `count` generated messages of about 4 KB each, seed 1, in `new/`, LF line endings.
    pub fn new(count: usize) -> Mailbox {
        Mailbox {
            count,
            approx_size: 4096,
            seed: 1,
            folder: Folder::New,
            edge_cases: false,
            line_ending: LineEnding::Lf,
            style: Style::Test,
            recipient: "user@example.test".to_owned(),
            raw: Vec::new(),
        }
    }

    /// An empty mailbox.
    pub fn empty() -> Mailbox {
        Mailbox::new(0)
    }

    /// Approximate size of each generated message in bytes (headers included; at least the
    /// headers are always written).
    pub fn size(mut self, approx_bytes: usize) -> Mailbox {
        self.approx_size = approx_bytes;
        self
    }

    /// Seed of the content generator (same seed, same bytes).
    pub fn seed(mut self, seed: u64) -> Mailbox {
        self.seed = seed;
        self
    }

    /// Store in `new/` or `cur/`.
    pub fn folder(mut self, folder: Folder) -> Mailbox {
        self.folder = folder;
        self
    }

    /// Put the [`EDGE_CASE_LINES`] (lines starting with `.`, `..`, `+OK`, `-ERR`, a line that
    /// is just `.`, ...) at the start of every generated body, and end every body with a line
    /// that is just `.`.
    pub fn edge_cases(mut self, on: bool) -> Mailbox {
        self.edge_cases = on;
        self
    }

    /// Line endings of the stored files.
    pub fn line_ending(mut self, le: LineEnding) -> Mailbox {
        self.line_ending = le;
        self
    }

    /// Content style.
    pub fn style(mut self, style: Style) -> Mailbox {
        self.style = style;
        self
    }

    /// The `To:` address used in generated messages.
    pub fn recipient(mut self, addr: &str) -> Mailbox {
        self.recipient = addr.to_owned();
        self
    }

    /// Appends a message with exactly these file bytes after the generated ones. It should end
    /// with a line ending; bare CR characters are not supported by the comparison helpers.
    pub fn raw_message(mut self, bytes: impl Into<Vec<u8>>) -> Mailbox {
        self.raw.push(bytes.into());
        self
    }

    /// Number of messages (generated + raw).
    pub fn len(&self) -> usize {
        self.count + self.raw.len()
    }

    /// True when the mailbox has no messages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file bytes of every message, in POP3 order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = (0..self.count).map(|i| self.generate(i)).collect();
        out.extend(self.raw.iter().cloned());
        out
    }

    /// Writes the messages into `maildir` (creating `new/`, `cur/` and `tmp/`).
    pub fn write_to(&self, maildir: &Path) -> io::Result<WrittenMailbox> {
        for sub in ["new", "cur", "tmp"] {
            fs::create_dir_all(maildir.join(sub))?;
        }
        let messages = self.messages();
        let mut files = Vec::with_capacity(messages.len());
        for (i, msg) in messages.iter().enumerate() {
            let wire = to_crlf(msg);
            let base = format!(
                "{}.M{}P{}Q{}.e2e,S={},W={}",
                1_600_000_000u64 + i as u64,
                i,
                self.seed % 100_000,
                i,
                msg.len(),
                wire.len()
            );
            let path = match self.folder {
                Folder::New => maildir.join("new").join(base),
                Folder::Cur => maildir.join("cur").join(format!("{base}:2,S")),
            };
            fs::write(&path, msg)?;
            files.push(path);
        }
        Ok(WrittenMailbox {
            maildir: maildir.to_owned(),
            files,
            messages,
        })
    }

    fn eol(&self) -> &'static str {
        match self.line_ending {
            LineEnding::Lf => "\n",
            LineEnding::Crlf => "\r\n",
        }
    }

    /// Generates message `i` (0-based).
    fn generate(&self, i: usize) -> Vec<u8> {
        let mut rng = SplitMix64::new(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let eol = self.eol();
        let mut lines: Vec<String> = Vec::new();
        let day = 1 + (i % 28);
        let hour = i % 24;
        let minute = (i * 7) % 60;
        let (from, subject) = match self.style {
            Style::Test => (
                format!("Sender {} <sender{}@example.test>", i % 17, i % 17),
                format!(
                    "Test message {} of {} (seed {})",
                    i + 1,
                    self.count,
                    self.seed
                ),
            ),
            Style::Friendly => {
                let f = FRIENDLY[i % FRIENDLY.len()];
                (f.0.to_owned(), f.1.to_owned())
            }
        };
        lines.push("Return-Path: <sender@example.test>".to_owned());
        lines.push(format!(
            "Message-ID: <msg-{}-{}@e2e.example.test>",
            i + 1,
            self.seed
        ));
        lines.push(format!(
            "Date: {}, {:02} Mar 2024 {:02}:{:02}:00 +0000",
            WEEKDAYS[(day + 4) % 7],
            day,
            hour,
            minute
        ));
        lines.push(format!("From: {from}"));
        lines.push(format!("To: {}", self.recipient));
        lines.push(format!("Subject: {subject}"));
        lines.push(format!("X-E2E-Index: {i}"));
        lines.push("MIME-Version: 1.0".to_owned());
        lines.push("Content-Type: text/plain; charset=us-ascii".to_owned());
        lines.push(String::new());
        if self.style == Style::Friendly {
            let f = FRIENDLY[i % FRIENDLY.len()];
            for l in f.2.lines() {
                lines.push(l.to_owned());
            }
            lines.push(String::new());
        }
        if self.edge_cases {
            lines.extend(EDGE_CASE_LINES.iter().map(|s| s.to_string()));
        }
        let mut size: usize = lines.iter().map(|l| l.len() + eol.len()).sum();
        let tail = if self.edge_cases { 2 + eol.len() } else { 0 };
        let mut para = 0usize;
        while size + tail < self.approx_size {
            let width = 40 + (rng.next() % 37) as usize;
            let mut line = String::new();
            while line.len() < width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
            }
            if line.len() > 76 {
                line.truncate(76);
                while line.ends_with(' ') {
                    line.pop();
                }
            }
            if para % 6 == 5 {
                line.push('.');
            }
            size += line.len() + eol.len();
            lines.push(line);
            para += 1;
            if para.is_multiple_of(6) && size + tail < self.approx_size {
                lines.push(String::new());
                size += eol.len();
            }
        }
        if self.edge_cases {
            lines.push(".".to_owned());
        }
        let mut out = String::with_capacity(size + tail + 16);
        for l in lines {
            out.push_str(&l);
            out.push_str(eol);
        }
        out.into_bytes()
    }
}

/// Messages as written to disk, with helpers to compute what a POP3 client must receive.
#[derive(Debug, Clone)]
pub struct WrittenMailbox {
    /// The Maildir (containing `new/`, `cur/`, `tmp/`).
    pub maildir: PathBuf,
    /// The file of each message, in POP3 order (Dovecot may later move files from `new/` to
    /// `cur/` and rename them).
    pub files: Vec<PathBuf>,
    messages: Vec<Vec<u8>>,
}

impl WrittenMailbox {
    /// Number of messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when there are no messages.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The stored file bytes of message `index` (0-based; POP3 message number `index + 1`).
    pub fn raw(&self, index: usize) -> &[u8] {
        &self.messages[index]
    }

    /// What a POP3 client must deliver for message `index` (0-based): the file bytes with every
    /// bare LF turned into CRLF (dot-stuffing removed, terminator excluded).
    pub fn expected_bytes(&self, index: usize) -> Vec<u8> {
        to_crlf(&self.messages[index])
    }

    /// The size Dovecot reports in `LIST` for message `index` (0-based).
    pub fn octets(&self, index: usize) -> usize {
        to_crlf(&self.messages[index]).len()
    }

    /// The total size Dovecot reports in `STAT`.
    pub fn total_octets(&self) -> usize {
        (0..self.len()).map(|i| self.octets(i)).sum()
    }

    /// The `Subject:` header value of message `index`, if any.
    pub fn subject(&self, index: usize) -> Option<String> {
        let text = String::from_utf8_lossy(&self.messages[index]);
        text.lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix("Subject: ").map(|s| s.trim_end().to_owned()))
    }
}

/// Converts every LF that is not preceded by CR into CRLF.
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40 + 2);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Small deterministic PRNG (SplitMix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next pseudo-random value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const WORDS: &[&str] = &[
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "mail",
    "client",
    "server",
    "message",
    "protocol",
    "retrieve",
    "delete",
    "octets",
    "pipeline",
    "response",
    "command",
    "stream",
    "buffer",
    "socket",
    "latency",
    "window",
    "bridge",
    "browser",
    "maildrop",
    "session",
    "state",
    "update",
    "transaction",
    "authorization",
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "a",
    "an",
    "of",
    "to",
    "in",
    "and",
    "with",
];

const FRIENDLY: &[(&str, &str, &str)] = &[
    (
        "Ada Lovelace <ada@example.org>",
        "Welcome to your new mailbox",
        "Hi!\n\nThis is a sample mailbox served by a real Dovecot POP3 server on your machine.\nEvery message here was generated for the demo.\n\nCheers,\nAda",
    ),
    (
        "Grace Hopper <grace@example.org>",
        "Notes from the compiler meeting",
        "Hello,\n\nAttached are my notes from today's meeting (well, not attached: this is plain text).\nWe agreed to ship on Friday.\n\nGrace",
    ),
    (
        "Alan Turing <alan@example.org>",
        "Lunch on Thursday?",
        "Are you free for lunch on Thursday? There is a new place near the station.\n\nAlan",
    ),
    (
        "Katherine Johnson <katherine@example.org>",
        "Re: trajectory numbers",
        "I double-checked the numbers by hand. They hold.\n\n> Could you verify the attached figures?\n\nK.",
    ),
    (
        "Linus Example <linus@example.org>",
        "Patch review",
        "The patch looks good to me. One nit: please keep lines under 80 columns.\n\nThanks",
    ),
    (
        "Newsletter <news@example.org>",
        "This week in POP3",
        "POP3 turned out to be older than most of its users.\nRFC 1939 is still the reference, with RFC 2449 adding CAPA and RFC 5034 adding SASL.\n\nUnsubscribe anytime.",
    ),
    (
        "Margaret Hamilton <margaret@example.org>",
        "Flight software status",
        "All tests are green. The priority scheduler behaves under overload.\n\nMargaret",
    ),
    (
        "Dennis Example <dennis@example.org>",
        "A line that starts with a dot",
        "The next line starts with a dot, which POP3 servers must escape:\n.like this one\n..and this one\n.\nThat was a lone dot.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_conversion() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn deterministic_and_sized() {
        let a = Mailbox::new(3).seed(7).messages();
        let b = Mailbox::new(3).seed(7).messages();
        assert_eq!(a, b);
        assert_ne!(a, Mailbox::new(3).seed(8).messages());
        for m in &a {
            assert!(m.len() > 3500 && m.len() < 4300, "{}", m.len());
            assert!(m.ends_with(b"\n"));
        }
    }

    #[test]
    fn edge_cases_present() {
        let m = &Mailbox::new(1).edge_cases(true).messages()[0];
        let text = String::from_utf8_lossy(m);
        assert!(text.contains("\n.\n"));
        assert!(text.contains("\n..\n"));
        assert!(text.contains("\n+OK"));
        assert!(text.ends_with("\n.\n"));
    }
}
