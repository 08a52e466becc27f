//! The `pop3-bridge.v1` wire protocol (see docs/bridge-protocol.md): one JSON request from
//! the client, one JSON answer from the bridge, then binary frames carrying POP3 bytes.
//!
//! The types are defined once, in the `pop3-bridge-protocol` crate, which the browser client
//! (`pop3-web`) reads them with too; this module only re-exports them.

pub use pop3_bridge_protocol::{
    ConnectErr, ConnectOk, ConnectRequest, ErrorCode, SUBPROTOCOL, Security, TlsInfo, WS_PATH,
};
