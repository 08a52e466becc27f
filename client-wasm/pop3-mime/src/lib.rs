//! Reading untrusted mail: MIME parsing within limits, a part tree a UI can show, the body as
//! escaped text or as sanitized HTML (each part on its own), inline `cid:` images, attachment
//! bytes, and file names that cannot disguise themselves.
//!
//! Pure Rust with no browser knowledge; `pop3-web` binds it to JavaScript. Nothing here panics
//! on input, and every step is bounded by [`Limits`].

#![warn(missing_docs, missing_debug_implementations)]

mod anchors;
mod charsets;
mod css;
pub mod decode;
mod filename;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod html_limits;
mod message;
pub mod outline;
mod sanitize;
mod text;

pub use charsets::EncodingRs;
pub use filename::{CleanName, MAX_FILENAME_CHARS, clean_filename};
pub use message::{
    Disposition, Mailbox, MessageView, PartInfo, Rendered, Warning, parse_message, part_bytes,
    render_html,
};
pub use sanitize::{
    InlineImages, MAX_HTML_DEPTH, MAX_HTML_TAGS, SanitizeOptions, Sanitized, sanitize_html,
};
pub use text::{text_to_html, unflow};

/// Bounds on the work and memory one message may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A larger message is refused before parsing.
    pub max_input_bytes: usize,
    /// Nesting of multiparts and attached messages; deeper parts are left out.
    pub max_depth: usize,
    /// Parts listed; later ones are left out.
    pub max_parts: usize,
    /// Decoded bytes of all listed parts together; parts beyond it are left out.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 << 20,
            max_depth: 16,
            max_parts: 1000,
            max_decoded_bytes: 64 << 20,
        }
    }
}

/// Why a message or part cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    /// Larger than [`Limits::max_input_bytes`]: refused before parsing.
    #[error("the message is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// The message's size in bytes.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// Not mail at all: no header line to start with.
    #[error("this is not a mail message (no header lines)")]
    NotAMessage,
    /// No part with this id (or it was left out because of a limit).
    #[error("the message has no part {0:?} (or it was left out because of a limit)")]
    PartNotFound(String),
}
