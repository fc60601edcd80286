#!/usr/bin/env python3
"""Check pywamr's file formats against Apache Teaclave's own encrypted fixtures.

Teaclave's repository (branch ``master``) ships encrypted inputs with their
keys and tags in its example scripts and tests.  This reads them straight
from a git checkout or mirror of that repository (nothing of it is copied
into pywamr) and checks, for each file:

1. pywamr decrypts it with the published key, its tag equals the published
   tag, and the plaintext equals Teaclave's plaintext fixture;
2. pywamr re-creates it: for files of at most 3 KiB (metadata node only)
   and for AES-GCM files, encrypting the plaintext with the same key, file
   name and key id (or IV) gives Teaclave's file byte for byte; larger files
   (random node keys) get the same length, node layout and plain header.

Usage: tools/check_teaclave_files.py GIT_DIR [--rev master]
Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

from pywamr.teaclave import ProtectedFile
from pywamr.teaclave._file_formats import decrypt, encrypt
from pywamr.teaclave._protected_fs import NODE_SIZE, ProtectedFileReader, ProtectedFileWriter

F = "tests/fixtures/functions/"
ZERO = "00" * 16
# (encrypted file, plaintext, schema, key, iv, tag, where Teaclave publishes key and tag)
VECTORS = [
    (F + "wamr_rust_psi/psi0.txt.enc", F + "wamr_rust_psi/psi0.txt", "teaclave-file-128", ZERO,
     None, "fd9b319ae0fc595a98ee4135667ac0ac", "examples/python/wasm_rust_psi.py"),
    (F + "wamr_rust_psi/psi1.txt.enc", F + "wamr_rust_psi/psi1.txt", "teaclave-file-128", ZERO,
     None, "93cc677d7bac5910cd7199f7d6b9ac15", "examples/python/wasm_rust_psi.py"),
    (F + "gbdt_training/train.enc", F + "gbdt_training/train.txt", "teaclave-file-128", ZERO,
     None, "860030495909b84864b991865e9ad94f", "examples/python/builtin_gbdt_train.py"),
    (F + "py_logistic_reg/train.enc", F + "py_logistic_reg/train.txt", "teaclave-file-128",
     ZERO, None, "00780510adc603725ec240ab979681f0", "examples/python/mesapy_logistic_reg.py"),
    (F + "gbdt_training/train.aes_gcm_128", F + "gbdt_training/train.txt", "aes-gcm-128", ZERO,
     "01" * 12, "592f1e607649d89ff2aa8a2841a57cad",
     "services/execution/enclave/src/task_file_manager.rs"),
]


def _show(git_dir: str, rev: str, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{path}"], check=True,
                          capture_output=True).stdout


def _tree_shape(path: Path, key: str) -> tuple[list[bool], bytes]:
    """Which root MHT entries are used, and the whole last data node's plaintext."""
    with ProtectedFileReader(path, bytes.fromhex(key)) as reader:
        root = reader._root
        used = [any(root[i:i + 32]) for i in range(0, NODE_SIZE, 32)]
        last = (reader.size - 3 * NODE_SIZE // 4 - 1) // NODE_SIZE
        return used, reader._data_node(last)


def check(git_dir: str, rev: str) -> int:
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for enc, txt, schema, key, iv, tag, source in VECTORS:
            name = Path(enc).name
            path = Path(tmp) / name
            blob = _show(git_dir, rev, enc)
            path.write_bytes(blob)
            plain = _show(git_dir, rev, txt)
            out = io.BytesIO()
            got = decrypt(ProtectedFile(path, key, schema, iv=iv, tag=tag), out)
            ok_read = got.hex() == tag and out.getvalue() == plain
            again = Path(tmp) / "again" / name
            again.parent.mkdir(exist_ok=True)
            if schema == "teaclave-file-128":
                with ProtectedFileReader(path, bytes.fromhex(key)) as reader:
                    key_id, stored = reader.key_id, reader.stored_name
                writer = ProtectedFileWriter(again, bytes.fromhex(key), name=stored, key_id=key_id)
                writer.write(plain)
                new_tag = writer.finish()
                mine = again.read_bytes()
                if len(plain) <= 3 * NODE_SIZE // 4:
                    ok_write = mine == blob and new_tag.hex() == tag
                    how = "byte-identical"
                else:
                    ok_write = (len(mine) == len(blob) and mine[:16] == blob[:16]
                                and _tree_shape(path, key) == _tree_shape(again, key))
                    how = (f"same layout ({len(mine) // NODE_SIZE} nodes, same used MHT entries "
                           "and whole last data node)")
            else:
                new_tag = encrypt(io.BytesIO(plain), ProtectedFile(again, key, schema, iv=iv))
                ok_write = again.read_bytes() == blob and new_tag.hex() == tag
                how = "byte-identical"
            status = "ok" if ok_read and ok_write else "FAILED"
            failures += status != "ok"
            print(f"{status:6} {enc} ({schema}, {len(blob)} bytes, {len(plain)} plaintext; "
                  f"key/tag from {source}): read {'ok' if ok_read else 'FAILED'}, "
                  f"tag {got.hex()}; re-created {how}: {'ok' if ok_write else 'FAILED'}")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("git_dir", help="the .git directory (or bare mirror) of Teaclave")
    parser.add_argument("--rev", default="master")
    args = parser.parse_args()
    return check(args.git_dir, args.rev)


if __name__ == "__main__":
    sys.exit(main())
