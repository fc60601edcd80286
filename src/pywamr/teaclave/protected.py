"""Teaclave's encrypted file formats, public API (see docs/protected-files.md).

``teaclave-file-128`` (the Intel SGX protected file format under a 128-bit
key), ``aes-gcm-128`` and ``aes-gcm-256``: describe a file with
:class:`ProtectedFile`, then :func:`encrypt`, :func:`decrypt`, :func:`verify`
or :func:`convert` it; pass descriptions as inputs and outputs of
:mod:`pywamr.teaclave` runs.
"""

from ._file_formats import (
    AES_GCM_128,
    AES_GCM_256,
    FORMATS,
    TEACLAVE_FILE_128,
    ProtectedFile,
    convert,
    create_writer,
    decrypt,
    encrypt,
    plaintext_reader,
    verify,
)
from ._protected_fs import ProtectedFileError, ProtectedFileReader, ProtectedFileWriter

__all__ = [
    "AES_GCM_128",
    "AES_GCM_256",
    "FORMATS",
    "TEACLAVE_FILE_128",
    "ProtectedFile",
    "ProtectedFileError",
    "ProtectedFileReader",
    "ProtectedFileWriter",
    "convert",
    "create_writer",
    "decrypt",
    "encrypt",
    "plaintext_reader",
    "verify",
]
