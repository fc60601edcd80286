"""AOT compilation, pywamr's integrity-checked AOT container, and the on-disk cache.

An AOT image is native code, and WAMR's AOT loader crashes on corrupted
files.  So pywamr loads only AOT images it produced itself, wrapped in a
container whose HMAC-SHA256 is checked before WAMR sees a byte of it::

    b"PYWAMR-AOT\\0"  11 bytes  magic
    format            u16 LE    FORMAT_VERSION
    metadata length   u32 LE
    payload length    u32 LE
    metadata          UTF-8 JSON: WAMR/LLVM/pywamr versions, target, cpu, options,
                      the wasm's SHA-256
    mac               32 bytes  HMAC-SHA256(key, every byte above + payload)
    payload           the raw WAMR AOT image (b"\\0aot...")

The key is ``PYWAMR_AOT_KEY`` (at least 16 characters) or, without it, a random
32-byte file ``key`` created with mode 0600 in the cache directory.  After the
MAC, the metadata must match this machine: WAMR version, target architecture
and a CPU level whose features this CPU has.

The cache (``Runtime("aot")``) lives in ``PYWAMR_CACHE_DIR``, else
``$XDG_CACHE_HOME/pywamr``, else ``~/.cache/pywamr``: one container per
(wasm SHA-256, options, target, cpu, WAMR version, pywamr version) under
``aot/``, written to a temporary file and renamed into place.  An entry that
fails its checks is compiled again and replaced.

Only this module touches ``pywamr._compiler``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import os
import platform
import secrets
import struct
import sys
import threading
import warnings
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import AotUnavailableError, LoadError, WamrError
from ._source import Source, read_source
from ._version import __version__

if TYPE_CHECKING:
    from ._compiler import FFI, Lib

Wasm = Source  # wasm bytes or the path of a .wasm file

MAGIC = b"PYWAMR-AOT\0"
FORMAT_VERSION = 1
WAMR_AOT_MAGIC = b"\0aot"
WASM_MAGIC = b"\0asm"
_HEADER = struct.Struct("<11sHII")
_MAC_SIZE = 32
_MAX_METADATA = 64 * 1024
KEY_ENV = "PYWAMR_AOT_KEY"
CACHE_ENV = "PYWAMR_CACHE_DIR"
CPU_ENV = "PYWAMR_AOT_CPU"
_KEY_FILE = "key"
_MIN_KEY_ENV = 16

# x86-64 micro-architecture levels and the /proc/cpuinfo flags each needs.
_X86_V2 = ("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3")
_X86_V3 = (*_X86_V2, "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")
_X86_V4 = (*_X86_V3, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
CPU_LEVELS: dict[str, dict[str, tuple[str, ...]]] = {
    "x86_64": {"x86-64": (), "x86-64-v2": _X86_V2, "x86-64-v3": _X86_V3, "x86-64-v4": _X86_V4},
    "aarch64v8": {"generic": ()},
}
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64v8", "arm64": "aarch64v8"}
HOST_TARGET = _MACHINES.get(platform.machine().lower(), platform.machine().lower())
DEFAULT_CPU = "x86-64-v2" if HOST_TARGET == "x86_64" else "generic"

# Fixed by the runtime cores pywamr loads into (see cmake/core): linear memory
# is bounds-checked by guard pages, but the native stack is not (so the code
# checks it).  AOT code is stopped at a timeout by a signal on these platforms (watchdog.c),
# so it needs no suspend-flag checks (they cost up to a third of a tight loop).
_PREEMPTED = sys.platform == "linux" and platform.machine() in ("x86_64", "aarch64")
_FIXED_OPTIONS = {"bounds_checks": 0, "stack_bounds_checks": 1, "thread_mgr": not _PREEMPTED,
                  "aux_stack_check": True, "bulk_memory": True, "ref_types": True}

# The compiler's status names (compiler.h) -> what to say when it gives no message.
_STATUS_TEXT = {"PWC_ERR_LOAD": "WAMR could not load the module",
                "PWC_ERR_COMPILE": "compilation failed", "PWC_ERR_NOMEM": "out of memory",
                "PWC_ERR_INIT": "the compiler could not start"}


# ---------------------------------------------------------------------------
# The compiler
@lru_cache(maxsize=1)
def _compiler() -> tuple[FFI, Lib]:
    """The compiler extension's ``ffi`` and ``lib`` (imported on first use: it is optional)."""
    try:
        from . import _compiler
    except ImportError as exc:
        raise AotUnavailableError(
            "this pywamr was built without the AOT compiler (LLVM 14 was not found at build "
            "time, or PYWAMR_AOT=OFF): install llvm-14-dev and reinstall pywamr (PYWAMR_AOT=ON "
            f"makes a missing LLVM a build error). Loading AOT containers still works. ({exc})"
        ) from None
    return _compiler.ffi, _compiler.lib


def available() -> bool:
    """Whether this build can compile wasm to AOT (``compile_aot``, ``Runtime("aot")``)."""
    try:
        _compiler()
    except AotUnavailableError:
        return False
    return True


def _read(wasm: Wasm) -> bytes:
    return bytes(read_source(wasm, "wasm"))


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def _missing_features(target: str, cpu: str) -> list[str]:
    return sorted(set(CPU_LEVELS[target][cpu]) - _cpu_flags())


def resolve_cpu(target: str, cpu: str) -> str:
    """The concrete CPU for ``cpu`` (``"host"``: the best level this CPU runs).

    For this machine's target only the levels pywamr can check at load time
    are accepted (``CPU_LEVELS``).
    """
    if not isinstance(cpu, str) or not cpu:
        raise TypeError("cpu must be a non-empty str")
    levels = CPU_LEVELS.get(target)
    if cpu == "host":
        if target != HOST_TARGET or not levels:
            raise ValueError(f"cpu='host' needs this machine's target {HOST_TARGET!r}")
        return [name for name in levels if not _missing_features(target, name)][-1]
    if target == HOST_TARGET and levels is not None and cpu not in levels:
        raise ValueError(f"cpu {cpu!r} is not one pywamr can check at load time; choose one of: "
                         f"{', '.join([*levels, 'host'])}")
    return cpu


def options(*, opt_level: int = 3, size_level: int = 3, target: str | None = None,
            cpu: str | None = None, simd: bool = True) -> dict[str, Any]:
    """The complete, validated compile options (what metadata and cache keys record)."""
    for label, value in (("opt_level", opt_level), ("size_level", size_level)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{label} must be int")
        if not 0 <= value <= 3:
            raise ValueError(f"{label} must be 0..3, not {value}")
    target = HOST_TARGET if target is None else target
    if not isinstance(target, str) or not target:
        raise TypeError("target must be a non-empty str")
    if cpu is None:
        levels = list(CPU_LEVELS.get(target, {"generic": ()}))
        default = DEFAULT_CPU if target == HOST_TARGET else levels[min(1, len(levels) - 1)]
        cpu = (os.environ.get(CPU_ENV) if target == HOST_TARGET else None) or default
    cpu = resolve_cpu(target, cpu)
    return {"target": target, "cpu": cpu, "opt_level": opt_level, "size_level": size_level,
            "simd": bool(simd), **_FIXED_OPTIONS}


def _compile_raw(wasm: bytes, opts: dict[str, Any]) -> tuple[bytes, str]:
    """(raw WAMR AOT image, LLVM version) for ``wasm`` with ``opts``."""
    ffi, lib = _compiler()
    if len(wasm) >= 1 << 32:
        raise LoadError("module is larger than 4 GiB")
    keep = [ffi.new("char[]", opts["target"].encode()), ffi.new("char[]", opts["cpu"].encode())]
    o = ffi.new("pwc_options *")
    o.target_arch, o.target_cpu = keep
    o.opt_level, o.size_level = opts["opt_level"], opts["size_level"]
    o.bounds_checks, o.stack_bounds_checks = opts["bounds_checks"], opts["stack_bounds_checks"]
    o.enable_simd, o.enable_thread_mgr = int(opts["simd"]), int(opts["thread_mgr"])
    o.enable_aux_stack_check = int(opts["aux_stack_check"])
    o.enable_bulk_memory, o.enable_ref_types = int(opts["bulk_memory"]), int(opts["ref_types"])
    out, size = ffi.new("uint8_t **"), ffi.new("uint32_t *")
    err = ffi.new("char[]", 1024)
    rc = lib.pwc_compile(ffi.from_buffer(wasm), len(wasm), o, out, size, err, 1024)
    if rc != lib.PWC_OK:
        texts = {getattr(lib, name): text for name, text in _STATUS_TEXT.items()}
        message = ffi.string(err).decode(errors="replace") or texts.get(rc, f"error {rc}")
        if rc == lib.PWC_ERR_NOMEM:
            raise MemoryError(message)
        raise LoadError(f"AOT compilation failed: {message}")
    try:
        image = bytes(ffi.buffer(out[0], size[0]))
    finally:
        lib.pwc_free(out[0])
    return image, ffi.string(lib.pwc_llvm_version()).decode()


def _compiler_wamr_version() -> str:
    ffi, lib = _compiler()
    parts = ffi.new("uint32_t[3]")
    lib.pwc_wamr_version(parts, parts + 1, parts + 2)
    return ".".join(str(parts[i]) for i in range(3))


def compile_aot(wasm: Wasm, opt_level: int = 3, size_level: int = 3, target: str | None = None,
                cpu: str | None = None, *, simd: bool = True, key: bytes | None = None) -> bytes:
    """Compile a wasm module ahead of time; returns a pywamr AOT container.

    ``wasm`` is bytes or a path.  ``target`` defaults to this machine
    (``"x86_64"``); ``cpu`` to ``PYWAMR_AOT_CPU`` or ``"x86-64-v2"`` (portable;
    ``"x86-64-v3"``/``"x86-64-v4"`` are faster where supported, ``"host"`` picks
    the best level this CPU has).  The container is signed with the AOT key
    (``key``, else ``PYWAMR_AOT_KEY``, else the cache directory's key file) and
    loads with :meth:`Runtime.load` in any mode.

    Raises:
        AotUnavailableError: pywamr was built without the compiler.
        LoadError: the wasm is malformed, or LLVM refused the options.
        ValueError, TypeError: bad options.
    """
    data = _read(wasm)
    opts = options(opt_level=opt_level, size_level=size_level, target=target, cpu=cpu, simd=simd)
    image, llvm = _compile_raw(data, opts)
    meta = _metadata(data, opts, llvm, _compiler_wamr_version())
    return seal(meta, image, key if key is not None else load_key())


def _metadata(wasm: bytes, opts: dict[str, Any], llvm: str, wamr: str) -> dict[str, Any]:
    return {"pywamr": __version__, "wamr": wamr, "llvm": llvm,
            "wasm_sha256": hashlib.sha256(wasm).hexdigest(), **opts}


# ---------------------------------------------------------------------------
# The container
def seal(meta: dict[str, Any], image: bytes, key: bytes) -> bytes:
    """Wrap a raw AOT image and its metadata into a signed container."""
    body = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(body), len(image)) + body
    mac = hmac.new(key, header + image, hashlib.sha256).digest()
    return header + mac + image


def unseal(data: bytes | bytearray | memoryview, key: bytes) -> tuple[dict[str, Any], bytes]:
    """Check a container's structure and MAC; returns (metadata, raw AOT image).

    Raises:
        LoadError: not a container, truncated, or its MAC does not match.
    """
    view = memoryview(data).cast("B")
    if view.nbytes < _HEADER.size or bytes(view[:len(MAGIC)]) != MAGIC:
        raise LoadError("not a pywamr AOT container")
    _, version, meta_len, image_len = _HEADER.unpack_from(view)
    if version != FORMAT_VERSION:
        raise LoadError(f"pywamr AOT container format {version} is not supported "
                        f"(this pywamr reads format {FORMAT_VERSION}): compile the module again")
    if meta_len > _MAX_METADATA or view.nbytes != _HEADER.size + meta_len + _MAC_SIZE + image_len:
        raise LoadError("pywamr AOT container is truncated or has trailing bytes")
    split = _HEADER.size + meta_len
    mac = bytes(view[split:split + _MAC_SIZE])
    image = bytes(view[split + _MAC_SIZE:])
    signed = hmac.new(key, view[:split], hashlib.sha256)
    signed.update(image)
    if not hmac.compare_digest(mac, signed.digest()):
        raise LoadError("pywamr AOT container failed its integrity check: corrupted, or signed "
                        f"with another key ({KEY_ENV} or the key file in the cache directory)")
    try:
        meta = json.loads(bytes(view[_HEADER.size:split]))
    except ValueError:
        raise LoadError("pywamr AOT container has malformed metadata") from None
    if not isinstance(meta, dict) or not image.startswith(WAMR_AOT_MAGIC):
        raise LoadError("pywamr AOT container has malformed contents")
    return meta, image


def check_runnable(meta: dict[str, Any], wamr_version: str) -> None:
    """Refuse a container this runtime and this CPU cannot run.

    Raises:
        LoadError: another WAMR version, target architecture or a CPU level
            whose features this CPU lacks.
    """
    if meta.get("wamr") != wamr_version:
        raise LoadError(f"AOT container was compiled for WAMR {meta.get('wamr')}, this runtime is "
                        f"WAMR {wamr_version}: compile the module again")
    target, cpu = meta.get("target"), meta.get("cpu")
    if target != HOST_TARGET:
        raise LoadError(f"AOT container was compiled for target {target!r}, this machine is "
                        f"{HOST_TARGET!r}")
    if not isinstance(cpu, str) or cpu not in CPU_LEVELS.get(HOST_TARGET, {}):
        raise LoadError(f"AOT container was compiled for CPU {cpu!r}, which pywamr cannot check")
    missing = _missing_features(target, cpu)
    if missing:
        raise LoadError(f"AOT container was compiled for CPU {cpu!r}, but this CPU lacks "
                        f"{', '.join(missing)}: compile for a lower level (e.g. x86-64-v2)")


def open_container(data: bytes | bytearray | memoryview, wamr_version: str) -> bytes:
    """The raw AOT image of a container that is authentic and runs here."""
    meta, image = unseal(data, load_key())
    check_runnable(meta, wamr_version)
    return image


# ---------------------------------------------------------------------------
# The key and the cache directory
def cache_dir() -> Path:
    """``PYWAMR_CACHE_DIR``, else ``$XDG_CACHE_HOME/pywamr``, else ``~/.cache/pywamr``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "pywamr"


def _make_dir(path: Path) -> None:
    """Make ``path`` and missing parents, each 0700 (the umask may narrow it further)."""
    if not path.is_dir():
        if path.parent != path:
            _make_dir(path.parent)
        path.mkdir(mode=0o700, exist_ok=True)


def load_key() -> bytes:
    """The AOT key: ``PYWAMR_AOT_KEY``, else the cache directory's key file (made on first use)."""
    env = os.environ.get(KEY_ENV)
    if env is not None:
        if len(env) < _MIN_KEY_ENV:
            raise WamrError(f"{KEY_ENV} must be at least {_MIN_KEY_ENV} characters "
                            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')")
        return env.encode()
    directory = cache_dir()
    path = directory / _KEY_FILE
    try:
        _make_dir(directory)
        if not path.exists():
            _create_key(directory, path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            info = os.fstat(fd)
            key = os.read(fd, 64)
        finally:
            os.close(fd)
    except OSError as exc:
        raise WamrError(f"cannot read or create the AOT key file {path}: {exc} "
                        f"(set {KEY_ENV} or {CACHE_ENV})") from None
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WamrError(f"the AOT key file {path} must belong to you with mode 0600 "
                        "(anyone who can read it can make AOT code pywamr will run)")
    if len(key) != 32:
        raise WamrError(f"the AOT key file {path} is damaged: delete it and a new one is made "
                        "(cached AOT code is then compiled again)")
    return key


def _create_key(directory: Path, path: Path) -> None:
    """Make the key file atomically: concurrent creators all end up with one key."""
    temp = directory / f".key-{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temp)


_memo: OrderedDict[tuple[str, str], tuple[tuple[int, int, int], bytes]] = OrderedDict()
_MEMO_ENTRIES = 32
_memo_lock = threading.Lock()
_compile_locks: dict[str, threading.Lock] = {}


@lru_cache(maxsize=1)
def build_id() -> str:
    """This build's WAMR sources, patches and compiler driver (written by CMake)."""
    try:
        info = importlib.import_module("pywamr._build_info")
    except ImportError:  # a source tree that was never built
        return "unknown"
    return str(info.BUILD_ID)


def _cache_key(wasm_sha256: str, opts: dict[str, Any], wamr_version: str) -> str:
    # build_id: a rebuilt pywamr with other WAMR patches (e.g. a compiler fix)
    # must not reuse code the old compiler made.
    material = {"format": FORMAT_VERSION, "wasm_sha256": wasm_sha256, "wamr": wamr_version,
                "pywamr": __version__, "build": build_id(), **opts}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cached_image(wasm: bytes, wamr_version: str, opts: dict[str, Any] | None = None) -> bytes:
    """The raw AOT image for ``wasm``, from the on-disk cache or compiled into it.

    A cache entry is used only if its MAC verifies and its metadata names this
    very wasm and these options; otherwise it is compiled again and replaced.
    Verified entries are remembered in-process while the file is unchanged.
    """
    opts = opts or options()
    wasm_sha256 = hashlib.sha256(wasm).hexdigest()
    digest = _cache_key(wasm_sha256, opts, wamr_version)
    directory = cache_dir() / "aot"
    path = directory / f"{digest}.aot"
    memo_key = (str(path), digest)
    image = _cache_lookup(path, memo_key, wasm_sha256, opts, wamr_version)
    if image is not None:
        return image
    with _memo_lock:
        lock = _compile_locks.setdefault(digest, threading.Lock())
    with lock:  # one compilation per entry per process
        image = _cache_lookup(path, memo_key, wasm_sha256, opts, wamr_version)
        if image is not None:
            return image
        image, llvm = _compile_raw(wasm, opts)
        meta = _metadata(wasm, opts, llvm, _compiler_wamr_version())
        try:
            _make_dir(directory)
            _write_atomic(path, seal(meta, image, load_key()))
            _remember(path, memo_key, image)
        except (OSError, WamrError) as exc:
            warnings.warn(f"pywamr: AOT cache {directory} is not usable ({exc}); the module "
                          "was compiled in memory and will be compiled again next time",
                          RuntimeWarning, stacklevel=4)
    return image


def _cache_lookup(path: Path, memo_key: tuple[str, str], wasm_sha256: str,
                  opts: dict[str, Any], wamr_version: str) -> bytes | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
    with _memo_lock:
        found = _memo.get(memo_key)
        if found is not None and found[0] == stamp:
            _memo.move_to_end(memo_key)
            return found[1]
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        meta, image = unseal(data, load_key())
        check_runnable(meta, wamr_version)
    except (OSError, WamrError):
        return None  # damaged, tampered with or foreign: compile again
    expected = {"wasm_sha256": wasm_sha256, "wamr": wamr_version, **opts}
    if any(meta.get(name) != value for name, value in expected.items()):
        return None  # an authentic container, but for something else
    _remember(path, memo_key, image)
    return image


def _remember(path: Path, memo_key: tuple[str, str], image: bytes) -> None:
    try:
        info = os.stat(path)
    except OSError:
        return
    with _memo_lock:
        _memo[memo_key] = ((info.st_ino, info.st_size, info.st_mtime_ns), image)
        while len(_memo) > _MEMO_ENTRIES:
            _memo.popitem(last=False)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write beside the target and rename: readers see the old or the new file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------
# Runtime.load's view
_core_versions: dict[str, str] = {}


def _wamr_version(core: Any) -> str:
    found = _core_versions.get(core.mode)
    if found is None:
        parts = core.ffi.new("uint32_t[3]")
        core.lib.pw_wamr_version(parts, parts + 1, parts + 2)
        found = _core_versions[core.mode] = ".".join(str(parts[i]) for i in range(3))
    return found


def prepare(data: bytes | bytearray | memoryview, core: Any) -> bytes | bytearray | memoryview:
    """What WAMR may load for ``data`` in ``core`` (a ``_lib.Core``).

    Containers are verified and unwrapped; raw WAMR AOT images are refused;
    in mode ``"aot"`` wasm is compiled through the cache.  Anything else is
    returned unchanged (WAMR's wasm loader checks it).
    """
    mode, wamr_version = core.mode, _wamr_version(core)
    head = bytes(memoryview(data).cast("B")[:len(MAGIC)])
    if head.startswith(MAGIC):
        return open_container(data, wamr_version)
    if head.startswith(WAMR_AOT_MAGIC):
        raise LoadError("refusing a raw WAMR AOT file: pywamr loads only AOT containers it "
                        "produced (pywamr.compile_aot or `pywamr compile`), integrity-checked, "
                        "because WAMR's AOT loader is not safe against corrupted files")
    if mode == "aot":
        if not head.startswith(WASM_MAGIC):
            raise LoadError("not a WebAssembly module or pywamr AOT container")
        return cached_image(bytes(data), wamr_version)
    return data
