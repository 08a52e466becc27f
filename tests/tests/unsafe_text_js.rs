//! The JavaScript side of the one rule of unsafe characters: node runs what web/ uses —
//! web/file-name.js (message-view.js's file-name cleaning, backed by the reading module's wasm
//! `cleanFilename`) and the client module's wasm `summarizeHeaders` / `displayName` (header
//! display for the list) — against the vectors the Rust tests read,
//! client-wasm/pop3-proto/tests/unsafe_text_vectors.json.
//!
//! Needs `node` and web/pkg (`cargo xtask build-web`, which `cargo xtask test` runs first).

/// Loads both wasm modules with `initSync` (no fetch in node), then checks every vector.
const SCRIPT: &str = r#"
const files = await import(at('web/file-name.js'));
const v = JSON.parse(readFileSync(`${root}/client-wasm/pop3-proto/tests/unsafe_text_vectors.json`, 'utf8'));

const failures = [];
let checked = 0;
const expect = (what, got, want) => {
  checked++;
  if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({ what, got, want });
};
const hex = (s) => [...s].map((c) => 'U+' + c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')).join(' ');
const headers = (text) => client.summarizeHeaders(new TextEncoder().encode(text));
const encoded = (s) => `=?utf-8?b?${Buffer.from(s, 'utf8').toString('base64')}?=`;

// File names: the cleaner message-view.js uses, with the wasm one behind it.
expect('no cleaner yet: no sender name is used', files.cleanFilename('evil\u202egpj.exe'), { name: 'attachment', extension: '' });
for (const e of v.filenames) {
  expect(`cleanFilename ${JSON.stringify(e.input)}`, files.cleanFilename(e.input, mime), { name: e.name, extension: e.extension });
}
files.useFilenameCleaner(mime);
expect('the registered cleaner is the default', files.cleanFilename('evil\u202egpj.exe'), { name: 'evilgpj.exe', extension: 'exe' });
expect('a throwing cleaner gives the fallback', files.cleanFilename('x', { cleanFilename() { throw new Error('x'); } }), { name: 'attachment', extension: '' });

// Every character class, inside an encoded word of a Subject shown in the list.
for (const e of v.classes) {
  const want = e.class === 'safe' ? `a${e.char}b` : e.class === 'control' ? 'a b' : 'ab';
  expect(`class of ${hex(e.char)} (${e.why})`, headers(`Subject: ${encoded(`a${e.char}b`)}\r\n\r\n`).subject, want);
}
// Sample texts: a Subject is one display line.
for (const e of v.text) {
  expect(`display line of ${hex(e.input)}`, headers(`Subject: ${encoded(e.input)}\r\n\r\n`).subject, e.line);
}
// Whole header sections.
for (const e of v.headers) {
  const s = headers(e.input);
  expect(`${e.why}: subject`, s.subject, e.subject);
  expect(`${e.why}: from`, s.from, e.from);
  expect(`${e.why}: displayName`, client.displayName(s.from), e.displayName);
}
// The shape web/mime.js's summarizeHeaders had, and the TextDecoder charset hook.
const s = headers('From: A <a@x>\r\nTo: b@x\r\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\n\r\nbody');
expect('iso-2022-jp through TextDecoder', s.subject, 'テスト');
expect('shape', [s.from, s.to, s.dateText, s.date instanceof Date, s.date?.getTime(), s.dateMs], ['A <a@x>', 'b@x', 'Thu, 26 Nov 2026 10:00:00 +0100', true, 1795683600000, 1795683600000]);
expect('no date', [headers('Date: nonsense\r\n\r\n').date, headers('\r\n').from], [null, '']);

console.log(JSON.stringify({ checked, failures }, null, 1));
process.exit(failures.length ? 1 : 0);
"#;

#[test]
fn js_file_names_and_header_text_follow_the_shared_vectors() {
    let r = e2e::node_module::run(
        &format!("{}{SCRIPT}", e2e::node_module::BOTH_WASM),
        &["pop3_web_bg.wasm", "pop3_mime_web_bg.wasm"],
    );
    let (stdout, stderr) = (&r.stdout, &r.stderr);
    assert!(
        r.ok,
        "JavaScript disagrees with the shared vectors:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"failures\": []"), "{stdout}\n{stderr}");
}
