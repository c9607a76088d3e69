"""Bounded gunzip of an uploaded batch."""

from __future__ import annotations

import zlib

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class DecompressError(ValueError):
    """The body is not a complete gzip stream, or inflates past the cap."""


def gunzip(data: bytes, max_size: int) -> bytes:
    """Decompress every gzip member of ``data``, refusing output beyond ``max_size`` bytes.

    Raises DecompressError for an empty body, bad magic, corrupt or truncated
    data, trailing garbage, or output over the cap.
    """
    if not data:
        raise DecompressError("the body is empty, not gzip data")
    output = bytearray()
    remaining = data
    while remaining:
        if not remaining.startswith(_GZIP_MAGIC):
            if output and not remaining.strip(b"\x00"):
                break  # zero padding after the last member, as some writers add
            raise DecompressError("the body is not gzip data (bad magic bytes)")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = remaining
        while True:
            try:
                chunk = inflater.decompress(pending, _CHUNK)
            except zlib.error as exc:
                raise DecompressError(f"corrupt gzip data: {exc}") from None
            output += chunk
            if len(output) > max_size:
                raise DecompressError(f"the batch inflates past the {max_size}-byte limit")
            pending = inflater.unconsumed_tail
            if inflater.eof or (not pending and not chunk):
                break
        if not inflater.eof:
            raise DecompressError("truncated gzip data (the stream ends early)")
        remaining = inflater.unused_data
    return bytes(output)
