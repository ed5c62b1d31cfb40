"""Encrypted streams (VER-4) for files too large to encrypt in one piece, such as data exports.

A stream is ``MAGIC`` followed by frames: a 4-byte big-endian length, then a Fernet token (with
the same keys as everything else) of ``index (8 bytes) | last (1 byte) | up to CHUNK bytes``.
Each frame is authenticated and numbered, and the last one says so, so a frame that is altered,
reordered, repeated or cut off makes reading fail instead of returning wrong data. Writing and
reading hold one chunk in memory, whatever the size of the stream.
"""

import struct

from . import keys

MAGIC = b"PPXS1\n"
CHUNK = 1024 * 1024
_LENGTH = struct.Struct(">I")
_HEADER = struct.Struct(">QB")


class EncryptingWriter:
    """A write-only binary file that encrypts into ``raw`` as it goes (``zipfile`` can write to
    it: it reports ``tell()`` and cannot seek)."""

    def __init__(self, raw, chunk_size: int = CHUNK):
        self.raw = raw
        self.chunk_size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self._written = 0
        self.closed = False
        raw.write(MAGIC)

    def writable(self):
        return True

    def seekable(self):
        return False

    def tell(self):
        return self._written

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("write to a closed stream")
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) >= self.chunk_size:
            self._frame(bytes(self._buffer[: self.chunk_size]), last=False)
            del self._buffer[: self.chunk_size]
        return len(data)

    def flush(self):
        pass

    def _frame(self, chunk: bytes, last: bool):
        token = keys.encrypt(_HEADER.pack(self._index, 1 if last else 0) + chunk)
        self.raw.write(_LENGTH.pack(len(token)) + token)
        self._index += 1

    def close(self):
        """Write the last frame. The caller closes ``raw``."""
        if not self.closed:
            self._frame(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_exactly(raw, n: int) -> bytes:
    data = raw.read(n)
    if len(data) != n:
        raise keys.DecryptionError("The encrypted stream is cut off.")
    return data


def decrypted_chunks(raw):
    """Yield the plaintext of an encrypted stream, chunk by chunk; raise DecryptionError if
    anything about it is wrong."""
    if raw.read(len(MAGIC)) != MAGIC:
        raise keys.DecryptionError("Not an encrypted stream.")
    expected = 0
    while True:
        (length,) = _LENGTH.unpack(_read_exactly(raw, _LENGTH.size))
        plain = keys.decrypt(_read_exactly(raw, length))
        index, last = _HEADER.unpack_from(plain)
        if index != expected:
            raise keys.DecryptionError("The encrypted stream's frames are out of order.")
        expected += 1
        chunk = plain[_HEADER.size :]
        if chunk:
            yield chunk
        if last:
            if raw.read(1):
                raise keys.DecryptionError("The encrypted stream goes on after its end.")
            return
