"""Documents and notifications that must never bring the index worker down (tests/faults)."""

from __future__ import annotations

import io
import zipfile
import zlib


def _laugh(n: int) -> bytes:
    """<!ENTITY lolN "&lol(N-1);…"> with ten references: each level ten times the previous one."""
    previous = b"lol" if n == 1 else b"lol%d" % (n - 1)
    return b'<!ENTITY lol%d "' % n + (b"&" + previous + b";") * 10 + b'">'


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(_laugh(n) for n in range(1, 10))
    + b']>\n<Publication ID="F1">&lol9;</Publication>'
)


def zip_bomb(expanded: int) -> bytes:
    """One member of `expanded` zero bytes, deflated to about a thousandth of that."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("fiches/F1.xml", b"\0" * expanded)
    return buffer.getvalue()


def pdf_bomb(expanded: int) -> bytes:
    """A one-page PDF whose content stream inflates to `expanded` bytes (a "deflate bomb")."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (bombe) Tj ET\n" + b" " * expanded, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
