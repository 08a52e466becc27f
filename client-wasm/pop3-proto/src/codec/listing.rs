//! STAT, LIST and UIDL lines: `count size`, `msg size`, `msg uid`.
//!
//! Separators are runs of spaces or tabs: servers that put several spaces between fields exist
//! (thunderbird-android#323), and RFC 1939 permits information after the size, so it is ignored.

use crate::types::{MaildropStat, MsgNum, ScanEntry, Uid, UidEntry};

fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|f| !f.is_empty())
}

/// Decimal digits only (no sign, no spaces), overflow-checked.
fn number<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    if field.is_empty() || field.len() > 20 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Parses the text of `+OK count size`.
pub fn parse_stat(text: &[u8]) -> Option<MaildropStat> {
    let mut f = fields(text);
    Some(MaildropStat {
        count: number(f.next()?)?,
        size: number(f.next()?)?,
    })
}

/// Parses a scan listing line `msg size` (a LIST line, or the text of `+OK msg size`).
pub fn parse_scan(line: &[u8]) -> Option<ScanEntry> {
    let mut f = fields(line);
    Some(ScanEntry {
        msg: MsgNum::new(number(f.next()?)?)?,
        size: number(f.next()?)?,
    })
}

/// Parses a unique-id listing line `msg uid`; nothing may follow the id.
pub fn parse_uid(line: &[u8]) -> Option<UidEntry> {
    let mut f = fields(line);
    let msg = MsgNum::new(number(f.next()?)?)?;
    let uid = Uid::new(f.next()?)?;
    if f.next().is_some() {
        return None;
    }
    Some(UidEntry { msg, uid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_examples_parse() {
        assert_eq!(
            parse_stat(b"2 320"),
            Some(MaildropStat {
                count: 2,
                size: 320
            })
        );
        let e = parse_scan(b"1 120").unwrap();
        assert_eq!((e.msg.get(), e.size), (1, 120));
        let u = parse_uid(b"2 QhdPYR:00WBw1Ph7x7").unwrap();
        assert_eq!((u.msg.get(), u.uid.as_str()), (2, "QhdPYR:00WBw1Ph7x7"));
    }

    #[test]
    fn extra_spaces_and_trailing_scan_information_are_tolerated() {
        assert_eq!(parse_scan(b"3   200  extra").unwrap().size, 200);
        assert_eq!(parse_uid(b"3   abc").unwrap().uid.as_str(), "abc");
        assert_eq!(parse_stat(b"5 1000 messages").unwrap().count, 5);
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            &b""[..],
            b"0 10",
            b"-1 10",
            b"1",
            b"a 10",
            b"1 -5",
            b"1 99999999999999999999999",
            b"4294967296 1",
        ] {
            assert_eq!(parse_scan(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_uid(b"1 abc def"), None);
        assert_eq!(parse_uid(b"1 a\x7fb"), None);
        assert_eq!(parse_uid(b"1"), None);
        assert_eq!(parse_stat(b"x y"), None);
    }
}
