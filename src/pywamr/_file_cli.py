"""``pywamr file``: encrypt, decrypt, verify and convert Teaclave's file formats."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .teaclave._file_formats import (
    FORMATS,
    TEACLAVE_FILE_128,
    ProtectedFile,
    plaintext_reader,
    verify,
)
from .teaclave._file_formats import convert as convert_file
from .teaclave._file_formats import decrypt as decrypt_file
from .teaclave._file_formats import encrypt as encrypt_file
from .teaclave._protected_fs import ProtectedFileReader


def _crypto_options(parser: argparse.ArgumentParser, tag: bool) -> None:
    parser.add_argument("--format", choices=FORMATS, default=TEACLAVE_FILE_128,
                        help=f"the file's schema (default {TEACLAVE_FILE_128})")
    parser.add_argument("--key", required=True, metavar="HEX",
                        help="the key in hex: 16 bytes, or 32 for aes-gcm-256")
    parser.add_argument("--iv", metavar="HEX", help="the 12-byte IV of aes-gcm-* files, in hex")
    if tag:
        parser.add_argument("--tag", metavar="HEX",
                            help="the expected authentication tag (Teaclave's cmac); "
                            "refuse the file if it differs")
        parser.add_argument("--check-name", action="store_true",
                            help="teaclave-file-128: refuse the file unless the name stored in "
                            "it is its base name (the SGX library's rule)")


def add_file_command(commands: Any) -> None:
    """Register ``pywamr file`` on the CLI's subparsers."""
    file_ = commands.add_parser("file", help="encrypt, decrypt, verify or convert files in "
                                "Teaclave's formats (teaclave-file-128, aes-gcm-128/256)")
    actions = file_.add_subparsers(dest="file_command", required=True)
    enc = actions.add_parser("encrypt", help="encrypt a plain file; prints the tag")
    enc.add_argument("input", help="the plaintext file ('-' for stdin)")
    enc.add_argument("-o", "--output", required=True)
    enc.add_argument("--name", help="file name stored in a teaclave-file-128 file (default: "
                     "the output's base name, which the SGX library checks on open)")
    _crypto_options(enc, tag=False)
    dec = actions.add_parser("decrypt", help="authenticate and decrypt a file")
    dec.add_argument("input")
    dec.add_argument("-o", "--output", required=True, help="the plaintext file ('-' for stdout)")
    _crypto_options(dec, tag=True)
    ver = actions.add_parser("verify", help="authenticate a whole file; prints its tag")
    ver.add_argument("input")
    _crypto_options(ver, tag=True)
    conv = actions.add_parser("convert", help="re-encrypt a file in another format or key")
    conv.add_argument("input")
    conv.add_argument("-o", "--output", required=True)
    _crypto_options(conv, tag=True)
    conv.add_argument("--to-format", choices=FORMATS, required=True)
    conv.add_argument("--to-key", required=True, metavar="HEX")
    conv.add_argument("--to-iv", metavar="HEX")


def _spec(path: str, args: argparse.Namespace) -> ProtectedFile:
    return ProtectedFile(path, args.key, args.format, iv=args.iv, tag=getattr(args, "tag", None))


def _temp_beside(path: str) -> str:
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(head, f".{tail}.pywamr-{os.getpid()}.part")


def run_file(args: argparse.Namespace) -> int:
    """Carry out ``pywamr file ...``; errors propagate to the CLI's handler."""
    command = args.file_command
    if command == "verify":
        spec = _spec(args.input, args)
        tag = verify(spec, check_name=args.check_name)
        with plaintext_reader(spec) as reader:
            size = reader.size  # type: ignore[attr-defined]
            name = reader.stored_name if isinstance(reader, ProtectedFileReader) else None
        detail = f", stored name {name!r}" if name is not None else ""
        print(f"{args.input}: ok, {spec.format}, {size} bytes of plaintext{detail}")
        print(tag.hex())
        return 0
    if command == "encrypt":
        spec = ProtectedFile(args.output, args.key, args.format, iv=args.iv)
        if args.input == "-":
            tag = encrypt_file(sys.stdin.buffer, spec, name=args.name)
        else:
            with open(args.input, "rb") as source:
                tag = encrypt_file(source, spec, name=args.name)
        print(tag.hex())
        return 0
    if command == "decrypt":
        spec = _spec(args.input, args)
        if args.output == "-":
            tag = decrypt_file(spec, sys.stdout.buffer, check_name=args.check_name)
            sys.stdout.buffer.flush()
        else:
            temp = _temp_beside(args.output)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as target:
                    tag = decrypt_file(spec, target, check_name=args.check_name)
                os.replace(temp, args.output)
            except BaseException:
                os.unlink(temp)
                raise
        print(tag.hex(), file=sys.stderr if args.output == "-" else sys.stdout)
        return 0
    target_spec = ProtectedFile(args.output, args.to_key, args.to_format, iv=args.to_iv)
    input_spec = _spec(args.input, args)
    if args.check_name:
        verify(input_spec, check_name=True)
    print(convert_file(input_spec, target_spec).hex())
    return 0


# -- protected files for ``pywamr run`` --------------------------------------
def add_run_options(run: argparse.ArgumentParser) -> None:
    """``--input-crypto`` / ``--output-crypto`` on ``pywamr run``."""
    help_ = ("FID=key=HEX[,format=F][,iv=HEX]{} : the file of that id is in one of Teaclave's "
             f"encrypted formats ({', '.join(FORMATS)}; default {TEACLAVE_FILE_128})")
    run.add_argument("--input-crypto", action="append", metavar="FID=SPEC",
                     help=help_.format("[,tag=HEX]") + "; a wrong key or tag refuses the run")
    run.add_argument("--output-crypto", action="append", metavar="FID=SPEC",
                     help=help_.format("") + "; its tag is printed on stderr")


def _crypto_spec(item: str, flag: str) -> tuple[str, dict[str, str]]:
    fid, sep, rest = item.partition("=")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.partition("=")
        if not eq or name not in ("key", "format", "iv", "tag"):
            raise SystemExit(f"pywamr: {flag} expects FID=key=HEX[,format=F][,iv=HEX][,tag=HEX], "
                             f"got {item!r}")
        fields[name] = value
    if not sep or not fid or "key" not in fields:
        raise SystemExit(f"pywamr: {flag} needs FID=key=HEX..., got {item!r}")
    return fid, fields


def protect(files: dict[str, str], specs: list[str] | None, flag: str,
            ) -> dict[str, str | ProtectedFile]:
    """Replace the paths named by ``--input-crypto``/``--output-crypto`` with descriptions."""
    out: dict[str, str | ProtectedFile] = dict(files)
    for item in specs or ():
        fid, fields = _crypto_spec(item, flag)
        if fid not in files:
            raise SystemExit(f"pywamr: {flag} names file id {fid!r}, which has no path")
        if flag == "--output-crypto" and "tag" in fields:
            raise SystemExit("pywamr: --output-crypto takes no tag (the run reports it)")
        out[fid] = ProtectedFile(files[fid], fields["key"], fields.get("format", TEACLAVE_FILE_128),
                                 iv=fields.get("iv"), tag=fields.get("tag"))
    return out
