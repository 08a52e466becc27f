//! The WebSocket to the bridge. It owns its callbacks and removes them when dropped, so a
//! session that ends leaves nothing behind (unlike `Closure::forget`, which leaks per socket).

use js_sys::{ArrayBuffer, Uint8Array};
use pop3_bridge_protocol::SUBPROTOCOL;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

// The socket comes from a factory a runtime may install under a registered symbol (the npm
// package's Node, Deno and workerd entries do: Node 20 has no global WebSocket, and none of the
// three sends an `Origin`, which the bridge requires); browsers use the global WebSocket. A
// symbol, not a replaced global, so the host's own WebSocket stays untouched.
#[wasm_bindgen(inline_js = "export function openSocket(url, protocol) {
  const factory = globalThis[Symbol.for('pop3-web.WebSocket')];
  return typeof factory === 'function' ? factory(url, protocol) : new WebSocket(url, protocol);
}")]
extern "C" {
    #[wasm_bindgen(js_name = openSocket, catch)]
    fn open_socket(url: &str, protocol: &str) -> Result<WebSocket, JsValue>;
}

/// What the socket reported.
pub(crate) enum LinkEvent {
    Open,
    Text(String),
    /// One message, as the socket's own buffer: TLS in this client hands it to its worker
    /// without a copy (end_to_end.rs); everything else copies it into wasm memory.
    Binary(Uint8Array),
    Closed {
        code: u16,
        reason: String,
    },
}

pub(crate) struct Link {
    ws: WebSocket,
    _onopen: Closure<dyn FnMut(Event)>,
    _onmessage: Closure<dyn FnMut(MessageEvent)>,
    _onclose: Closure<dyn FnMut(CloseEvent)>,
}

impl Link {
    /// Opens the socket; `sink` receives every event, in order.
    pub(crate) fn open(url: &str, sink: impl FnMut(LinkEvent) + 'static) -> Result<Link, JsValue> {
        let ws = open_socket(url, SUBPROTOCOL)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let sink = Rc::new(RefCell::new(sink));
        let s = sink.clone();
        let onopen = Closure::<dyn FnMut(Event)>::new(move |_| (s.borrow_mut())(LinkEvent::Open));
        let s = sink.clone();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let ev = if let Some(text) = data.as_string() {
                LinkEvent::Text(text)
            } else if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
                LinkEvent::Binary(Uint8Array::new(buf))
            } else {
                return;
            };
            (s.borrow_mut())(ev);
        });
        let s = sink;
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            (s.borrow_mut())(LinkEvent::Closed {
                code: e.code(),
                reason: e.reason(),
            })
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        Ok(Link {
            ws,
            _onopen: onopen,
            _onmessage: onmessage,
            _onclose: onclose,
        })
    }

    pub(crate) fn send_text(&self, s: &str) -> Result<(), JsValue> {
        self.ws.send_with_str(s)
    }

    pub(crate) fn send_bytes(&self, b: &[u8]) -> Result<(), JsValue> {
        self.ws.send_with_u8_array(b)
    }

    /// Bytes queued in the browser but not yet sent.
    pub(crate) fn buffered(&self) -> u32 {
        self.ws.buffered_amount()
    }

    pub(crate) fn close(&self) {
        let _ = self.ws.close_with_code(1000);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close_with_code(1000);
    }
}
