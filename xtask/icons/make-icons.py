#!/usr/bin/env python3
"""Draws web/icons/*.png (the web app manifest's icons) with the standard library only, so the
same bytes come out on every machine: an envelope on a blue square, 4x4 supersampled.

  python3 make-icons.py web/icons

icon-192.png, icon-512.png: "any" icons, a rounded square with transparent corners.
icon-maskable-512.png: "maskable", full bleed; the envelope stays inside the 80 % safe circle.
"""
import struct
import sys
import zlib
from pathlib import Path

BLUE = (0x2f, 0x5f, 0xb3)
WHITE = (0xff, 0xff, 0xff)


def inside_rounded(x, y, x0, y0, x1, y1, r):
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def dist_to_segment(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    qx, qy = ax + t * dx, ay + t * dy
    return ((px - qx) ** 2 + (py - qy) ** 2) ** 0.5


def sample(u, v, maskable):
    """Colour (r, g, b, a) at (u, v) in the unit square."""
    if maskable:
        bg = True
        scale = 0.62  # envelope width: inside the 80 % safe circle
    else:
        bg = inside_rounded(u, v, 0.0, 0.0, 1.0, 1.0, 0.18)
        scale = 0.74
    if not bg:
        return (0, 0, 0, 0)
    w, h = scale, scale * 0.68
    x0, y0 = 0.5 - w / 2, 0.5 - h / 2
    x1, y1 = x0 + w, y0 + h
    line = scale * 0.06
    if inside_rounded(u, v, x0, y0, x1, y1, scale * 0.06):
        # The flap: a V from the top corners to the middle, drawn in the background colour.
        mx, my = 0.5, y0 + h * 0.58
        if (dist_to_segment(u, v, x0, y0, mx, my) < line / 2
                or dist_to_segment(u, v, x1, y0, mx, my) < line / 2):
            return BLUE + (255,)
        return WHITE + (255,)
    return BLUE + (255,)


def draw(size, maskable, ss=4):
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            acc = [0, 0, 0, 0]
            for j in range(ss):
                for i in range(ss):
                    c = sample((x + (i + 0.5) / ss) / size, (y + (j + 0.5) / ss) / size, maskable)
                    a = c[3]
                    acc[0] += c[0] * a
                    acc[1] += c[1] * a
                    acc[2] += c[2] * a
                    acc[3] += a
            n = ss * ss
            a = acc[3]
            if a == 0:
                row += bytes(4)
            else:
                row += bytes([round(acc[0] / a), round(acc[1] / a), round(acc[2] / a), round(a / n)])
        rows.append(bytes(row))
    return png(size, size, b"".join(rows))


def png(w, h, raw):
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "web/icons")
    out.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in [("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("icon-maskable-512.png", 512, True)]:
        (out / name).write_bytes(draw(size, maskable))
        print(out / name)


if __name__ == "__main__":
    main()
