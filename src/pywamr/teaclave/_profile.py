"""Profiles: Teaclave's executor's behaviour, or pywamr's stricter one.

Every way the two differ is a field of :class:`Profile`, so the table in
``docs/teaclave-fidelity.md`` and the code agree by construction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .._lib import DEFAULT_MODE

#: Caps of the strict profile: bytes written per output and per invocation.
STRICT_MAX_OUTPUT_BYTES = 1 << 30  # 1 GiB
STRICT_MAX_INVOCATION_BYTES = 2 << 30  # 2 GiB


class _Default(enum.Enum):
    """Marker: "the profile's default" for an option that also accepts None."""

    PROFILE = "profile default"


PROFILE_DEFAULT = _Default.PROFILE


@dataclass(frozen=True)
class Profile:
    """How an executor behaves where Teaclave's executor and pywamr differ.

    The numbers refer to the behaviours of docs/teaclave-fidelity.md.
    """

    name: str
    #: 1. trap summaries keep WAMR's "Exception: " prefix
    trap_prefix: str
    #: 2. outputs are written in place (kept after a trap); else a temporary
    #:    file is renamed into place only after a clean run
    outputs_in_place: bool
    #: 3, 4, 12a. the natives follow Teaclave's rules (bad pointers trap,
    #:    handles 1..1023 never reused, file ids decoded lossily)
    native_rules: bool
    #: 5. non-string argument values rendered as serde_json does (else Python's json)
    serde_arguments: bool
    #: 6, 7, 8. Teaclave's argv layout, entrypoint called whatever its type
    teaclave_entry: bool
    #: 9. unresolved imports load (calling one traps)
    allow_unresolved: bool
    #: 10, 11. the default mode (Teaclave's own WAMR build, or pywamr's fastest)
    default_mode: str
    #: 12b. a declared output the payload never creates fails the run
    missing_output_fails: bool
    #: bytes written per output / per invocation (None: unbounded)
    max_output_bytes: int | None
    max_invocation_bytes: int | None


TEACLAVE = Profile(
    name="teaclave", trap_prefix="Exception: ", outputs_in_place=True, native_rules=True,
    serde_arguments=True, teaclave_entry=True, allow_unresolved=True, default_mode="teaclave",
    missing_output_fails=True, max_output_bytes=None, max_invocation_bytes=None)

STRICT = Profile(
    name="strict", trap_prefix="", outputs_in_place=False, native_rules=False,
    serde_arguments=False, teaclave_entry=False, allow_unresolved=False,
    default_mode=DEFAULT_MODE, missing_output_fails=False,
    max_output_bytes=STRICT_MAX_OUTPUT_BYTES, max_invocation_bytes=STRICT_MAX_INVOCATION_BYTES)

PROFILES: dict[str, Profile] = {p.name: p for p in (TEACLAVE, STRICT)}
DEFAULT_PROFILE = "teaclave"  # Teaclave's behaviour unless "strict" is asked for


def get(name: str) -> Profile:
    """The profile called ``name``."""
    if not isinstance(name, str) or name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


def cap(value: int | _Default | None, default: int | None, label: str) -> int | None:
    """A cap option: the profile's default, None (unbounded) or a byte count."""
    if value is PROFILE_DEFAULT:
        return default
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{label} must be a byte count (int >= 0) or None, not {value!r}")
    return value
