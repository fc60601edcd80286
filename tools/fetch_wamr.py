#!/usr/bin/env python3
"""Fetch, verify, unpack and patch the pinned WAMR source tree.

WAMR 1.1.2 comes from the npm package ``@grain/libiwasm@1.1.2`` (its tarball
holds ``package/wasm-micro-runtime/``).  The tarball is checked against the
package's published ``dist.integrity`` before anything is unpacked, then our
own patches from ``vendor/patches/`` are applied in name order.  A stamp file
records what the tree was made from, so a second run does nothing.

Usage: ``python tools/fetch_wamr.py [--dest DIR] [--tarball FILE]``.
The CMake build runs this script itself; run it by hand to prepare a tree
(e.g. before ``python -m build --sdist``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@grain/libiwasm@1.1.2"
INTEGRITY = (
    "sha512-HDqx8x1NC/uHsfbhPw6Y6nSVTn6FjUIlP2qZ+subDFbQ824TFF2T6vL3wfmoiMZmseMHVCa5YmDjqY2YgP+Oag=="
)
WAMR_VERSION = "1.1.2"
PREFIX_IN_TARBALL = "package/wasm-micro-runtime/"
STAMP_NAME = ".pywamr-stamp"

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / "vendor" / "wasm-micro-runtime"
PATCH_DIR = ROOT / "vendor" / "patches"


class FetchError(RuntimeError):
    """The pinned WAMR tree could not be obtained."""


def patch_files() -> list[Path]:
    """Our patches, in the order they are applied."""
    return sorted(PATCH_DIR.glob("*.patch"))


def expected_stamp() -> str:
    """What the stamp of a correctly prepared tree says."""
    digest = hashlib.sha256()
    for patch in patch_files():
        digest.update(patch.name.encode() + b"\0" + patch.read_bytes() + b"\0")
    return f"{PACKAGE} {INTEGRITY} patches:{digest.hexdigest()}\n"


def is_current(dest: Path) -> bool:
    stamp = dest / STAMP_NAME
    return stamp.is_file() and stamp.read_text() == expected_stamp()


def verify_integrity(data: bytes) -> None:
    algo, _, expected = INTEGRITY.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise FetchError(
            f"integrity mismatch for {PACKAGE}: expected {INTEGRITY}, got {algo}-{actual}"
        )


def npm_pack(workdir: Path) -> bytes:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            "WAMR source is missing and npm is not installed.\n"
            "Either install npm (e.g. `apt-get install npm`) so the build can run "
            f"`npm pack {PACKAGE}`,\nor point the build at a WAMR {WAMR_VERSION} tree you "
            "already have: set PYWAMR_WAMR_ROOT=/path/to/wasm-micro-runtime "
            "(or pass -DPYWAMR_WAMR_ROOT=... to CMake)."
        )
    result = subprocess.run(
        [npm, "pack", PACKAGE, "--silent", "--pack-destination", str(workdir)],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise FetchError(f"`npm pack {PACKAGE}` failed:\n{result.stderr.strip()}")
    tarballs = list(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise FetchError(f"`npm pack {PACKAGE}` produced {len(tarballs)} tarballs")
    return tarballs[0].read_bytes()


def unpack(data: bytes, dest: Path) -> None:
    """Unpack the tarball's WAMR folder into ``dest`` (refusing unsafe members)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = []
        for member in archive.getmembers():
            if not member.name.startswith(PREFIX_IN_TARBALL):
                continue
            relative = member.name[len(PREFIX_IN_TARBALL) :]
            if not relative or relative.startswith("/") or ".." in Path(relative).parts:
                continue
            if not (member.isfile() or member.isdir()):
                continue
            member.name = relative
            members.append(member)
        if not members:
            raise FetchError(f"{PACKAGE} tarball has no {PREFIX_IN_TARBALL}")
        archive.extractall(dest, members=members)


def apply_patches(dest: Path) -> None:
    patch_tool = shutil.which("patch")
    for patch in patch_files():
        if patch_tool is None:
            raise FetchError("the `patch` tool is needed to apply vendor/patches/")
        result = subprocess.run(
            [patch_tool, "-p1", "--forward", "--batch", "-i", str(patch)],
            cwd=dest,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise FetchError(f"patch {patch.name} failed:\n{result.stdout}{result.stderr}")


def prepare(dest: Path = DEFAULT_DEST, tarball: Path | None = None) -> Path:
    """Make ``dest`` a verified, patched WAMR tree; do nothing if it already is."""
    if is_current(dest):
        return dest
    with tempfile.TemporaryDirectory(prefix="pywamr-fetch-") as tmp:
        data = tarball.read_bytes() if tarball else npm_pack(Path(tmp))
        verify_integrity(data)
        staging = Path(tmp) / "tree"
        staging.mkdir()
        unpack(data, staging)
        apply_patches(staging)
        (staging / STAMP_NAME).write_text(expected_stamp())
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(dest))
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--tarball", type=Path, help="use this tarball instead of npm pack")
    args = parser.parse_args(argv)
    try:
        path = prepare(args.dest, args.tarball)
    except FetchError as error:
        print(f"pywamr: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
