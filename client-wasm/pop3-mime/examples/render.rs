//! Prints what the UI would get for a message: `cargo run -p pop3-mime --example render -- FILE.eml [--remote]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: render FILE.eml [--remote]");
        std::process::exit(2);
    };
    let allow_remote = args.next().as_deref() == Some("--remote");
    let raw = match std::fs::read(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let limits = pop3_mime::Limits::default();
    match pop3_mime::parse_message(&raw, &limits) {
        Ok(view) => println!("{view:#?}"),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
    let opts = pop3_mime::SanitizeOptions { allow_remote };
    if let Ok(r) = pop3_mime::render_html(&raw, opts, &limits) {
        println!("--- html ({} remote blocked)\n{}", r.remote_blocked, r.html);
    }
}
