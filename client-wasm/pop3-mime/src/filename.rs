//! Attachment file names: what the sender wrote is a suggestion for a name on the user's disk,
//! and a hostile one tries to disguise the real type (`invoice\u{202E}fdp.exe` shows as
//! `invoiceexe.pdf`), to escape the download folder (`../../`), or to name a device (`CON`).

use pop3_proto::text;

/// A cleaned file name and the extension the file really has (what the OS will act on), which
/// the UI shows on its own so that a name cannot hide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanName {
    /// The name to show and to save under (no paths, controls, bidi or reserved names).
    pub name: String,
    /// Lower-case, without the dot; empty when the name has none.
    pub extension: String,
}

/// The longest cleaned name, in characters: long enough for real names, short enough that the
/// extension is not pushed out of sight in a list.
pub const MAX_FILENAME_CHARS: usize = 120;
const MAX_EXTENSION_CHARS: usize = 16;

const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    "CONIN$", "CONOUT$",
];

/// Cleans a sender-supplied file name for display and download. Never empty: a name with
/// nothing left becomes "attachment".
pub fn clean_filename(raw: &str) -> CleanName {
    // Only the last path component counts: a name is never a path.
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    // The one rule of unsafe characters (pop3_proto::text): controls become `_` (a visible
    // trace of them), bidi and invisible characters go, so the name reads as it will be saved.
    let mut s: String = base
        .chars()
        .filter_map(|c| {
            if text::is_control(c) || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                Some('_')
            } else if text::is_unsafe(c) {
                None
            } else if c.is_whitespace() {
                Some(' ')
            } else {
                Some(c)
            }
        })
        .collect();
    // Leading dots hide files on Unix and `..` climbs; trailing dots and spaces are dropped
    // by Windows, which would change the extension after the user saw it.
    s = s
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_owned();
    // The extension is cut to length, then trimmed again: a cut can end in a space, which
    // Windows would drop. When nothing is left of it, the stem's own last dot names the type
    // the OS will act on (`x.exe.` + 16 spaces + `junk` saves as `x.exe`), so the stem is split
    // again; otherwise that extension would go unshown and a second cleaning would split it.
    let mut rest = s.as_str();
    let (stem, ext) = loop {
        let (stem, ext) = split_extension(rest);
        let cut: String = ext.chars().take(MAX_EXTENSION_CHARS).collect();
        let cut = cut.trim_end_matches(['.', ' ']).to_owned();
        let stem = stem.trim_end_matches(['.', ' ']);
        if cut.is_empty() && !ext.is_empty() {
            rest = stem;
            continue;
        }
        break (stem, cut);
    };
    let ext = ext.as_str();
    // Shorten the stem, never the extension, so the real type stays visible. Cut to length,
    // then trimmed: the cut can end in dots or spaces.
    let room = MAX_FILENAME_CHARS.saturating_sub(if ext.is_empty() {
        0
    } else {
        ext.chars().count() + 1
    });
    let shorten = |stem: &str| -> String {
        stem.chars()
            .take(room)
            .collect::<String>()
            .trim_end_matches(['.', ' '])
            .to_owned()
    };
    let mut stem = shorten(stem);
    // A device name is judged on the shortened stem: shortening can leave one bare
    // (`COM1`, 200 spaces, `z`, cut and trimmed, is `COM1`).
    let stem_upper = stem.to_ascii_uppercase();
    let device = stem_upper.split('.').next().unwrap_or("");
    if RESERVED.contains(&device.trim_end()) {
        stem.insert(0, '_');
        stem = shorten(&stem);
    }
    let name = match (stem.is_empty(), ext.is_empty()) {
        (true, true) => "attachment".to_owned(),
        (true, false) => format!("attachment.{ext}"),
        (false, true) => stem,
        (false, false) => format!("{stem}.{ext}"),
    };
    CleanName {
        extension: ext.to_lowercase(),
        name,
    }
}

fn split_extension(s: &str) -> (&str, &str) {
    match s.rfind('.') {
        Some(i) if i > 0 && i + 1 < s.len() => (&s[..i], &s[i + 1..]),
        _ => (s, ""),
    }
}
