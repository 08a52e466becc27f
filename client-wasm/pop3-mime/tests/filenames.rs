//! File names from hostile senders: what the user sees is what lands on disk, with the real
//! extension visible.

use pop3_mime::clean_filename;

/// The shared vectors (client-wasm/pop3-proto/tests/unsafe_text_vectors.json): the JavaScript
/// side checks the same names through the wasm `cleanFilename` (tests/tests/unsafe_text_js.rs).
#[test]
fn shared_vectors_clean_to_the_expected_names() {
    let text = include_str!("../../pop3-proto/tests/unsafe_text_vectors.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let names = v["filenames"].as_array().unwrap();
    assert!(names.len() > 20);
    for e in names {
        let input = e["input"].as_str().unwrap();
        let c = clean_filename(input);
        assert_eq!(
            (c.name.as_str(), c.extension.as_str()),
            (
                e["name"].as_str().unwrap(),
                e["extension"].as_str().unwrap()
            ),
            "{input:?}"
        );
        assert_eq!(clean_filename(&c.name), c, "stable: {input:?}");
    }
}

#[test]
fn rtlo_cannot_disguise_an_exe_as_a_jpg() {
    let c = clean_filename("evil\u{202E}gpj.exe");
    assert_eq!(c.name, "evilgpj.exe");
    assert_eq!(c.extension, "exe");
}

#[test]
fn every_bidi_and_invisible_control_is_removed() {
    for ch in [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{FEFF}',
    ] {
        let c = clean_filename(&format!("a{ch}b.pdf"));
        assert_eq!(c.name, "ab.pdf", "{:?}", ch);
    }
}

#[test]
fn path_traversal_keeps_only_the_last_component() {
    assert_eq!(clean_filename("../../etc/passwd").name, "passwd");
    assert_eq!(
        clean_filename("..\\..\\windows\\system32\\x.dll").name,
        "x.dll"
    );
    assert_eq!(clean_filename("C:\\evil.bat").name, "evil.bat");
    assert_eq!(clean_filename("..").name, "attachment");
    assert_eq!(clean_filename("/").name, "attachment");
}

#[test]
fn nul_and_control_characters_are_replaced() {
    let c = clean_filename("report.pdf\0.exe");
    assert!(!c.name.contains('\0'));
    assert_eq!(c.name, "report.pdf_.exe");
    assert_eq!(c.extension, "exe");
    assert_eq!(clean_filename("a\r\nb\t.txt").name, "a__b_.txt");
}

#[test]
fn windows_reserved_device_names_are_defused() {
    assert_eq!(clean_filename("CON.txt").name, "_CON.txt");
    assert_eq!(clean_filename("con").name, "_con");
    assert_eq!(clean_filename("LPT1.tar.gz").name, "_LPT1.tar.gz");
    assert_eq!(clean_filename("console.txt").name, "console.txt");
}

/// Review finding: the device-name check ran before the stem was shortened, and shortening
/// (then trimming the spaces the cut ended in) could leave a bare device name.
#[test]
fn a_device_name_left_bare_by_shortening_is_defused() {
    let c = clean_filename(&format!("COM1{}z", " ".repeat(200)));
    assert_eq!(c.name, "_COM1");
    let c = clean_filename(&format!("CON{}x.txt", " ".repeat(150)));
    assert_eq!((c.name.as_str(), c.extension.as_str()), ("_CON.txt", "txt"));
    let long = format!("CON.{}.txt", "a".repeat(300));
    let c = clean_filename(&long);
    assert!(
        c.name.starts_with("_CON.") && c.name.ends_with(".txt"),
        "{}",
        c.name
    );
    assert!(c.name.chars().count() <= pop3_mime::MAX_FILENAME_CHARS);
    assert_eq!(clean_filename(&c.name), c);
}

#[test]
fn leading_dots_and_trailing_dots_or_spaces_are_stripped() {
    assert_eq!(clean_filename(".htaccess").name, "htaccess");
    assert_eq!(
        clean_filename("invoice.pdf.exe. . ").name,
        "invoice.pdf.exe"
    );
    assert_eq!(clean_filename("invoice.pdf.exe. . ").extension, "exe");
}

#[test]
fn very_long_names_are_shortened_but_keep_their_extension() {
    let long = format!("{}.exe", "a".repeat(10_000));
    let c = clean_filename(&long);
    assert!(c.name.chars().count() <= pop3_mime::MAX_FILENAME_CHARS);
    assert!(c.name.ends_with(".exe"));
    assert_eq!(c.extension, "exe");
    let padded = format!("photo.jpg{}.exe", " ".repeat(300));
    let c = clean_filename(&padded);
    assert!(c.name.ends_with(".exe"), "{}", c.name);
}

/// Fuzz finding (parse_message, 2026-12-07): an "extension" of 16 spaces or more is cut to
/// nothing, and the name used to keep its stem whole, dots and all, as a name without an
/// extension. The OS still acts on the stem's own last dot, which the UI then did not show,
/// and a second cleaning split it.
#[test]
fn an_extension_cut_to_nothing_leaves_the_stems_own_extension_shown() {
    let c = clean_filename(&format!("invoice.pdf.exe.{}junk", " ".repeat(16)));
    assert_eq!(
        (c.name.as_str(), c.extension.as_str()),
        ("invoice.pdf.exe", "exe")
    );
    let c = clean_filename(&format!("a....3.{}x.{}y", " ".repeat(20), " ".repeat(17)));
    assert_eq!((c.name.as_str(), c.extension.as_str()), ("a.3", "3"));
    assert_eq!(clean_filename(&c.name), c);
    let c = clean_filename(&format!("plain.{}junk", " ".repeat(16)));
    assert_eq!((c.name.as_str(), c.extension.as_str()), ("plain", ""));
}

#[test]
fn nothing_left_becomes_attachment() {
    assert_eq!(clean_filename("").name, "attachment");
    assert_eq!(clean_filename("\u{202E}\u{200F}").name, "attachment");
    assert_eq!(clean_filename("....").name, "attachment");
    assert_eq!(clean_filename(".exe").name, "exe");
}

#[test]
fn shell_and_windows_metacharacters_are_replaced() {
    assert_eq!(
        clean_filename("a:b*c?d\"e<f>g|h.txt").name,
        "a_b_c_d_e_f_g_h.txt"
    );
}

#[test]
fn cleaning_is_stable() {
    for raw in [
        "evil\u{202E}gpj.exe",
        "../../etc/passwd",
        "CON.txt",
        "a\0b",
        "x. .",
        "ok.pdf",
    ] {
        let once = clean_filename(raw).name;
        assert_eq!(clean_filename(&once).name, once);
    }
}

proptest::proptest! {
    #[test]
    // Names of dots, spaces and a little else reach the cases where an extension is cut to
    // nothing, which arbitrary text almost never does.
    fn any_name_cleans_to_a_short_stable_safe_name(raw in "(?s).{0,300}|([a3.]{0,4} {0,20}){0,8}|(CON|com1|Lpt9)[ .]{0,130}[a.]{0,3}") {
        let c = clean_filename(&raw);
        proptest::prop_assert!(!c.name.is_empty());
        proptest::prop_assert!(c.name.chars().count() <= pop3_mime::MAX_FILENAME_CHARS);
        proptest::prop_assert!(!c.name.chars().any(|ch| pop3_proto::text::is_unsafe(ch) || ch == '/' || ch == '\\'));
        proptest::prop_assert!(!c.name.starts_with('.') && !c.name.ends_with('.') && !c.name.ends_with(' '));
        proptest::prop_assert_eq!(&clean_filename(&c.name), &c);
    }
}
