"""The SGX protected file format and Teaclave's upload formats (no WAMR needed).

An independent construction of the format, written straight from its
definition (struct layouts, KDF, node numbering) with the ``cryptography``
primitives, checks pywamr's reader and writer both ways.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import struct
import subprocess
import sys
import tracemalloc

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from pywamr.teaclave import ProtectedFile, ProtectedFileError
from pywamr.teaclave._file_formats import convert, decrypt, encrypt, verify
from pywamr.teaclave._protected_fs import ProtectedFileReader, ProtectedFileWriter

KEY = bytes(range(16))
OTHER = bytes(range(1, 17))
NODE = 4096


# -- an independent construction from the format's definition -------------
def _kdf(key: bytes, label: bytes, node: int, nonce: bytes) -> bytes:
    data = (struct.pack("<I", 1) + label.ljust(64, b"\0") + bytes(4) + struct.pack("<Q", node)
            + nonce + struct.pack("<I", 128) + bytes(4))
    assert len(data) == 120
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def _gcm(key: bytes, plain: bytes) -> tuple[bytes, bytes]:
    out = AESGCM(key).encrypt(bytes(12), plain, None)
    return out[:-16], out[-16:]


def reference_file(plaintext: bytes, key: bytes, name: bytes) -> tuple[bytes, bytes]:
    """Build a protected file by hand, holding the whole tree in memory."""
    head, rest = plaintext[:3072], plaintext[3072:]
    datas = [rest[i:i + NODE] for i in range(0, len(rest), NODE)]
    nodes: dict[int, bytes] = {}
    mht_count = (len(datas) + 95) // 96
    mhts = [bytearray(NODE) for _ in range(mht_count)]
    counter = iter(range(10**9))

    def fresh_key() -> bytes:
        return _kdf(b"\x42" * 16, b"SGX-PROTECTED-FS-RANDOM-KEY", next(counter), bytes(32))

    for d, data in enumerate(datas):
        k = fresh_key()
        ct, tag = _gcm(k, data.ljust(NODE, b"\0"))
        nodes[d + 2 + d // 96] = ct
        mhts[d // 96][(d % 96) * 32:(d % 96) * 32 + 32] = k + tag
    root = (bytes(16), bytes(16))
    for m in range(mht_count - 1, -1, -1):
        k = fresh_key()
        ct, tag = _gcm(k, bytes(mhts[m]))
        nodes[1 + 97 * m] = ct
        if m:
            parent, slot = (m - 1) // 32, 96 + (m - 1) % 32
            mhts[parent][slot * 32:slot * 32 + 32] = k + tag
        else:
            root = (k, tag)
    key_id = bytes(range(32))
    enc = (name.ljust(260, b"\0") + struct.pack("<Q", len(plaintext)) + root[0] + root[1]
           + head.ljust(3072, b"\0"))
    ct, gmac = _gcm(_kdf(key, b"SGX-PROTECTED-FS-METADATA-KEY", 0, key_id), enc)
    plain = struct.pack("<QBBBBHH", 0x5347585F46494C45, 1, 0, 1, 0, 0, 0) + key_id + bytes(32)
    nodes[0] = plain + gmac + ct + bytes(NODE - 96 - len(ct))
    out = bytearray()
    for physical in range(max(nodes) + 1):
        out += nodes[physical]
    return bytes(out), gmac


def reference_read(blob: bytes, key: bytes) -> tuple[bytes, bytes, str]:
    """Parse a protected file by hand: (plaintext, tag, stored name)."""
    meta = blob[:NODE]
    assert meta[:8] == b"ELIF_XGS" and meta[8] == 1 and meta[10] == 1
    key_id, gmac = meta[16:48], meta[80:96]
    enc = AESGCM(_kdf(key, b"SGX-PROTECTED-FS-METADATA-KEY", 0, key_id)).decrypt(
        bytes(12), meta[96:96 + 3372] + gmac, None)
    name = enc[:260].split(b"\0")[0].decode()
    (size,) = struct.unpack_from("<Q", enc, 260)
    out = bytearray(enc[300:300 + min(size, 3072)])
    if size > 3072:
        mht_nodes = {0: AESGCM(enc[268:284]).decrypt(bytes(12), blob[NODE:2 * NODE] + enc[284:300],
                                                     None)}

        def mht(m: int) -> bytes:
            if m not in mht_nodes:
                parent, slot = mht((m - 1) // 32), 96 + (m - 1) % 32
                entry = parent[slot * 32:slot * 32 + 32]
                at = (1 + 97 * m) * NODE
                mht_nodes[m] = AESGCM(entry[:16]).decrypt(bytes(12), blob[at:at + NODE]
                                                          + entry[16:], None)
            return mht_nodes[m]

        d = 0
        while len(out) < size:
            entry = mht(d // 96)[(d % 96) * 32:(d % 96) * 32 + 32]
            at = (d + 2 + d // 96) * NODE
            data = AESGCM(entry[:16]).decrypt(bytes(12), blob[at:at + NODE] + entry[16:], None)
            out += data[:size - len(out)]
            d += 1
    return bytes(out), gmac, name


SIZES = [0, 1, 3071, 3072, 3073, 3072 + 4096, 3072 + 96 * 4096, 3072 + 96 * 4096 + 1,
         3072 + 97 * 4096 + 5]


def _payload(size: int) -> bytes:
    return bytes((i * 7 + i // 4096) & 0xFF for i in range(size))


@pytest.mark.parametrize("size", SIZES)
def test_reader_reads_the_reference_construction(tmp_path, size):
    plain = _payload(size)
    blob, tag = reference_file(plain, KEY, b"ref.bin")
    path = tmp_path / "ref.bin"
    path.write_bytes(blob)
    with ProtectedFileReader(path, KEY, expected_tag=tag, check_name=True) as reader:
        assert reader.size == size and reader.tag == tag and reader.stored_name == "ref.bin"
        assert reader.read() == plain


@pytest.mark.parametrize("size", SIZES)
def test_writer_output_parses_by_the_definition(tmp_path, size):
    plain = _payload(size)
    path = tmp_path / "out.sgx"
    with ProtectedFileWriter(path, KEY) as writer:
        for at in range(0, size, 1000):  # uneven pieces across node borders
            writer.write(plain[at:at + 1000])
    tag = writer.finish()
    blob = path.read_bytes()
    reference, _ = reference_file(plain, KEY, b"out.sgx")
    assert len(blob) == len(reference)  # same node layout as the definition
    assert reference_read(blob, KEY) == (plain, tag, "out.sgx")


def test_structure_of_the_metadata_node(tmp_path):
    path = tmp_path / "f"
    with ProtectedFileWriter(path, KEY, name="named.txt") as writer:
        writer.write(b"x" * 5000)
    blob = path.read_bytes()
    assert len(blob) == 3 * NODE  # metadata, root MHT, one data node
    assert blob[:16] == b"ELIF_XGS\x01\x00\x01\x00\x00\x00\x00\x00"
    assert blob[48:80] == bytes(32) and blob[96 + 3372:NODE] == bytes(628)
    assert reference_read(blob, KEY)[2] == "named.txt"


def test_each_write_uses_fresh_keys(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for path in (a, b):
        with ProtectedFileWriter(path, KEY, name="same") as writer:
            writer.write(b"same plaintext" * 1000)
    assert a.read_bytes()[NODE:] != b.read_bytes()[NODE:]
    assert ProtectedFileReader(a, KEY).tag != ProtectedFileReader(b, KEY).tag


# -- refusals: wrong key, wrong tag, damage ------------------------------
def _written(tmp_path, size: int) -> tuple[str, bytes, bytes]:
    plain = _payload(size)
    path = str(tmp_path / "victim")
    writer = ProtectedFileWriter(path, KEY)
    writer.write(plain)
    return path, plain, writer.finish()


def test_wrong_key_and_wrong_tag_are_refused(tmp_path):
    path, _, tag = _written(tmp_path, 10000)
    with pytest.raises(ProtectedFileError, match="wrong key"):
        ProtectedFileReader(path, OTHER)
    with pytest.raises(ProtectedFileError, match="Corrupted input file: its tag"):
        ProtectedFileReader(path, KEY, expected_tag=bytes(16))
    with pytest.raises(ProtectedFileError, match="SGX name check"):
        ProtectedFileReader(path, KEY, check_name=True, expected_tag=tag).close()
        os.rename(path, path + ".renamed")
        ProtectedFileReader(path + ".renamed", KEY, check_name=True)


SIZE_3_LEVELS = 3072 + (1 + 32 + 2) * 96 * 4096  # 35 MHT nodes: root, 32 children, 2 grandchildren


# the plain part's minor version (9), key policy (12), ISV SVN (14), CPU SVN (48..63) and
# attribute mask (64..79) are unused with a user key and not authenticated, nor is the padding
UNAUTHENTICATED = (9, 12, 14, 50, 70, 3468, NODE - 1)


@pytest.mark.parametrize("offset", [0, 8, 10, 11, 16, 47, 80, 95, 96, 500, 3467, NODE,
                                    NODE + 100, 2 * NODE + 7, 5 * NODE - 1, 98 * NODE + 3,
                                    99 * NODE, *UNAUTHENTICATED])
def test_a_flipped_bit_anywhere_is_detected(tmp_path, offset):
    path, _, tag = _written(tmp_path, 3072 + 100 * 4096)
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x10]))
    spec = ProtectedFile(path, KEY, tag=tag)
    if offset in UNAUTHENTICATED:
        assert verify(spec) == tag
        return
    with pytest.raises(ProtectedFileError, match=r"Corrupted input file|user key"):
        verify(spec)


@pytest.mark.parametrize("keep", [0, 100, NODE - 1, NODE, NODE + 1, 2 * NODE, 50 * NODE])
def test_truncated_files_are_refused(tmp_path, keep):
    path, _, tag = _written(tmp_path, 3072 + 60 * 4096)
    with open(path, "r+b") as handle:
        handle.truncate(keep)
    with pytest.raises(ProtectedFileError, match="Corrupted input file"):
        verify(ProtectedFile(path, KEY, tag=tag))


def test_swapped_data_nodes_are_detected(tmp_path):
    path, _, tag = _written(tmp_path, 3072 + 3 * 4096)
    with open(path, "r+b") as handle:
        blob = handle.read()
        handle.seek(2 * NODE)
        handle.write(blob[3 * NODE:4 * NODE] + blob[2 * NODE:3 * NODE])
    with pytest.raises(ProtectedFileError, match="data node 0"):
        verify(ProtectedFile(path, KEY, tag=tag))


def test_garbage_is_refused_without_crashing(tmp_path):
    path = tmp_path / "garbage"
    for blob in (b"", b"x", os.urandom(NODE), b"ELIF_XGS" + os.urandom(NODE * 3 - 8),
                 b"ELIF_XGS\x02" + bytes(NODE - 9), b"ELIF_XGS\x01\x00\x00" + bytes(NODE - 11),
                 b"ELIF_XGS\x01\x00\x01\x01" + bytes(NODE - 12)):
        path.write_bytes(blob)
        with pytest.raises(ProtectedFileError):
            verify(ProtectedFile(path, KEY))


# -- large files, bounded memory ------------------------------------------
def test_a_three_level_tree_round_trips_with_bounded_memory(tmp_path):
    size = SIZE_3_LEVELS + 12345  # about 13.8 MiB
    path = tmp_path / "big"
    block = bytes(range(256)) * 256  # 64 KiB
    tracemalloc.start()
    try:
        writer = ProtectedFileWriter(path, KEY)
        written = 0
        while written < size:
            piece = block[:min(len(block), size - written)]
            writer.write(piece)
            written += len(piece)
        tag = writer.finish()
        with ProtectedFileReader(path, KEY, expected_tag=tag) as reader:
            seen = 0
            while True:
                chunk = reader.read(65536)
                if not chunk:
                    break
                assert chunk == block[seen % len(block):][:len(chunk)] or chunk == (
                    (block * 2)[seen % len(block):seen % len(block) + len(chunk)])
                seen += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == size
    assert os.path.getsize(path) == (2 + (size - 3072 + 4095) // 4096 + 35) * NODE
    assert peak < 2 * 1024 * 1024, peak  # the file is 14 MiB
    blob = path.read_bytes()
    assert reference_read(blob, KEY)[1] == tag


# -- the upload formats ----------------------------------------------------
GCM_IV = bytes([1] * 12)


@pytest.mark.parametrize("fmt,key", [("aes-gcm-128", bytes(16)), ("aes-gcm-256", bytes(range(32)))])
def test_aes_gcm_files_are_ciphertext_then_tag(tmp_path, fmt, key):
    plain = _payload(200000)
    spec = ProtectedFile(tmp_path / "g", key, fmt, iv=GCM_IV)
    tag = encrypt(io.BytesIO(plain), spec)
    blob = (tmp_path / "g").read_bytes()
    assert blob[-16:] == tag and len(blob) == len(plain) + 16
    assert AESGCM(key).decrypt(GCM_IV, blob, bytes(8)) == plain  # 8 zero bytes of AAD
    out = io.BytesIO()
    assert decrypt(ProtectedFile(tmp_path / "g", key, fmt, iv=GCM_IV, tag=tag), out) == tag
    assert out.getvalue() == plain
    with pytest.raises(ProtectedFileError, match="its tag"):
        verify(ProtectedFile(tmp_path / "g", key, fmt, iv=GCM_IV, tag=bytes(16)))
    with pytest.raises(ProtectedFileError, match="does not authenticate"):
        verify(ProtectedFile(tmp_path / "g", key, fmt, iv=bytes(12)))
    with open(tmp_path / "g", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\0")
    out = io.BytesIO()
    with pytest.raises(ProtectedFileError):
        decrypt(ProtectedFile(tmp_path / "g", key, fmt, iv=GCM_IV, tag=tag), out)
    assert out.getvalue() == b""  # nothing released before authentication


def test_an_empty_aes_gcm_file_is_refused_as_teaclave_does(tmp_path):
    spec = ProtectedFile(tmp_path / "e", bytes(16), "aes-gcm-128", iv=GCM_IV)
    encrypt(io.BytesIO(b""), spec)
    with pytest.raises(ProtectedFileError, match="at least one byte"):
        verify(spec)


def test_conversions_between_all_formats(tmp_path):
    plain = _payload(3072 + 5 * 4096 + 3)
    specs = [ProtectedFile(tmp_path / "a.sgx", KEY),
             ProtectedFile(tmp_path / "b.gcm", bytes(16), "aes-gcm-128", iv=GCM_IV),
             ProtectedFile(tmp_path / "c.gcm", bytes(range(32)), "aes-gcm-256", iv=GCM_IV),
             ProtectedFile(tmp_path / "d.sgx", OTHER)]
    encrypt(io.BytesIO(plain), specs[0])
    for source, target in itertools.pairwise(specs):
        tag = convert(source, target)
        assert verify(ProtectedFile(target.path, target.key, target.format, iv=target.iv,
                                    tag=tag)) == tag
    out = io.BytesIO()
    decrypt(specs[-1], out)
    assert out.getvalue() == plain


def test_descriptions_check_their_keys():
    with pytest.raises(ValueError, match="16 bytes"):
        ProtectedFile("x", bytes(15))
    with pytest.raises(ValueError, match="32 bytes"):
        ProtectedFile("x", bytes(16), "aes-gcm-256", iv=GCM_IV)
    with pytest.raises(ValueError, match="IV"):
        ProtectedFile("x", bytes(16), "aes-gcm-128")
    with pytest.raises(ValueError, match="no IV"):
        ProtectedFile("x", bytes(16), iv=GCM_IV)
    with pytest.raises(ValueError, match="hex"):
        ProtectedFile("x", "zz" * 16)
    with pytest.raises(ValueError, match="unknown file format"):
        ProtectedFile("x", bytes(16), "rot13")
    spec = ProtectedFile("x", "00" * 16, tag="11" * 16)
    assert spec.key == bytes(16) and spec.tag == b"\x11" * 16 and "key" not in repr(spec)


# -- the command line ------------------------------------------------------
def _cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pywamr", "file", *args], input=stdin, check=False,
                          capture_output=True, timeout=60)


def test_cli_encrypt_verify_decrypt_convert(tmp_path):
    plain = _payload(20000)
    (tmp_path / "in.txt").write_bytes(plain)
    key = KEY.hex()
    done = _cli("encrypt", str(tmp_path / "in.txt"), "-o", str(tmp_path / "in.enc"), "--key", key)
    assert done.returncode == 0, done.stderr
    tag = done.stdout.decode().strip()
    done = _cli("verify", str(tmp_path / "in.enc"), "--key", key, "--tag", tag)
    assert done.returncode == 0 and b"20000 bytes" in done.stdout and b"'in.enc'" in done.stdout
    done = _cli("decrypt", str(tmp_path / "in.enc"), "-o", "-", "--key", key, "--tag", tag)
    assert done.returncode == 0 and done.stdout == plain
    done = _cli("convert", str(tmp_path / "in.enc"), "-o", str(tmp_path / "up.gcm"), "--key", key,
                "--to-format", "aes-gcm-256", "--to-key", "ab" * 32, "--to-iv", "01" * 12)
    assert done.returncode == 0, done.stderr
    done = _cli("decrypt", str(tmp_path / "up.gcm"), "-o", str(tmp_path / "back.txt"),
                "--format", "aes-gcm-256", "--key", "ab" * 32, "--iv", "01" * 12)
    assert done.returncode == 0 and (tmp_path / "back.txt").read_bytes() == plain
    done = _cli("encrypt", "-", "-o", str(tmp_path / "s.enc"), "--key", key, stdin=b"hi")
    assert done.returncode == 0


def test_cli_refusals_are_clear_and_write_nothing(tmp_path):
    (tmp_path / "in.txt").write_bytes(b"secret" * 1000)
    key = KEY.hex()
    done = _cli("encrypt", str(tmp_path / "in.txt"), "-o", str(tmp_path / "in.enc"), "--key", key)
    assert done.returncode == 0, done.stderr
    done = _cli("verify", str(tmp_path / "in.enc"), "--key", OTHER.hex())
    assert done.returncode == 1 and b"wrong key" in done.stderr
    done = _cli("decrypt", str(tmp_path / "in.enc"), "-o", str(tmp_path / "out"), "--key", key,
                "--tag", "00" * 16)
    assert done.returncode == 1 and b"Corrupted input file" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.enc", "in.txt"]
    done = _cli("verify", str(tmp_path / "in.enc"), "--key", "abc")
    assert done.returncode == 1 and b"not valid hex" in done.stderr
    done = _cli("verify", str(tmp_path / "in.enc"), "--key", key, "--check-name")
    assert done.returncode == 0
    os.rename(tmp_path / "in.enc", tmp_path / "renamed.enc")
    done = _cli("verify", str(tmp_path / "renamed.enc"), "--key", key, "--check-name")
    assert done.returncode == 1 and b"created as 'in.enc'" in done.stderr
    done = _cli("verify", str(tmp_path / "missing"), "--key", key)
    assert done.returncode == 1 and b"No such file" in done.stderr


def test_random_damage_never_escapes_as_another_error(tmp_path):
    """Seeded random flips, truncations and appends: authenticated or ProtectedFileError."""
    rng = random.Random(20261202)
    path, plain, tag = _written(tmp_path, 3072 + 200 * 4096 + 77)  # 3 MHT nodes
    with open(path, "rb") as handle:
        pristine = handle.read()
    outcomes = {"refused": 0, "accepted": 0}
    for _ in range(60):
        blob = bytearray(pristine)
        kind = rng.choice(["flip", "flip", "truncate", "append", "zero-node"])
        if kind == "flip":
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(blob))
                blob[at] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            del blob[rng.randrange(len(blob)):]
        elif kind == "append":
            blob += os.urandom(rng.randint(1, 3 * NODE))
        else:
            node = rng.randrange(len(blob) // NODE)
            blob[node * NODE:(node + 1) * NODE] = bytes(NODE)
        with open(path, "wb") as handle:
            handle.write(blob)
        out = io.BytesIO()
        try:
            assert decrypt(ProtectedFile(path, KEY, tag=tag), out) == tag
        except ProtectedFileError:
            outcomes["refused"] += 1
            assert out.getvalue() == b""  # nothing released
        else:
            outcomes["accepted"] += 1
            assert out.getvalue() == plain  # only harmless damage is accepted
    assert outcomes["refused"] > 30
