//! The shared vectors of `unsafe_text_vectors.json` against `pop3_proto::text`: every
//! character's class, and what each helper makes of sample texts. The same file is checked
//! against the file-name cleaner (pop3-mime) and, through the wasm exports, in JavaScript
//! (tests/tests/unsafe_text_js.rs), so all of them follow one rule.

use pop3_proto::text::{
    display_line, has_unsafe, is_bidi_control, is_control, is_invisible, is_unsafe, replace_unsafe,
    server_text, strip_unsafe,
};

/// A JSON value: just enough JSON for the vectors file (no dependency in this crate needs
/// serde_json, and a test should not add one).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or(&Json::Null),
            _ => &Json::Null,
        }
    }
    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn eat(&mut self, b: u8) {
        self.ws();
        assert_eq!(self.s.get(self.i), Some(&b), "at byte {}", self.i);
        self.i += 1;
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    m.push((k, self.value()));
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b'}' {
                        return Json::Obj(m);
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b']' {
                        return Json::Arr(a);
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => {
                self.i += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.i += 5;
                Json::Bool(false)
            }
            b'n' => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| b"+-.eE0123456789".contains(b))
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Num(t.parse().unwrap())
            }
        }
    }
    fn hex4(&mut self) -> u32 {
        let t = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
        self.i += 4;
        u32::from_str_radix(t, 16).unwrap()
    }
    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = String::new();
        loop {
            let rest = std::str::from_utf8(&self.s[self.i..]).unwrap();
            let c = rest.chars().next().unwrap();
            self.i += c.len_utf8();
            match c {
                '"' => return out,
                '\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    match e {
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let mut cp = self.hex4();
                            if (0xD800..0xDC00).contains(&cp) {
                                assert_eq!(&self.s[self.i..self.i + 2], b"\\u");
                                self.i += 2;
                                let lo = self.hex4();
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            out.push(char::from_u32(cp).unwrap());
                        }
                        other => out.push(char::from(other)),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

fn vectors() -> Json {
    let text = include_str!("unsafe_text_vectors.json");
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.value()
}

fn one_char(s: &str) -> char {
    let mut it = s.chars();
    let c = it.next().expect("a character");
    assert_eq!(it.next(), None, "one character per class vector: {s:?}");
    c
}

#[test]
fn every_vector_character_is_in_its_class_and_no_other() {
    let v = vectors();
    let classes = v.get("classes").arr();
    assert!(classes.len() > 40);
    for e in classes {
        let c = one_char(e.get("char").str());
        let class = e.get("class").str();
        let got = [
            ("bidi", is_bidi_control(c)),
            ("invisible", is_invisible(c)),
            ("control", is_control(c)),
        ];
        let named: Vec<&str> = got.iter().filter(|(_, y)| *y).map(|(n, _)| *n).collect();
        let want: Vec<&str> = if class == "safe" { vec![] } else { vec![class] };
        assert_eq!(named, want, "U+{:04X} ({})", c as u32, e.get("why").str());
        assert_eq!(is_unsafe(c), class != "safe", "U+{:04X}", c as u32);
    }
}

#[test]
fn every_vector_text_is_stripped_lined_and_replaced_as_expected() {
    let v = vectors();
    for e in v.get("text").arr() {
        let input = e.get("input").str();
        assert_eq!(strip_unsafe(input), e.get("stripped").str(), "{input:?}");
        assert_eq!(display_line(input), e.get("line").str(), "{input:?}");
        assert_eq!(
            replace_unsafe(input, '\u{FFFD}'),
            e.get("replaced").str(),
            "{input:?}"
        );
        assert_eq!(has_unsafe(input), strip_unsafe(input) != input, "{input:?}");
        assert!(!has_unsafe(&strip_unsafe(input)));
        assert!(!has_unsafe(&display_line(input)));
        assert_eq!(server_text(input.as_bytes()), e.get("stripped").str());
    }
}

#[test]
fn server_greetings_and_err_texts_follow_the_shared_rule() {
    // The core's own server text (greeting banner) goes through the same rule.
    use pop3_proto::Instant;
    use pop3_proto::{Client, Event, Options};
    let t0 = Instant::now();
    let mut c = Client::new(Options::implicit_tls(), t0);
    c.feed(b"+OK ready\xe2\x80\x8b\xe2\x81\xa0 \xd8\x9cnow\x1b\r\n", t0)
        .unwrap();
    let mut banner = None;
    while let Some(e) = c.poll_event() {
        if let Event::Greeting(g) = e {
            banner = Some(g.text);
        }
    }
    assert_eq!(banner.as_deref(), Some("ready now"));
}
