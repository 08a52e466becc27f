//! The three things a user is shown about the server's certificate: subject, issuer and
//! expiry, read from the DER by hand.
//!
//! Why not a certificate-parsing crate: this runs in the browser module too, where every
//! kilobyte is downloaded, and a full X.509 parser (x509-parser with its nom, asn1 and OID
//! registry crates) would cost more than the rest of the handshake report. Only the path to
//! three fields is walked; everything else in the certificate (and every check that matters
//! for security) is webpki's job. The rendering is the one the bridge showed before, that of
//! x509-parser (`CN=mail.example, O=Example`); a test compares the two.
//!
//! Input is untrusted (it came from the network): every read is bounds-checked and a
//! malformed certificate gives `None`, never a panic.

/// What [`summary`] reads from an end-entity certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339 UTC.
    pub not_after: String,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const BMP_STRING: u8 = 0x1e;

/// Subject, issuer and notAfter of a DER certificate; `None` when the path to them is not
/// well-formed.
pub(crate) fn summary(der: &[u8]) -> Option<Summary> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = tlv(rest)?.2;
    }
    let (_serial, rest) = expect(rest, INTEGER)?;
    let (_signature_alg, rest) = expect(rest, SEQUENCE)?;
    let (issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, rest) = expect(rest, SEQUENCE)?;
    let (subject, _) = expect(rest, SEQUENCE)?;
    let (_not_before, validity) = any_time(validity)?;
    let (not_after, _) = any_time(validity)?;
    Some(Summary {
        subject: name(subject)?,
        issuer: name(issuer)?,
        not_after: crate::rfc3339(not_after),
    })
}

/// One TLV: (tag, contents, what follows). Only the single-byte tags and definite lengths of
/// DER.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        // More than four length bytes would describe a certificate larger than any we accept.
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for _ in 0..n {
            let (&b, r) = rest.split_first()?;
            len = len.checked_mul(256)?.checked_add(usize::from(b))?;
            rest = r;
        }
        len
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    Some((tag, contents, after))
}

fn expect(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, contents, rest) = tlv(input)?;
    (tag == want).then_some((contents, rest))
}

/// A UTCTime or GeneralizedTime as Unix seconds, and what follows it.
fn any_time(input: &[u8]) -> Option<(i64, &[u8])> {
    let (tag, contents, rest) = tlv(input)?;
    let text = std::str::from_utf8(contents).ok()?;
    let (year, digits) = match tag {
        // RFC 5280 4.1.2.5.1: two-digit years 50..99 are 19xx, 00..49 are 20xx.
        UTC_TIME if text.len() == 13 => {
            let yy = number(text.get(0..2)?)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        GENERALIZED_TIME if text.len() == 15 => (number(text.get(0..4)?)?, text.get(4..)?),
        _ => return None,
    };
    if !digits.ends_with('Z') {
        return None;
    }
    let field = |i: usize| digits.get(i..i + 2).and_then(number);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Leap seconds (60) are allowed by the syntax; they fold into the next minute.
    if second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second, rest))
}

fn number(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 (Howard Hinnant's days-from-civil; the inverse of [`crate::rfc3339`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A Name as x509-parser renders it: RDNs joined by ", ", the attributes of a multi-valued
/// RDN by " + ", each as `ABBREV=value`.
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut out = String::new();
    while !rdns.is_empty() {
        let (mut set, rest) = expect(rdns, SET)?;
        rdns = rest;
        let mut rdn = String::new();
        while !set.is_empty() {
            let (attr, rest) = expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(attr, OID)?;
            let (tag, contents, _) = tlv(value)?;
            if !rdn.is_empty() {
                rdn.push_str(" + ");
            }
            match abbrev(oid) {
                Some(a) => rdn.push_str(a),
                None => {
                    rdn.push_str("OID(");
                    rdn.push_str(&dotted(oid)?);
                    rdn.push(')');
                }
            }
            rdn.push('=');
            rdn.push_str(&value_text(tag, contents));
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&rdn);
    }
    Some(out)
}

/// An attribute value as text: the string types as they are (invalid UTF-8 replaced rather
/// than failing the whole name, unlike x509-parser), BMPString from UTF-16, anything else as
/// upper-case hex of its contents.
fn value_text(tag: u8, contents: &[u8]) -> String {
    match tag {
        // Numeric, Printable, T61, Videotex, IA5, Graphic, Visible, General, UTF8,
        // ObjectDescriptor.
        0x12 | 0x13 | 0x14 | 0x15 | 0x16 | 0x19 | 0x1a | 0x1b | 0x0c | 0x07 => {
            String::from_utf8_lossy(contents).into_owned()
        }
        BMP_STRING => {
            let units = contents
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        _ => contents.iter().map(|b| format!("{b:02X}")).collect(),
    }
}

/// The attribute types that appear in certificate names, with x509-parser's names for them
/// (its abbreviations, else the OID registry's short name). Keys are the OIDs' DER contents.
const NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "Email",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x02],
        "unstructuredName",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        "uid",
    ),
    (&[0x55, 0x04, 0x00], "objectClass"),
    (&[0x55, 0x04, 0x01], "aliasedEntryName"),
    (&[0x55, 0x04, 0x02], "knowledgeInformation"),
    (&[0x55, 0x04, 0x04], "surname"),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (&[0x55, 0x04, 0x09], "streetAddress"),
    (&[0x55, 0x04, 0x0c], "title"),
    (&[0x55, 0x04, 0x0d], "description"),
    (&[0x55, 0x04, 0x0e], "searchGuide"),
    (&[0x55, 0x04, 0x0f], "businessCategory"),
    (&[0x55, 0x04, 0x10], "postalAddress"),
    (&[0x55, 0x04, 0x11], "postalCode"),
    (&[0x55, 0x04, 0x29], "name"),
    (&[0x55, 0x04, 0x2a], "givenName"),
    (&[0x55, 0x04, 0x2b], "initials"),
    (&[0x55, 0x04, 0x2c], "generationQualifier"),
    (&[0x55, 0x04, 0x2d], "uniqueIdentifier"),
    (&[0x55, 0x04, 0x2e], "dnQualifier"),
    // The jurisdiction of EV certificates.
    (
        &[
            0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x01,
        ],
        "msJurisdictionLocality",
    ),
    (
        &[
            0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x02,
        ],
        "msJurisdictionStateOrProvince",
    ),
    (
        &[
            0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x03,
        ],
        "msJurisdictionCountry",
    ),
];

fn abbrev(oid: &[u8]) -> Option<&'static str> {
    NAMES.iter().find(|(k, _)| *k == oid).map(|(_, v)| *v)
}

/// An OID's dotted form, e.g. "1.3.6.1.4.1.311.60.2.1.3".
fn dotted(oid: &[u8]) -> Option<String> {
    let mut arcs = Vec::new();
    let mut acc: u64 = 0;
    for (i, &b) in oid.iter().enumerate() {
        acc = acc.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        } else if i + 1 == oid.len() {
            return None;
        }
    }
    let (&first, rest) = arcs.split_first()?;
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in rest {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_days_from_civil() {
        for ts in [0i64, 951_782_400, 1_893_456_000, -86_400, 4_102_444_800] {
            let s = crate::rfc3339(ts);
            let y = s[0..4].parse().unwrap();
            let m = s[5..7].parse().unwrap();
            let d = s[8..10].parse().unwrap();
            assert_eq!(
                days_from_civil(y, m, d) * 86_400,
                ts - ts.rem_euclid(86_400)
            );
        }
    }

    #[test]
    fn oids_render_dotted() {
        // 1.3.6.1.4.1.311.60.2.1.3 (jurisdictionCountryName).
        let der = [
            0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x03,
        ];
        assert_eq!(dotted(&der).unwrap(), "1.3.6.1.4.1.311.60.2.1.3");
        assert_eq!(dotted(&[0x55, 0x04, 0x03]).unwrap(), "2.5.4.3");
        assert_eq!(dotted(&[0x82]), None);
    }

    /// The bridge showed x509-parser's rendering before: the same text for every attribute
    /// and string type a certificate generator can produce, and the same expiry.
    #[test]
    fn names_and_expiry_render_as_x509_parser_renders_them() {
        use rcgen::string::{
            BmpString, Ia5String, PrintableString, TeletexString, UniversalString,
        };
        use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};

        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CountryName,
            DnValue::PrintableString(PrintableString::try_from("DE").unwrap()),
        );
        dn.push(DnType::StateOrProvinceName, "Bavaria");
        dn.push(
            DnType::LocalityName,
            DnValue::TeletexString(TeletexString::try_from("Munich").unwrap()),
        );
        dn.push(
            DnType::OrganizationName,
            DnValue::BmpString(BmpString::try_from("Exämple ☃ GmbH").unwrap()),
        );
        dn.push(
            DnType::OrganizationalUnitName,
            DnValue::Ia5String(Ia5String::try_from("Mail").unwrap()),
        );
        // jurisdictionCountryName (EV certificates): not in the table, shown as an OID.
        dn.push(
            DnType::CustomDnType(vec![1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3]),
            "DE",
        );
        // serialNumber, emailAddress, domainComponent: in the table.
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), "HRB 12345");
        dn.push(
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            DnValue::Ia5String(Ia5String::try_from("pm@example.test").unwrap()),
        );
        dn.push(
            DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
            DnValue::Ia5String(Ia5String::try_from("example").unwrap()),
        );
        // UniversalString is not a string type to x509-parser: hex.
        dn.push(
            DnType::CustomDnType(vec![2, 5, 4, 42]),
            DnValue::UniversalString(UniversalString::try_from("Jo").unwrap()),
        );
        dn.push(DnType::CommonName, "mail.example.test");

        for (not_after, label) in [
            (rcgen::date_time_ymd(2049, 12, 31), "UTCTime"),
            (rcgen::date_time_ymd(2050, 1, 1), "GeneralizedTime"),
            (rcgen::date_time_ymd(1999, 2, 28), "UTCTime 19xx"),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(vec!["mail.example.test".to_string()]).unwrap();
            p.distinguished_name = dn.clone();
            p.not_before = rcgen::date_time_ymd(1990, 1, 1);
            p.not_after = not_after;
            let cert = p.self_signed(&key).unwrap();
            let der = cert.der().as_ref();
            let (_, reference) = x509_parser::parse_x509_certificate(der).unwrap();
            let ours = summary(der).unwrap();
            assert_eq!(ours.subject, reference.subject().to_string(), "{label}");
            assert_eq!(ours.issuer, reference.issuer().to_string(), "{label}");
            assert_eq!(
                ours.not_after,
                crate::rfc3339(reference.validity().not_after.timestamp()),
                "{label}"
            );
        }
    }

    #[test]
    fn truncated_or_garbage_der_gives_none() {
        assert_eq!(summary(&[]), None);
        assert_eq!(summary(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(summary(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
    }
}
