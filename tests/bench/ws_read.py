#!/usr/bin/env python3
"""The Python reading client of `bridge-bench throughput --client python`.

Reads one stream to its end and prints `<payload bytes> <seconds>`, timed from before the
TCP connect to the last byte (interpreter start-up is not counted). Standard library only.

    ws_read.py direct     HOST PORT              plain TCP: recv() until EOF
    ws_read.py bridge     HOST PORT SOURCE_PORT  pop3-bridge: /pop3, subprotocol
                                                 pop3-bridge.v1, connect request for
                                                 127.0.0.1:SOURCE_PORT (security plain)
    ws_read.py websockify HOST PORT              websockify: subprotocol binary

All three modes receive with the same call, `recv_into` of a 256 KiB buffer (the bridge's own
read size). The WebSocket modes parse frame headers in that buffer and count binary payload
bytes without copying them, so the client does the same per-byte work on every path.
"""

import base64
import hashlib
import json
import os
import socket
import sys
import time

CHUNK = 256 * 1024
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE = 0x0, 0x1, 0x2, 0x8


class Conn:
    """A socket with a receive buffer: small reads (headers) and zero-copy skips (payload)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray(CHUNK)
        self.view = memoryview(self.buf)
        self.start = 0  # first unread byte in buf
        self.end = 0  # end of received bytes in buf

    def _fill(self):
        """Moves the unread bytes (a partial header at most) to the front, receives after them."""
        if self.start:
            left = self.end - self.start
            self.buf[:left] = self.buf[self.start : self.end]
            self.start, self.end = 0, left
        if self.end == CHUNK:
            raise ValueError("header larger than the receive buffer")
        got = self.sock.recv_into(self.view[self.end :])
        self.end += got
        return got > 0

    def read_exact(self, n):
        while self.end - self.start < n:
            if not self._fill():
                raise EOFError("stream ended inside a frame header")
        data = bytes(self.view[self.start : self.start + n])
        self.start += n
        return data

    def read_until(self, marker):
        while True:
            at = self.buf.find(marker, self.start, self.end)
            if at >= 0:
                return self.read_exact(at + len(marker) - self.start)
            if not self._fill():
                raise EOFError("stream ended before " + repr(marker))

    def skip(self, n):
        """Consumes up to n bytes without copying them; returns how many arrived before EOF."""
        done = 0
        while True:
            take = min(n - done, self.end - self.start)
            self.start += take
            done += take
            if done == n:
                return done
            self.start = self.end = 0  # buffer drained: the next receive fills all of it
            if not self._fill():
                return done


def send_frame(sock, opcode, payload):
    """One masked, unfragmented client frame (payloads here are < 126 bytes)."""
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


def read_frame_header(conn):
    """Returns (opcode, payload length) of the next server frame."""
    b0, b1 = conn.read_exact(2)
    if b1 & 0x80:
        raise ValueError("server frames must not be masked")
    length = b1 & 0x7F
    if length == 126:
        length = int.from_bytes(conn.read_exact(2), "big")
    elif length == 127:
        length = int.from_bytes(conn.read_exact(8), "big")
    return b0 & 0x0F, length


def ws_upgrade(conn, host, port, path, protocol, origin):
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {protocol}\r\n"
    )
    if origin:
        request += f"Origin: {origin}\r\n"
    conn.sock.sendall((request + "\r\n").encode())
    head = conn.read_until(b"\r\n\r\n").decode("latin-1")
    status, *lines = head.split("\r\n")
    if " 101 " not in status + " ":
        raise ValueError("upgrade refused: " + status)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != accept:
        raise ValueError("wrong Sec-WebSocket-Accept")
    if headers.get("sec-websocket-protocol") != protocol:
        raise ValueError("subprotocol not echoed")


def bridge_connect(conn, source_port):
    """The bridge protocol's connect request and its answer (docs/bridge-protocol.md §2-3)."""
    request = {"host": "127.0.0.1", "port": source_port, "security": "plain"}
    send_frame(conn.sock, OP_TEXT, json.dumps(request).encode())
    opcode, length = read_frame_header(conn)
    answer = conn.read_exact(length)
    if opcode != OP_TEXT or not json.loads(answer).get("ok"):
        raise ValueError("bridge refused: " + answer.decode("utf-8", "replace"))


def count_binary_payload(conn):
    """Counts binary payload bytes until the server's close frame or EOF."""
    total = 0
    while True:
        try:
            opcode, length = read_frame_header(conn)
        except EOFError:
            return total  # no close frame: the caller compares the count
        if opcode == OP_CLOSE:
            try:
                send_frame(conn.sock, OP_CLOSE, b"")
            except OSError:
                pass
            return total
        got = conn.skip(length)
        if opcode in (OP_BINARY, OP_CONT):
            total += got
        if got < length:
            return total


def read_direct(sock):
    view = memoryview(bytearray(CHUNK))
    total = 0
    while True:
        n = sock.recv_into(view)
        if n == 0:
            return total
        total += n


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    started = time.perf_counter()
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "direct":
        total = read_direct(sock)
    else:
        conn = Conn(sock)
        if mode == "bridge":
            ws_upgrade(conn, host, port, "/pop3", "pop3-bridge.v1", f"http://{host}:{port}")
            bridge_connect(conn, int(sys.argv[4]))
        elif mode == "websockify":
            ws_upgrade(conn, host, port, "/", "binary", None)
        else:
            sys.exit("unknown mode " + mode)
        total = count_binary_payload(conn)
    elapsed = time.perf_counter() - started
    sock.close()
    print(total, f"{elapsed:.6f}")


if __name__ == "__main__":
    main()
