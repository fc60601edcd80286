"""Teaclave's file schemas: ``teaclave-file-128``, ``aes-gcm-128``, ``aes-gcm-256``.

* ``teaclave-file-128``: an SGX protected file (:mod:`._protected_fs`) under a
  16-byte key; its tag is the metadata node's GMAC.
* ``aes-gcm-128`` / ``aes-gcm-256``: the whole plaintext encrypted with
  AES-GCM under a 16- or 32-byte key and a 12-byte IV given separately (not
  stored in the file), with 8 zero bytes as additional authenticated data;
  the file is ``ciphertext || tag``, the tag its last 16 bytes.  Teaclave
  refuses such a file unless it holds at least one byte of plaintext.

:class:`ProtectedFile` describes one file; :func:`plaintext_reader`,
:func:`create_writer`, :func:`verify` and :func:`convert` work on it with
bounded memory (AES-GCM files are authenticated by a first pass before any
plaintext is released).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ._protected_fs import (
    TAG_SIZE,
    ProtectedFileError,
    ProtectedFileReader,
    ProtectedFileWriter,
    check_key,
)

TEACLAVE_FILE_128 = "teaclave-file-128"
AES_GCM_128 = "aes-gcm-128"
AES_GCM_256 = "aes-gcm-256"
FORMATS = (TEACLAVE_FILE_128, AES_GCM_128, AES_GCM_256)
KEY_SIZES = {TEACLAVE_FILE_128: 16, AES_GCM_128: 16, AES_GCM_256: 32}
IV_SIZE = 12
_AAD = bytes(8)
_CHUNK = 64 * 1024


def _as_bytes(value: bytes | bytearray | memoryview | str | None, what: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"the {what} is not valid hex: {value!r}") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"the {what} must be bytes or a hex string, not {type(value).__name__}")


@dataclass(frozen=True)
class ProtectedFile:
    """An encrypted file in one of Teaclave's schemas.

    ``key`` (and ``iv`` for AES-GCM) may be bytes or hex strings.  For an
    input, ``tag`` is the expected authentication tag (Teaclave's ``cmac``):
    a file whose tag differs is refused; ``None`` accepts any tag that
    authenticates under the key.  For an output, ``tag`` is ignored: the
    result reports the new file's tag.
    """

    path: str | os.PathLike[str]
    key: bytes | str
    format: str = TEACLAVE_FILE_128
    iv: bytes | str | None = None
    tag: bytes | str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown file format {self.format!r}; choose one of: "
                             f"{', '.join(FORMATS)}")
        if not isinstance(self.path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or path, not {type(self.path).__name__}")
        object.__setattr__(self, "path", os.fspath(self.path))
        key = check_key(_as_bytes(self.key, "key") or b"", KEY_SIZES[self.format])
        object.__setattr__(self, "key", key)
        iv = _as_bytes(self.iv, "iv")
        if self.format == TEACLAVE_FILE_128:
            if iv:
                raise ValueError("teaclave-file-128 takes no IV")
            iv = None
        elif iv is None or len(iv) != IV_SIZE:
            raise ValueError(f"{self.format} needs a {IV_SIZE}-byte IV")
        object.__setattr__(self, "iv", iv)
        tag = _as_bytes(self.tag, "tag")
        if tag is not None and len(tag) != TAG_SIZE:
            raise ValueError(f"a tag is {TAG_SIZE} bytes, got {len(tag)}")
        object.__setattr__(self, "tag", tag)

    @property
    def key_bytes(self) -> bytes:
        assert isinstance(self.key, bytes)
        return self.key

    @property
    def tag_bytes(self) -> bytes | None:
        assert self.tag is None or isinstance(self.tag, bytes)
        return self.tag

    @property
    def fspath(self) -> str:
        assert isinstance(self.path, str)
        return self.path

    def __repr__(self) -> str:  # never print key material
        tag = self.tag.hex() if isinstance(self.tag, bytes) else None
        return f"ProtectedFile(path={self.path!r}, format={self.format!r}, tag={tag!r})"


class PlaintextWriter(Protocol):
    def write(self, data: bytes | bytearray | memoryview) -> int: ...
    def finish(self) -> bytes: ...
    def abort(self) -> None: ...


class _GcmReader(io.RawIOBase):
    """Plaintext of an AES-GCM file, authenticated by a first pass on open."""

    def __init__(self, spec: ProtectedFile) -> None:
        super().__init__()
        self._spec = spec
        self._file: BinaryIO = open(spec.fspath, "rb")  # noqa: SIM115 (closed in close())
        try:
            length = os.fstat(self._file.fileno()).st_size
            if length <= TAG_SIZE:
                raise ProtectedFileError(f"Corrupted input file: an {spec.format} file holds at "
                                         f"least one byte and a {TAG_SIZE}-byte tag ({length} "
                                         "bytes)")
            self.size = length - TAG_SIZE
            self._file.seek(self.size)
            self.tag = self._file.read(TAG_SIZE)
            if spec.tag_bytes is not None and spec.tag_bytes != self.tag:
                raise ProtectedFileError(f"Corrupted input file: its tag {self.tag.hex()} is not "
                                         f"the expected {spec.tag_bytes.hex()}")
            for _ in self._decrypted():  # authenticate everything before releasing any of it
                pass
            self._chunks = self._decrypted()
            self._pending = b""
        except BaseException:
            self._file.close()
            raise

    def _decrypted(self) -> Iterator[bytes]:
        assert self._spec.iv is not None and isinstance(self._spec.iv, bytes)
        decryptor = Cipher(algorithms.AES(self._spec.key_bytes),
                           modes.GCM(self._spec.iv, self.tag)).decryptor()
        decryptor.authenticate_additional_data(_AAD)
        self._file.seek(0)
        left = self.size
        while left:
            block = self._file.read(min(_CHUNK, left))
            if not block:
                raise ProtectedFileError("Corrupted input file: it changed while being read")
            left -= len(block)
            yield decryptor.update(block)
        try:
            yield decryptor.finalize()
        except InvalidTag:
            raise ProtectedFileError("Corrupted input file: it does not authenticate (wrong key "
                                     "or IV, or the file is damaged)") from None

    def readable(self) -> bool:
        return True

    def read_chunk(self) -> bytes:
        if self._pending:
            chunk, self._pending = self._pending, b""
            return chunk
        for chunk in self._chunks:
            if chunk:
                return chunk
        return b""

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        chunk = self.read_chunk()
        take = min(len(chunk), len(view))
        view[:take] = chunk[:take]
        self._pending = chunk[take:]
        return take

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class _GcmWriter:
    """Writes ``ciphertext || tag`` of an AES-GCM file as the plaintext arrives."""

    def __init__(self, spec: ProtectedFile) -> None:
        assert spec.iv is not None and isinstance(spec.iv, bytes)
        self.path = spec.fspath
        self._encryptor = Cipher(algorithms.AES(spec.key_bytes), modes.GCM(spec.iv)).encryptor()
        self._encryptor.authenticate_additional_data(_AAD)
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 (see finish())
        self.tag: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._file is None:
            raise ValueError("write to a closed file")
        self._file.write(self._encryptor.update(bytes(data)))
        return len(data)

    def finish(self) -> bytes:
        if self.tag is not None:
            return self.tag
        if self._file is None:
            raise ValueError("the file was aborted")
        try:
            self._file.write(self._encryptor.finalize())
            tag = self._encryptor.tag
            self._file.write(tag)
            self._file.close()
        except BaseException:
            self.abort()
            raise
        self._file = None
        self.tag = tag
        return tag

    def abort(self) -> None:
        if self.tag is not None or self._file is None:
            return
        self._file.close()
        self._file = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def plaintext_reader(spec: ProtectedFile, *, check_name: bool = False) -> io.RawIOBase:
    """Open ``spec`` for reading its plaintext; it is authenticated (and its
    tag compared with ``spec.tag``) before the first byte is returned (for
    teaclave-file-128, each node as it is read).  The reader has ``tag``,
    ``size`` and ``read_chunk()``.

    Raises:
        ProtectedFileError: wrong key, IV or tag, or a damaged file.
    """
    if spec.format == TEACLAVE_FILE_128:
        return ProtectedFileReader(spec.fspath, spec.key_bytes, expected_tag=spec.tag_bytes,
                                   check_name=check_name)
    return _GcmReader(spec)


def create_writer(spec: ProtectedFile, *, name: str | None = None) -> PlaintextWriter:
    """Create ``spec.path`` in ``spec.format``; ``write`` plaintext, then
    ``finish()`` returns the tag (``abort()`` removes the file).  ``name`` is
    the file name stored in a teaclave-file-128 file (default: the base name)."""
    if spec.format == TEACLAVE_FILE_128:
        return ProtectedFileWriter(spec.fspath, spec.key_bytes, name=name)
    return _GcmWriter(spec)


def verify(spec: ProtectedFile, *, check_name: bool = False) -> bytes:
    """Authenticate the whole file and return its tag.

    Raises:
        ProtectedFileError: wrong key, IV or tag, or a damaged file.
    """
    with plaintext_reader(spec, check_name=check_name) as reader:
        if isinstance(reader, ProtectedFileReader):
            reader.verify()
        tag: bytes = reader.tag  # type: ignore[attr-defined]
        return tag


def chunks(reader: io.RawIOBase) -> Iterator[bytes]:
    """The plaintext of a reader from :func:`plaintext_reader`, piece by piece."""
    read_chunk = reader.read_chunk  # type: ignore[attr-defined]
    while True:
        chunk: bytes = read_chunk()
        if not chunk:
            return
        yield chunk


def encrypt(source: BinaryIO, spec: ProtectedFile, *, name: str | None = None) -> bytes:
    """Encrypt the plaintext stream ``source`` into ``spec``; return the tag."""
    writer = create_writer(spec, name=name)
    try:
        while True:
            block = source.read(_CHUNK)
            if not block:
                break
            writer.write(block)
    except BaseException:
        writer.abort()
        raise
    return writer.finish()


def decrypt(spec: ProtectedFile, target: BinaryIO, *, check_name: bool = False) -> bytes:
    """Write the authenticated plaintext of ``spec`` to ``target``; return the tag.

    For teaclave-file-128 the whole file is authenticated before the first
    byte is written, so a damaged file writes nothing.
    """
    tag = verify(spec, check_name=check_name) if spec.format == TEACLAVE_FILE_128 else None
    with plaintext_reader(spec, check_name=check_name) as reader:
        if tag is not None and reader.tag != tag:  # type: ignore[attr-defined]
            raise ProtectedFileError("Corrupted input file: it changed while being read")
        target.writelines(chunks(reader))
        result: bytes = reader.tag  # type: ignore[attr-defined]
        return result


def convert(source: ProtectedFile, target: ProtectedFile, *, name: str | None = None) -> bytes:
    """Re-encrypt ``source`` as ``target`` (any schema to any schema), node
    by node; return the new file's tag.  ``source`` is authenticated first."""
    verify(source)
    writer = create_writer(target, name=name)
    try:
        with plaintext_reader(source) as reader:
            for chunk in chunks(reader):
                writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish()
