"""The Intel SGX protected file format (``sgx_tprotected_fs``), user-key mode.

This is the on-disk format Teaclave stages every file in (its
``teaclave-file-128`` schema).  A file is a sequence of 4 KiB nodes:

* node 0, the metadata node: a plain part (file id ``SGX_FILE``, version,
  the key id that salts the metadata key, and the GMAC of the encrypted
  part, which is the file's authentication tag), then an AES-128-GCM
  encrypted part (the file name at creation, the plaintext size, the root
  MHT node's key and GMAC, and the first 3 KiB of plaintext);
* node 1, the root MHT (Merkle hash tree) node; every MHT node holds the
  key and GMAC of 96 data nodes and of 32 child MHT nodes;
* data nodes of 4 KiB plaintext each, with the MHT nodes interleaved: MHT
  node ``m >= 1`` sits at physical node ``1 + 97 m``, data node ``d`` at
  ``d + 2 + d // 96``; MHT node ``m``'s parent is ``(m - 1) // 32``.

Every node is encrypted with its own AES-128-GCM key and a zero IV; data
and MHT node keys are fresh per encryption (derived by AES-CMAC from a
random master key), the metadata key is derived by AES-CMAC from the
128-bit user key and the key id stored in the clear.  So one GMAC, the
metadata node's, authenticates the whole file.

Crypto comes from the ``cryptography`` package.  Reading and writing work
node by node: memory does not grow with the file beyond a few dozen bytes
per 384 KiB of data (the writer keeps each finished MHT node's key and tag).
"""

from __future__ import annotations

import io
import os
import struct
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from .._errors import WamrError

NODE_SIZE = 4096
KEY_SIZE = 16
TAG_SIZE = 16
KEY_ID_SIZE = 32
FILE_ID = 0x5347585F46494C45  # "SGX_FILE" read as a little-endian u64
MAJOR_VERSION = 1
MINOR_VERSION = 0
USER_KEY_FLAG = 1  # encrypt_flags: 0 auto (sealing) key, 1 user key, 2 integrity only
FILENAME_MAX = 260
MD_USER_DATA_SIZE = NODE_SIZE * 3 // 4  # 3072 plaintext bytes live in the metadata node
DATA_PER_MHT = 96  # data nodes attached to one MHT node
CHILD_MHT = 32  # child MHT nodes of one MHT node

# metadata node: plain part (96 bytes), encrypted part (3372 bytes), zero padding
_PLAIN = struct.Struct("<QBBBBHH32s16s16s16s")
_ENCRYPTED_SIZE = FILENAME_MAX + 8 + KEY_SIZE + TAG_SIZE + MD_USER_DATA_SIZE
_PADDING = NODE_SIZE - _PLAIN.size - _ENCRYPTED_SIZE
_ZERO_IV = bytes(12)
_ZERO_KEY = bytes(KEY_SIZE)
_GCM_ENTRY = KEY_SIZE + TAG_SIZE  # one (key, gmac) pair in an MHT node

_LABEL_METADATA = b"SGX-PROTECTED-FS-METADATA-KEY"
_LABEL_MASTER = b"SGX-PROTECTED-FS-MASTER-KEY"
_LABEL_RANDOM = b"SGX-PROTECTED-FS-RANDOM-KEY"
# the KDF input: index u32, label[64], pad u32, node number u64, nonce[32],
# output length in bits u32, pad u32 (120 bytes, C layout)
_KDF = struct.Struct("<I64s4xQ32sI4x")
_MASTER_KEY_USES = 65536

assert _PLAIN.size == 96 and _PADDING == 628 and _KDF.size == 120


class ProtectedFileError(WamrError, ValueError):
    """A protected file cannot be read: wrong key, wrong tag, or damaged.

    Raised by an invocation, ``file_errors`` lists every refused input.
    """

    def __init__(self, message: str, file_errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.file_errors: list[str] = list(file_errors) if file_errors else [message]


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def derive_key(key: bytes, label: bytes, node_number: int, nonce: bytes) -> bytes:
    """The format's KDF: AES-CMAC over the 120-byte KDF input."""
    return _cmac(key, _KDF.pack(1, label, node_number, nonce, 128))


def metadata_key(user_key: bytes, key_id: bytes) -> bytes:
    """The key of the metadata node's encrypted part."""
    return derive_key(user_key, _LABEL_METADATA, 0, key_id)


def check_key(key: bytes | bytearray | memoryview, size: int = KEY_SIZE) -> bytes:
    """Return ``key`` as bytes, or raise ``ValueError`` if it is not ``size`` bytes."""
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"a key must be bytes, not {type(key).__name__}")
    key = bytes(key)
    if len(key) != size:
        raise ValueError(f"the key must be {size} bytes ({size * 8} bits), got {len(key)}")
    return key


def mht_physical(m: int) -> int:
    """Physical node number of MHT node ``m`` (the root is 0, at node 1)."""
    return 1 + m * (DATA_PER_MHT + 1)


def data_physical(d: int) -> int:
    """Physical node number of data node ``d`` (counted after the first 3 KiB)."""
    return d + 2 + d // DATA_PER_MHT


def _encrypt_node(key: bytes, plaintext: bytes | bytearray) -> tuple[bytes, bytes]:
    sealed = AESGCM(key).encrypt(_ZERO_IV, bytes(plaintext), None)
    return sealed[:-TAG_SIZE], sealed[-TAG_SIZE:]


def _decrypt_node(key: bytes, tag: bytes, ciphertext: bytes, what: str) -> bytes:
    try:
        return AESGCM(key).decrypt(_ZERO_IV, ciphertext + tag, None)
    except InvalidTag:
        raise ProtectedFileError(f"Corrupted input file: {what} fails authentication") from None


def _pread_node(fd: int, physical: int) -> bytes:
    """Node ``physical`` of the file (shorter at its end)."""
    node = os.pread(fd, NODE_SIZE, physical * NODE_SIZE)
    while 0 < len(node) < NODE_SIZE:  # a short read before the end of the file
        more = os.pread(fd, NODE_SIZE - len(node), physical * NODE_SIZE + len(node))
        if not more:
            break
        node += more
    return node


class _NodeKeys:
    """Fresh node keys: AES-CMAC of a random master key, renewed every 65536 uses."""

    _POOL = 128  # nonces drawn from the OS at a time

    def __init__(self) -> None:
        self._master = b""
        self._uses = _MASTER_KEY_USES
        self._nonces: list[bytes] = []

    def _nonce(self) -> bytes:
        if not self._nonces:
            pool = os.urandom(KEY_ID_SIZE * self._POOL)
            self._nonces = [pool[i:i + KEY_ID_SIZE] for i in range(0, len(pool), KEY_ID_SIZE)]
        return self._nonces.pop()

    def next(self, physical: int) -> bytes:
        if self._uses >= _MASTER_KEY_USES:
            self._master = derive_key(_ZERO_KEY, _LABEL_MASTER, 0, self._nonce())
            self._uses = 0
        self._uses += 1
        return derive_key(self._master, _LABEL_RANDOM, physical, self._nonce())


class ProtectedFileReader(io.RawIOBase):
    """Reads the plaintext of a protected file sequentially, node by node.

    Opening decrypts and authenticates the metadata node (and the root MHT
    node) with ``key``; ``expected_tag``, if given, must equal the file's
    GMAC (:attr:`tag`), as Teaclave checks before a payload reads an input.
    Every data node is authenticated as it is read.  With ``check_name`` the
    file name stored at creation must equal the path's base name (the SGX
    library's own rule); :attr:`stored_name` has it either way.

    Raises:
        ProtectedFileError: wrong key, wrong tag, or a damaged or truncated file.
        OSError: the file cannot be opened.
    """

    _MHT_CACHE = 64

    def __init__(self, path: str | os.PathLike[str], key: bytes, *,
                 expected_tag: bytes | None = None, check_name: bool = False) -> None:
        super().__init__()
        self._key = check_key(key)
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)  # closed in close()
        try:
            self._open(expected_tag, check_name)
        except BaseException:
            os.close(self._fd)
            raise
        self._offset = 0
        self._mht: OrderedDict[int, bytes] = OrderedDict()

    def _read_node(self, physical: int, what: str) -> bytes:
        node = _pread_node(self._fd, physical)
        if len(node) != NODE_SIZE:
            raise ProtectedFileError(f"Corrupted input file: truncated ({what} at node {physical} "
                                     f"is {'missing' if not node else 'short'})")
        return node

    def _open(self, expected_tag: bytes | None, check_name: bool) -> None:
        node = self._read_node(0, "the metadata node")
        (file_id, major, _minor, flags, update, _policy, _svn, key_id, _cpu_svn, _attributes,
         gmac) = _PLAIN.unpack_from(node)
        if file_id != FILE_ID:
            raise ProtectedFileError("Corrupted input file: not an SGX protected file "
                                     "(no SGX_FILE id)")
        if major != MAJOR_VERSION:
            raise ProtectedFileError(f"Corrupted input file: format version {major} (expected "
                                     f"{MAJOR_VERSION})")
        if update:
            raise ProtectedFileError("Corrupted input file: an interrupted update needs "
                                     "recovery (update flag set)")
        if flags != USER_KEY_FLAG:
            kind = {0: "the enclave's sealing key", 2: "integrity only"}.get(flags, "unknown")
            raise ProtectedFileError(f"the file is not protected by a user key ({kind}, "
                                     f"flags {flags})")
        encrypted = node[_PLAIN.size:_PLAIN.size + _ENCRYPTED_SIZE]
        try:
            plain = AESGCM(metadata_key(self._key, key_id)).decrypt(_ZERO_IV, encrypted + gmac,
                                                                    None)
        except InvalidTag:
            raise ProtectedFileError("Corrupted input file: the metadata does not authenticate "
                                     "(wrong key, or the file is damaged)") from None
        self.tag: bytes = gmac
        self.key_id: bytes = key_id
        if expected_tag is not None and expected_tag != gmac:
            raise ProtectedFileError(f"Corrupted input file: its tag {gmac.hex()} is not the "
                                     f"expected {bytes(expected_tag).hex()}")
        raw_name = plain[:FILENAME_MAX].split(b"\0", 1)[0]
        self.stored_name = raw_name.decode("utf-8", "replace")
        if check_name and self.stored_name != os.path.basename(self.path):
            raise ProtectedFileError(f"the file was created as {self.stored_name!r}, not as "
                                     f"{os.path.basename(self.path)!r} (SGX name check)")
        at = FILENAME_MAX
        (self.size,) = struct.unpack_from("<Q", plain, at)
        self._root_key = plain[at + 8:at + 8 + KEY_SIZE]
        self._root_tag = plain[at + 8 + KEY_SIZE:at + 8 + KEY_SIZE + TAG_SIZE]
        self._head = plain[at + 8 + KEY_SIZE + TAG_SIZE:]
        if self.size > MD_USER_DATA_SIZE:
            last = data_physical((self.size - MD_USER_DATA_SIZE - 1) // NODE_SIZE)
            length = os.fstat(self._fd).st_size
            if length < (last + 1) * NODE_SIZE:
                raise ProtectedFileError(f"Corrupted input file: truncated ({length} bytes, "
                                         f"{self.size} bytes of plaintext need "
                                         f"{(last + 1) * NODE_SIZE})")
            self._root = _decrypt_node(self._root_key, self._root_tag,
                                       self._read_node(1, "the root MHT node"),
                                       "the root MHT node")

    # -- the Merkle tree ---------------------------------------------------
    def _mht_node(self, m: int) -> bytes:
        if m == 0:
            return self._root
        found = self._mht.get(m)
        if found is not None:
            self._mht.move_to_end(m)
            return found
        parent = self._mht_node((m - 1) // CHILD_MHT)
        at = (DATA_PER_MHT + (m - 1) % CHILD_MHT) * _GCM_ENTRY
        node = _decrypt_node(parent[at:at + KEY_SIZE], parent[at + KEY_SIZE:at + _GCM_ENTRY],
                             self._read_node(mht_physical(m), f"MHT node {m}"), f"MHT node {m}")
        self._mht[m] = node
        if len(self._mht) > self._MHT_CACHE:
            self._mht.popitem(last=False)
        return node

    def _data_node(self, d: int) -> bytes:
        parent = self._mht_node(d // DATA_PER_MHT)
        at = (d % DATA_PER_MHT) * _GCM_ENTRY
        physical = data_physical(d)
        return _decrypt_node(parent[at:at + KEY_SIZE], parent[at + KEY_SIZE:at + _GCM_ENTRY],
                             self._read_node(physical, f"data node {d}"), f"data node {d}")

    # -- reading -------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def read_chunk(self) -> bytes:
        """The plaintext from the current position to the end of its node (b"" at the end)."""
        if self.closed:
            raise ValueError("read from a closed protected file")
        offset = self._offset
        if offset >= self.size:
            return b""
        if offset < MD_USER_DATA_SIZE:
            chunk = self._head[offset:min(self.size, MD_USER_DATA_SIZE)]
        else:
            d, within = divmod(offset - MD_USER_DATA_SIZE, NODE_SIZE)
            end = min(NODE_SIZE, self.size - MD_USER_DATA_SIZE - d * NODE_SIZE)
            chunk = self._data_node(d)[within:end]
        self._offset += len(chunk)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view):
            start = self._offset
            chunk = self.read_chunk()
            if not chunk:
                break
            take = min(len(chunk), len(view) - done)
            view[done:done + take] = chunk[:take]
            self._offset = start + take
            done += take
        return done

    def verify(self) -> None:
        """Authenticate every node from the current position to the end."""
        while self.read_chunk():
            pass

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
            self._head = b""
            self._mht.clear()
        super().close()


class ProtectedFileWriter(io.RawIOBase):
    """Writes a new protected file sequentially; :meth:`close` returns nothing,
    :meth:`finish` returns the file's tag (its root GMAC).

    The file name stored inside is ``name`` (default: the path's base name, as
    the SGX library stores it).  ``key_id`` (32 bytes, random by default)
    salts the metadata key; fixing it makes a file of at most 3 KiB
    reproducible byte for byte.  :meth:`abort` removes the partial file.
    """

    def __init__(self, path: str | os.PathLike[str], key: bytes, *,
                 name: str | None = None, key_id: bytes | None = None) -> None:
        super().__init__()
        self._key = check_key(key)
        self._key_id = os.urandom(KEY_ID_SIZE) if key_id is None else check_key(key_id,
                                                                                KEY_ID_SIZE)
        self.path = os.fspath(path)
        stored = (os.path.basename(self.path) if name is None else name).encode()
        if not stored or len(stored) >= FILENAME_MAX - 1 or b"\0" in stored:
            raise ValueError(f"the stored file name must be 1 to {FILENAME_MAX - 2} bytes "
                             "without NUL")
        self._name = stored
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                           0o666)  # as open(path, "w+b"); closed in finish() or abort()
        self._keys = _NodeKeys()
        self.size = 0
        self._sealed_data = 0  # data nodes written so far
        self.tag: bytes | None = None
        self._head = bytearray()
        self._current = bytearray()  # plaintext of the data node being filled
        self._mht_open: dict[int, bytearray] = {}  # MHT nodes still being filled, in memory
        self._mht_spilled: dict[int, tuple[bytes, bytes]] = {}  # sealed on disk: (key, tag)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed or self.tag is not None:
            raise ValueError("write to a closed protected file")
        view = memoryview(data).cast("B")
        total = len(view)
        if len(self._head) < MD_USER_DATA_SIZE:
            take = min(total, MD_USER_DATA_SIZE - len(self._head))
            self._head += view[:take]
            view = view[take:]
        while len(view):
            if len(self._current) == NODE_SIZE:  # sealed only once more data follows it
                self._seal_data_node()
            take = min(len(view), NODE_SIZE - len(self._current))
            self._current += view[:take]
            view = view[take:]
        self.size += total
        return total

    def _seal_data_node(self) -> None:
        d = self._sealed_data
        self._sealed_data += 1
        plaintext = self._current.ljust(NODE_SIZE, b"\0")
        self._current = bytearray()
        physical = data_physical(d)
        key = self._keys.next(physical)
        ciphertext, tag = _encrypt_node(key, plaintext)
        self._put(physical, ciphertext)
        m, index = divmod(d, DATA_PER_MHT)
        node = self._mht_open.setdefault(m, bytearray(NODE_SIZE))
        node[index * _GCM_ENTRY:(index + 1) * _GCM_ENTRY] = key + tag
        if index == DATA_PER_MHT - 1:  # its data entries are final: seal it until close
            del self._mht_open[m]
            self._mht_spilled[m] = self._seal(mht_physical(m), node)

    def _seal(self, physical: int, plaintext: bytes | bytearray) -> tuple[bytes, bytes]:
        key = self._keys.next(physical)
        ciphertext, tag = _encrypt_node(key, plaintext)
        self._put(physical, ciphertext)
        return key, tag

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def _put(self, physical: int, node: bytes) -> None:
        view = memoryview(node)
        offset = physical * NODE_SIZE
        while view:
            done = os.pwrite(self._fd, view, offset)
            view, offset = view[done:], offset + done

    def finish(self) -> bytes:
        """Write the MHT and metadata nodes, close the file and return its tag."""
        if self.tag is not None:
            return self.tag
        if self.closed:
            raise ValueError("the protected file was aborted")
        try:
            root_key = root_tag = bytes(KEY_SIZE)
            if self.size > MD_USER_DATA_SIZE:
                self._seal_data_node()  # the last one, never empty here
                root_key, root_tag = self._seal_tree()
            head = bytes(self._head).ljust(MD_USER_DATA_SIZE, b"\0")
            encrypted = (self._name.ljust(FILENAME_MAX, b"\0") + struct.pack("<Q", self.size)
                         + root_key + root_tag + head)
            key_id = self._key_id
            ciphertext, gmac = _encrypt_node(metadata_key(self._key, key_id), encrypted)
            plain = _PLAIN.pack(FILE_ID, MAJOR_VERSION, MINOR_VERSION, USER_KEY_FLAG, 0, 0, 0,
                                key_id, bytes(16), bytes(16), gmac)
            self._put(0, plain + ciphertext + bytes(_PADDING))
            self._close_fd()
        except BaseException:
            self.abort()
            raise
        self.tag = gmac
        self._head = bytearray()
        super().close()
        return gmac

    def _seal_tree(self) -> tuple[bytes, bytes]:
        """Seal every MHT node, children before parents; the root's key and tag."""
        count = (self._sealed_data - 1) // DATA_PER_MHT + 1
        sealed: dict[int, tuple[bytes, bytes]] = {}
        for m in range(count - 1, -1, -1):  # a child's number is always above its parent's
            node = self._mht_open.pop(m, None)
            if node is None:
                key, tag = self._mht_spilled.pop(m)
                node = bytearray(_decrypt_node(key, tag, _pread_node(self._fd, mht_physical(m)),
                                               f"MHT node {m} (re-read)"))
            for child in range(CHILD_MHT * m + 1, min(CHILD_MHT * m + CHILD_MHT, count - 1) + 1):
                at = (DATA_PER_MHT + (child - 1) % CHILD_MHT) * _GCM_ENTRY
                child_key, child_tag = sealed.pop(child)
                node[at:at + _GCM_ENTRY] = child_key + child_tag
            sealed[m] = self._seal(mht_physical(m), node)
        return sealed.pop(0)

    def close(self) -> None:
        """Finish the file (see :meth:`finish`)."""
        if not self.closed and self.tag is None:
            self.finish()
        super().close()

    def abort(self) -> None:
        """Stop writing and remove the partial file."""
        if self.tag is not None or self.closed:
            return
        try:
            self._close_fd()
        finally:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self._head = bytearray()
            self._current = bytearray()
            self._mht_open.clear()
            super().close()
