//! The Date field (RFC 5322 §3.3, with the obsolete forms of §4.3 that old mail still uses).

/// A point in time as a Date field gave it: milliseconds since the Unix epoch, and the sender's
/// UTC offset (to show the time as it was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub epoch_ms: i64,
    /// Minutes east of UTC.
    pub offset_minutes: i32,
}

impl Date {
    /// RFC 3339 in the sender's offset, `Z` for UTC: `2026-11-26T10:00:00+01:00`.
    pub fn to_rfc3339(&self) -> String {
        let local = self.epoch_ms.div_euclid(1000) + i64::from(self.offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let time = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if self.offset_minutes == 0 {
            format!("{time}Z")
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let off = self.offset_minutes.unsigned_abs();
            format!("{time}{sign}{:02}:{:02}", off / 60, off % 60)
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Parses a Date field: `[Mon,] 26 Nov 2026 10:00[:00] +0100 (CET)`. Day names, comments and
/// case are ignored; two- and three-digit years are read as RFC 5322 §4.3 says; a missing or
/// unknown zone is UTC. `None` when it is not a real date.
pub fn parse_date(value: &str) -> Option<Date> {
    let without_comments = strip_comments(value);
    let mut toks = without_comments
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .peekable();
    // An optional day name.
    if toks
        .peek()
        .is_some_and(|t| t.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
    {
        toks.next();
    }
    let day: u32 = number(toks.next()?, 2)?;
    let month = month(toks.next()?)?;
    let year_tok = toks.next()?;
    let mut year: i64 = i64::from(number(year_tok, 4)?);
    year = match year_tok.len() {
        1 | 2 if year < 50 => year + 2000,
        1..=3 => year + 1900,
        _ => year,
    };
    let time = toks.next()?;
    let mut hms = time.split(':');
    let hour: u32 = number(hms.next()?, 2)?;
    let minute: u32 = number(hms.next()?, 2)?;
    let second: u32 = match hms.next() {
        Some(s) => number(s, 2)?,
        None => 0,
    };
    if hms.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let offset_minutes = toks.next().map_or(0, zone);
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second.min(59))
        - i64::from(offset_minutes) * 60;
    Some(Date {
        epoch_ms: secs * 1000,
        offset_minutes,
    })
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn number(t: &str, max_digits: usize) -> Option<u32> {
    if t.is_empty() || t.len() > max_digits || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn month(t: &str) -> Option<u32> {
    let l = t.to_ascii_lowercase();
    let p = MONTHS
        .iter()
        .position(|m| l.len() >= 3 && l.is_char_boundary(3) && &l[..3] == *m)?;
    Some(p as u32 + 1)
}

/// `+hhmm` / `-hhmm`, or an obsolete zone name; unknown names (and military letters, which
/// RFC 5322 says to treat as unknown) are UTC.
fn zone(t: &str) -> i32 {
    let b = t.as_bytes();
    if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let h = i32::from(b[1] - b'0') * 10 + i32::from(b[2] - b'0');
        let m = i32::from(b[3] - b'0') * 10 + i32::from(b[4] - b'0');
        if m > 59 {
            return 0;
        }
        let off = h * 60 + m;
        return if b[0] == b'-' { -off } else { off };
    }
    match t.to_ascii_uppercase().as_str() {
        "EDT" => -4 * 60,
        "EST" | "CDT" => -5 * 60,
        "CST" | "MDT" => -6 * 60,
        "MST" | "PDT" => -7 * 60,
        "PST" => -8 * 60,
        _ => 0,
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
