"""Native host functions shipped with pywamr (no Python on the call path).

``FILE_API`` is the Teaclave file API: register it with
``runtime.register_hosts("env", natives.FILE_API)``.  Each function works on
the calling instance's declared files (see :mod:`pywamr.teaclave`).
"""

from __future__ import annotations

from ._host import NativeFunction

teaclave_open_input = NativeFunction(0, "($)i", builtin="teaclave_open_input")
teaclave_create_output = NativeFunction(0, "($)i", builtin="teaclave_create_output")
teaclave_read_file = NativeFunction(0, "(i*~)i", builtin="teaclave_read_file")
teaclave_write_file = NativeFunction(0, "(i*~)i", builtin="teaclave_write_file")
teaclave_close_file = NativeFunction(0, "(i)i", builtin="teaclave_close_file")

FILE_API: dict[str, NativeFunction] = {
    "teaclave_open_input": teaclave_open_input,
    "teaclave_create_output": teaclave_create_output,
    "teaclave_read_file": teaclave_read_file,
    "teaclave_write_file": teaclave_write_file,
    "teaclave_close_file": teaclave_close_file,
}

__all__ = ["FILE_API", "teaclave_close_file", "teaclave_create_output", "teaclave_open_input",
           "teaclave_read_file", "teaclave_write_file"]
