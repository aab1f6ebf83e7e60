"""Line charts as PNG files with the standard library only (zlib + struct): no matplotlib to install.

Enough for a load-test report: axes, horizontal grid lines labelled with numbers (a 3×5 pixel font,
scaled), one polyline per series. Titles, units and the legend are written by the HTML page around it.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

Color = tuple[int, int, int]
PALETTE: tuple[Color, ...] = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189))
# 3×5 glyphs, one string of 15 bits per character, row by row.
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "k": "100101110101101", " ": "000000000000000",
}  # fmt: skip


class Canvas:
    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def dot(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i : i + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, thick: int = 1) -> None:
        """Bresenham's line, `thick` pixels high."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        while True:
            for t in range(thick):
                self.dot(x0, y0 + t, color)
            if x0 == x1 and y0 == y1:
                return
            double = 2 * error
            if double >= dy:
                error += dy
                x0 += sx
            if double <= dx:
                error += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, color: Color = (60, 60, 60), scale: int = 2) -> None:
        for n, char in enumerate(text):
            bits = _FONT.get(char, _FONT[" "])
            for i, bit in enumerate(bits):
                if bit == "1":
                    for sx in range(scale):
                        for sy in range(scale):
                            self.dot(
                                x + n * 4 * scale + (i % 3) * scale + sx, y + (i // 3) * scale + sy, color
                            )

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.pixels[3 * y * self.width : 3 * (y + 1) * self.width])
            for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def nice_step(span: float, ticks: int = 5) -> float:
    """A round grid step (1, 2 or 5 × 10^n) giving about `ticks` lines over span."""
    raw = max(span, 1e-9) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)


def _label(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:.6g}" if value == int(value) else f"{value:.2f}".rstrip("0")


def line_chart(
    series: Sequence[Sequence[tuple[float, float]]], path: Path, width: int = 720, height: int = 260
) -> None:
    """Writes series of (x, y) points as a PNG line chart (y from 0); colours follow PALETTE."""
    canvas = Canvas(width, height)
    left, right, top, bottom = 64, 12, 10, 24
    points = [p for s in series for p in s]
    x_min = min((x for x, _ in points), default=0.0)
    x_max = max((x for x, _ in points), default=1.0)
    step = nice_step(max((y for _, y in points), default=1.0))
    y_max = step * math.ceil(max((y for _, y in points), default=1.0) / step) or step

    def px(x: float, y: float) -> tuple[int, int]:
        fx = (x - x_min) / ((x_max - x_min) or 1.0)
        return left + round(fx * (width - left - right)), height - bottom - round(
            y / y_max * (height - top - bottom)
        )

    grid = 0.0
    while grid <= y_max + step / 2:
        _, gy = px(x_min, grid)
        canvas.line(left, gy, width - right, gy, (225, 225, 225))
        canvas.text(4, gy - 5, _label(grid))
        grid += step
    canvas.line(left, top, left, height - bottom, (90, 90, 90))
    canvas.line(left, height - bottom, width - right, height - bottom, (90, 90, 90))
    for x in (x_min, (x_min + x_max) / 2, x_max):
        gx, _ = px(x, 0)
        canvas.text(max(left, gx - 12), height - bottom + 7, _label(round(x)))
    for n, serie in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        for (xa, ya), (xb, yb) in itertools.pairwise(serie):
            canvas.line(*px(xa, ya), *px(xb, yb), color, thick=2)
    path.write_bytes(canvas.png())
