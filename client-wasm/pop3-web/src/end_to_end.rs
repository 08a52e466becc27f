//! End-to-end TLS through the bridge's relay: the bridge connects and relays raw bytes, and TLS
//! to the mail server ends here, in the client, so the bridge never sees a password or a
//! message (docs/bridge-protocol.md, `end_to_end`).
//!
//! The TLS engine (rustls, crate `pop3-tls`) is a wasm module of its own, `pop3-tls-web`: it
//! is most of a TLS-capable client's size, and is fetched only when a connection needs it. The
//! JS API (web/pop3.js, and the npm package's runtime entries) installs a loader under
//! `Symbol.for('pop3-web.tls')`:
//!
//! ```text
//! loader() → Promise<factory | { worker: () => Worker, inThread: () => Promise<factory>, module? }>
//! factory(serverName, trust?) → TlsClient        // trust: { cas?: string[] (PEM), pins?: string[] }
//! client.process(received: Uint8Array[], send: Uint8Array, close: boolean)
//!   → { plaintext, outgoing, handshakeDone, info?, error? }
//! client.free()
//! ```
//!
//! Where the engine runs: in a browser page, in a dedicated worker of its own per connection
//! (web/tls-worker.js, `worker`), so that decrypting a large message runs beside the client's
//! own work instead of taking turns with it on the page's one thread (a 61 MB message through
//! Chromium: 48.5 MB/s with both on one thread). The worker loads the TLS module itself (or
//! from `module`, a compiled `WebAssembly.Module`); if it cannot start (a Content Security
//! Policy, say) or cannot run the module, the connection loads it here (`inThread`) and goes
//! on: nothing has been encrypted yet. Where there is no worker (Node, Deno, workerd) the
//! loader resolves to the factory itself. Either way the TLS behaviour is one call,
//! `TlsClient.process`, made the same way on both sides (web/tls-worker.js only carries
//! bytes); `session.tls.engine` says which one ran (`"worker"` or `"in-thread"`).
//!
//! Batches: bytes from the wire and bytes to send wait in a queue while a batch is with the
//! worker, and go as one batch when its result comes, so the number of messages between the
//! threads follows the worker's pace, not the WebSocket's (whose messages are small). Order is
//! kept: one batch at a time, results in order. Ciphertext from the WebSocket goes to the
//! worker without a copy (its buffer is transferred), plaintext comes back the same way.
//!
//! Errors are `{ code, detail }` with one of the API's codes (`cert_expired`,
//! `tls_handshake`, `bad_options`, …), thrown by the factory or in a result's `error`: the
//! certificate is judged by the same rules as the bridge's (one definition, in `pop3-tls`),
//! against the web PKI roots plus what the user or the page gave in `tlsTrust`. The bridge
//! cannot add trust in this mode.

use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use pop3_bridge_protocol::ErrorCode;
use pop3_bridge_protocol::api::Code;
use wasm_bindgen::prelude::*;
use web_sys::MessageEvent;

use crate::error::Pop3Error;
use crate::interop::TlsJs;
use crate::link::Link;

#[wasm_bindgen(inline_js = "export function tlsLoader() {
  const f = globalThis[Symbol.for('pop3-web.tls')];
  return typeof f === 'function' ? f : undefined;
}")]
extern "C" {
    #[wasm_bindgen(js_name = tlsLoader)]
    fn tls_loader() -> Option<Function>;
}

#[wasm_bindgen]
extern "C" {
    /// The TLS module's `TlsClient`, on this thread.
    pub(crate) type TlsEngine;
    #[wasm_bindgen(method, catch)]
    fn process(
        this: &TlsEngine,
        received: &Array,
        send: &[u8],
        close: bool,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn free(this: &TlsEngine) -> Result<(), JsValue>;

    /// A dedicated worker running web/tls-worker.js.
    type TlsWorker;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message(this: &TlsWorker, message: &JsValue, transfer: &Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, setter)]
    fn set_onmessage(this: &TlsWorker, f: Option<&Function>);
    #[wasm_bindgen(method, setter)]
    fn set_onerror(this: &TlsWorker, f: Option<&Function>);
    #[wasm_bindgen(method, setter)]
    fn set_onmessageerror(this: &TlsWorker, f: Option<&Function>);
    #[wasm_bindgen(method)]
    fn terminate(this: &TlsWorker);
}

/// The installed loader of the TLS module; `None` for a page that uses the wasm package
/// without web/pop3.js (or a runtime entry), which then cannot end TLS itself.
pub(crate) fn loader() -> Option<Function> {
    tls_loader()
}

/// Where a connection's engine can run: what the loader gave.
#[derive(Debug, Clone, Default)]
pub(crate) struct Engines {
    /// The engine factory on this thread, once loaded.
    pub factory: Option<Function>,
    /// Loads the module on this thread, resolving to the factory (the worker's fallback).
    pub in_thread: Option<Function>,
    /// Starts a TLS worker.
    worker: Option<Function>,
    /// The compiled module for the worker (else it fetches its own).
    module: JsValue,
}

/// Calls the loader (once per session; the page's loader caches the module) after the bridge
/// agreed to relay: a session whose TLS the bridge does never fetches the module. With a
/// worker to run the engine, the module is not loaded here at all.
pub(crate) async fn load(loader: Function) -> Result<Engines, Pop3Error> {
    let v = resolve(loader.call0(&JsValue::NULL)).await?;
    if v.is_function() {
        return Ok(Engines {
            factory: Some(v.unchecked_into()),
            ..Engines::default()
        });
    }
    let function = |key: &str| {
        Reflect::get(&v, &key.into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
    };
    let engines = Engines {
        factory: None,
        in_thread: function("inThread"),
        worker: function("worker"),
        module: Reflect::get(&v, &"module".into()).unwrap_or(JsValue::UNDEFINED),
    };
    match (&engines.worker, &engines.in_thread) {
        (Some(_), _) => Ok(engines),
        (None, Some(f)) => Ok(Engines {
            factory: Some(in_thread(f.clone()).await?),
            ..engines
        }),
        (None, None) => Err(Pop3Error::new(
            Code::BadOptions,
            "The TLS module's loader gave neither an engine factory nor a worker.",
        )),
    }
}

/// Loads the module on this thread: `in_thread()` resolves to the engine factory.
pub(crate) async fn in_thread(f: Function) -> Result<Function, Pop3Error> {
    resolve(f.call0(&JsValue::NULL))
        .await?
        .dyn_into::<Function>()
        .map_err(|_| {
            Pop3Error::new(
                Code::BadOptions,
                "The TLS module's loader did not give a factory function.",
            )
        })
}

async fn resolve(called: Result<JsValue, JsValue>) -> Result<JsValue, Pop3Error> {
    let p = match called {
        Ok(v) => Promise::resolve(&v),
        Err(e) => Promise::reject(&e),
    };
    wasm_bindgen_futures::JsFuture::from(p)
        .await
        .map_err(|e| load_error(&e))
}

fn load_error(e: &JsValue) -> Pop3Error {
    Pop3Error::new(
        Code::BadOptions,
        "The TLS module could not be loaded, so TLS cannot end in this client.",
    )
    .detail(message_of(e))
}

fn message_of(e: &JsValue) -> String {
    Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_default()
}

/// What the engine reported as an error, as an API error: its `code` when the API has it (the
/// certificate and TLS codes, `bad_options`), else `tls_handshake`.
fn engine_error(e: &JsValue) -> Pop3Error {
    let text = |k: &str| {
        Reflect::get(e, &k.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let (code, detail) = if e.is_object() {
        let d = text("detail");
        (text("code"), if d.is_empty() { text("message") } else { d })
    } else {
        (String::new(), e.as_string().unwrap_or_default())
    };
    let p = match Code::from_name(&code) {
        // The bridge's sentence points at its operator; here the trust is this client's.
        Some(c @ Code::Bridge(ErrorCode::CertUnknownIssuer)) => Pop3Error::new(
            c,
            "The mail server's certificate was issued by an authority this app does not trust \
             (self-signed?). Add the certificate's SHA-256 fingerprint to trust it, or its CA.",
        ),
        Some(c @ Code::Bridge(ec)) => Pop3Error::new(c, ec.message()),
        Some(Code::BadOptions) => Pop3Error::new(
            Code::BadOptions,
            "The TLS trust settings (tlsTrust) are not valid.",
        ),
        _ => Pop3Error::new(
            Code::Bridge(ErrorCode::TlsHandshake),
            ErrorCode::TlsHandshake.message(),
        ),
    };
    p.detail(detail)
}

/// What a worker reported, for the session to hand back to [`EndToEnd`].
#[derive(Debug)]
pub(crate) enum TlsEvent {
    /// A batch's result.
    Result(JsValue),
    /// The worker did not start, could not run the module, or stopped.
    Failed(String),
}

/// What the engine made of one batch.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Decrypted POP3 bytes for the core.
    pub plaintext: Vec<u8>,
    /// Ciphertext to send (the ClientHello, records, alerts, close_notify).
    pub outgoing: Vec<u8>,
    /// The handshake finished in this batch: `session.tls`.
    pub handshake_done: Option<TlsJs>,
    /// The connection failed, after the plaintext above.
    pub error: Option<Pop3Error>,
}

/// A worker, its handlers removed and the thread ended when dropped.
struct Worker {
    worker: TlsWorker,
    _onmessage: Closure<dyn FnMut(MessageEvent)>,
    _onerror: Closure<dyn FnMut(JsValue)>,
    /// Its first result (the start's) came: the module runs there.
    started: bool,
    /// Dropping it leaves the thread running (to say goodbye, [`EndToEnd::close`]).
    keep_thread: bool,
}

impl Worker {
    fn disarm(&self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.set_onmessageerror(None);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.disarm();
        if !self.keep_thread {
            self.worker.terminate();
        }
    }
}

enum Engine {
    Here(TlsEngine),
    Worker(Worker),
    /// The worker failed before it started: the module is loading on this thread.
    Waiting,
}

/// A running end-to-end TLS connection.
pub(crate) struct EndToEnd {
    engine: Engine,
    /// The name the user typed (SNI, certificate name) and `tlsTrust`, for a restart here.
    host: String,
    trust: JsValue,
    /// What waits for the next batch.
    received: Array,
    send: Vec<u8>,
    close: bool,
    /// A batch is with the worker.
    busy: bool,
    /// A worker that failed or was stopped, kept (its thread ended) because its handlers may
    /// be the very callback running now: a closure must not be freed while it runs.
    retired: Option<Worker>,
}

impl std::fmt::Debug for EndToEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndToEnd")
    }
}

/// What [`EndToEnd::worker_failed`] decided.
#[derive(Debug)]
pub(crate) enum Fallback {
    /// Restart here at once with the loaded factory.
    Now(Function),
    /// Load the module here first (`in_thread`), then [`EndToEnd::run_here`].
    Load(Function),
}

impl EndToEnd {
    /// Starts a TLS client for `host` (the name the user typed: SNI and certificate name) on
    /// a worker when there is one (its ClientHello comes as its first result, through `sink`),
    /// else here (the ClientHello is in the result returned).
    pub(crate) fn start(
        engines: &Engines,
        host: &str,
        trust: &JsValue,
        sink: impl Fn(TlsEvent) + 'static,
    ) -> Result<(EndToEnd, Option<Received>), Pop3Error> {
        let mut t = EndToEnd {
            engine: Engine::Waiting,
            host: host.to_owned(),
            trust: trust.clone(),
            received: Array::new(),
            send: Vec::new(),
            close: false,
            busy: false,
            retired: None,
        };
        if let Some(spawn) = &engines.worker
            && let Ok(w) = spawn.call0(&JsValue::NULL)
        {
            let w: TlsWorker = w.unchecked_into();
            let sink = Rc::new(sink);
            let s = sink.clone();
            let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let data = e.data();
                match Reflect::get(&data, &"unavailable".into()) {
                    Ok(reason) if !reason.is_undefined() => {
                        s(TlsEvent::Failed(reason.as_string().unwrap_or_default()))
                    }
                    _ => s(TlsEvent::Result(data)),
                }
            });
            let onerror = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                sink(TlsEvent::Failed(message_of(&e)))
            });
            w.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
            w.set_onerror(Some(onerror.as_ref().unchecked_ref()));
            w.set_onmessageerror(Some(onerror.as_ref().unchecked_ref()));
            let start = js_sys::Object::new();
            let _ = Reflect::set(&start, &"serverName".into(), &host.into());
            let _ = Reflect::set(&start, &"trust".into(), trust);
            let _ = Reflect::set(&start, &"module".into(), &engines.module);
            let message = js_sys::Object::new();
            let _ = Reflect::set(&message, &"start".into(), &start);
            let posted = w.post_message(&message, &Array::new());
            t.engine = Engine::Worker(Worker {
                worker: w,
                _onmessage: onmessage,
                _onerror: onerror,
                started: false,
                keep_thread: false,
            });
            t.busy = true;
            if posted.is_ok() {
                return Ok((t, None));
            }
            // The trust settings cannot be sent (not plain data): they are checked here.
            t.engine = Engine::Waiting;
            t.busy = false;
        }
        // No worker, or it could not even be created: this thread, once the module is here
        // (the caller loads it when `waiting()`).
        match (&engines.factory, &engines.in_thread) {
            (Some(f), _) => {
                let r = t.run_here(f)?;
                Ok((t, Some(r)))
            }
            (None, Some(_)) => Ok((t, None)),
            (None, None) => Err(Pop3Error::new(Code::Protocol, "No TLS engine to run.")),
        }
    }

    /// Whether the engine waits for the module to load on this thread (after [`EndToEnd::start`]
    /// could not create a worker, or [`EndToEnd::worker_failed`]).
    pub(crate) fn waiting(&self) -> bool {
        matches!(self.engine, Engine::Waiting)
    }

    /// Starts the engine on this thread with `factory`; the first result (the ClientHello,
    /// and whatever was queued meanwhile).
    pub(crate) fn run_here(&mut self, factory: &Function) -> Result<Received, Pop3Error> {
        let engine = factory
            .call2(&JsValue::NULL, &self.host.as_str().into(), &self.trust)
            .map_err(|e| engine_error(&e))?;
        self.engine = Engine::Here(engine.unchecked_into());
        self.busy = false;
        Ok(self.process_here())
    }

    /// The worker failed: before it started, the engine moves to this thread (nothing was
    /// encrypted yet); after, the connection fails.
    pub(crate) fn worker_failed(
        &mut self,
        reason: &str,
        engines: &Engines,
    ) -> Result<Fallback, Pop3Error> {
        let started = match &self.engine {
            Engine::Worker(w) => w.started,
            _ => return Err(Pop3Error::new(Code::Protocol, "No TLS worker to fail.")),
        };
        if started {
            return Err(Pop3Error::new(
                Code::Bridge(ErrorCode::TlsHandshake),
                ErrorCode::TlsHandshake.message(),
            )
            .detail(format!("the TLS worker stopped: {reason}")));
        }
        self.stop();
        match (&engines.factory, &engines.in_thread) {
            (Some(f), _) => Ok(Fallback::Now(f.clone())),
            (None, Some(l)) => Ok(Fallback::Load(l.clone())),
            (None, None) => Err(load_error(&reason.into())),
        }
    }

    /// Ends the worker's thread (the session is over, or the worker failed); the engine waits.
    pub(crate) fn stop(&mut self) {
        if let Engine::Worker(w) = std::mem::replace(&mut self.engine, Engine::Waiting) {
            w.disarm();
            w.worker.terminate();
            self.retired = Some(w);
        }
        self.busy = false;
    }

    /// Nothing waits and no batch is out: everything received has been handed on.
    pub(crate) fn idle(&self) -> bool {
        !self.busy && self.received.length() == 0
    }

    /// Bytes from the wire, queued for the next batch (see [`EndToEnd::flush`]).
    pub(crate) fn receive(&mut self, ciphertext: Uint8Array) {
        self.received.push(&ciphertext);
    }

    /// POP3 bytes to encrypt, queued for the next batch.
    pub(crate) fn send(&mut self, plaintext: &[u8]) {
        self.send.extend_from_slice(plaintext);
    }

    /// Runs the queue: here, at once (the result); on the worker, as one batch if none is
    /// there (its result comes through the sink). `None` when nothing ran here.
    pub(crate) fn flush(&mut self) -> Option<Received> {
        let queued = self.received.length() > 0 || !self.send.is_empty() || self.close;
        if !queued || self.busy {
            return None;
        }
        match &self.engine {
            Engine::Here(_) => Some(self.process_here()),
            Engine::Waiting => None,
            Engine::Worker(_) => {
                let (message, transfer) = self.batch(true);
                let Engine::Worker(w) = &self.engine else {
                    return None;
                };
                match w.worker.post_message(&message, &transfer) {
                    Ok(()) => {
                        self.busy = true;
                        None
                    }
                    Err(e) => Some(Received {
                        error: Some(engine_error(&e)),
                        ..Received::default()
                    }),
                }
            }
        }
    }

    /// The worker's result of the batch it had.
    pub(crate) fn result(&mut self, v: &JsValue) -> Received {
        self.busy = false;
        if let Engine::Worker(w) = &mut self.engine {
            w.started = true;
        }
        self.received_of(v, "worker")
    }

    /// The queue as a batch `{ received, send, close }`, emptied; with the buffers to
    /// transfer when it goes to the worker.
    fn batch(&mut self, transfer: bool) -> (JsValue, Array) {
        let received = std::mem::replace(&mut self.received, Array::new());
        let send = Uint8Array::from(&std::mem::take(&mut self.send)[..]);
        let close = std::mem::take(&mut self.close);
        let buffers = Array::new();
        if transfer {
            // Each chunk is a whole WebSocket message's buffer (link.rs): moved, not copied.
            for chunk in received.iter() {
                buffers.push(&chunk.unchecked_into::<Uint8Array>().buffer());
            }
            buffers.push(&send.buffer());
        }
        let message = js_sys::Object::new();
        let _ = Reflect::set(&message, &"received".into(), &received);
        let _ = Reflect::set(&message, &"send".into(), &send);
        let _ = Reflect::set(&message, &"close".into(), &close.into());
        (message.into(), buffers)
    }

    fn process_here(&mut self) -> Received {
        let Engine::Here(engine) = &self.engine else {
            return Received::default();
        };
        let received = std::mem::replace(&mut self.received, Array::new());
        let send = std::mem::take(&mut self.send);
        let close = std::mem::take(&mut self.close);
        match engine.process(&received, &send, close) {
            Ok(v) => self.received_of(&v, "in-thread"),
            Err(e) => Received {
                error: Some(engine_error(&e)),
                ..Received::default()
            },
        }
    }

    /// A result object `{ plaintext, outgoing, handshakeDone, info?, error? }`.
    fn received_of(&self, v: &JsValue, engine: &str) -> Received {
        let bytes = |k: &str| {
            Reflect::get(v, &k.into())
                .ok()
                .and_then(|b| b.dyn_into::<Uint8Array>().ok())
                .map(|b| b.to_vec())
                .unwrap_or_default()
        };
        let error = Reflect::get(v, &"error".into())
            .ok()
            .filter(|e| !e.is_undefined())
            .map(|e| engine_error(&e));
        let done = Reflect::get(v, &"handshakeDone".into())
            .ok()
            .and_then(|b| b.as_bool())
            .unwrap_or(false);
        let handshake_done = done.then(|| {
            let info = Reflect::get(v, &"info".into()).unwrap_or(JsValue::UNDEFINED);
            let mut t = crate::session::tls_of(&info, &self.host);
            // The engine reports `verified` itself; absent means it did not say, so not verified.
            t.verified = Reflect::get(&info, &"verified".into())
                .ok()
                .and_then(|b| b.as_bool())
                .unwrap_or(false);
            t.pin_matched = Reflect::get(&info, &"pinMatched".into())
                .ok()
                .and_then(|b| b.as_bool());
            t.engine = Some(engine.to_owned());
            t
        });
        Received {
            plaintext: bytes("plaintext"),
            outgoing: bytes("outgoing"),
            handshake_done,
            error,
        }
    }

    /// Says goodbye (close_notify), then lets `link` go: at once when the engine runs here;
    /// when the worker's answer comes otherwise, the link staying open until then so the
    /// alert can still be sent (best effort: a worker that never answers keeps it open).
    pub(crate) fn close(mut self, link: Option<Link>) {
        self.close = true;
        let engine = std::mem::replace(&mut self.engine, Engine::Waiting);
        match engine {
            Engine::Here(e) => {
                self.engine = Engine::Here(e);
                let r = self.process_here();
                if let Some(l) = &link {
                    let _ = l.send_bytes(&r.outgoing);
                }
            }
            Engine::Worker(mut w) if w.started => {
                let worker = w.worker.clone().unchecked_into::<TlsWorker>();
                // The worker's handlers go; the thread itself ends in the last answer below.
                w.keep_thread = true;
                drop(w);
                let mut left = 1 + u32::from(self.busy);
                let mut link = link;
                let w2 = worker.clone().unchecked_into::<TlsWorker>();
                let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                    let out = Reflect::get(&e.data(), &"outgoing".into())
                        .ok()
                        .and_then(|b| b.dyn_into::<Uint8Array>().ok());
                    if let (Some(l), Some(out)) = (&link, out) {
                        let _ = l.send_bytes(&out.to_vec());
                    }
                    left = left.saturating_sub(1);
                    if left == 0 {
                        link = None;
                        w2.terminate();
                    }
                })
                // Freed with the JS function, once the worker has gone.
                .into_js_value();
                worker.set_onmessage(Some(handler.unchecked_ref()));
                let (message, transfer) = self.batch(true);
                if worker.post_message(&message, &transfer).is_err() {
                    worker.terminate();
                }
            }
            // Not started (or not yet here): nothing was encrypted, nothing to say.
            Engine::Worker(_) | Engine::Waiting => {}
        }
    }
}

impl Drop for EndToEnd {
    fn drop(&mut self) {
        // The engine lives in the other module's memory: free it now, not when JS collects it.
        if let Engine::Here(e) = &self.engine {
            let _ = e.free();
        }
    }
}
