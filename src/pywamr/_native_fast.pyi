"""Typing stub of pywamr._native_fast: generated from bridge.h, do not edit.

Regenerate with ``python tools/ffibuild.py --stubs`` after changing bridge.h.
"""

from collections.abc import Callable
from typing import Any

class CData:
    """A cffi C object (pointer, array, struct)."""

    def __getitem__(self, index: int) -> Any: ...
    def __setitem__(self, index: int, value: Any) -> None: ...
    def __add__(self, offset: int) -> CData: ...
    def __bool__(self) -> bool: ...
    def __getattr__(self, name: str) -> Any: ...  # struct fields
    def __setattr__(self, name: str, value: Any) -> None: ...

class FFI:
    NULL: CData
    def new(self, cdecl: str, init: Any = ...) -> CData: ...
    def cast(self, cdecl: str, value: Any) -> CData: ...
    def addressof(self, cdata: Any, *fields: str) -> CData: ...
    def string(self, cdata: CData, maxlen: int = ...) -> bytes: ...
    def unpack(self, cdata: CData, length: int) -> bytes: ...
    def buffer(self, cdata: CData, size: int = ...) -> Any: ...
    def from_buffer(self, data: Any, require_writable: bool = ...) -> CData: ...
    def gc(self, cdata: CData, destructor: Callable[[CData], object], size: int = ...) -> CData: ...
    def def_extern(self, name: str = ..., error: Any = ..., onerror: Any = ...) -> Any: ...
    def memmove(self, dest: Any, src: Any, n: int) -> None: ...

class Lib:
    PW_OK: int
    PW_ERR_TRAP: int
    PW_ERR_CLOSED: int
    PW_ERR_BUSY: int
    PW_ERR_RANGE: int
    PW_ERR_NOMEM: int
    PW_ERR_HOST: int
    PW_ERR_TIMEOUT: int
    PW_ERR_STATE: int
    PW_ERR_LOAD: int
    PW_ERR_LINK: int
    PW_ERR_INSTANTIATE: int
    PW_HOST_PYTHON: int
    PW_HOST_NATIVE: int
    PW_HOST_BUILTIN: int
    PW_INT_SENTINEL: int
    def pw_wamr_acquire(self, fresh: int, err: CData, err_len: int) -> int: ...
    def pw_wamr_release(self, destroy: int) -> None: ...
    def pw_wamr_version(self, major: CData, minor: CData, patch: CData) -> None: ...
    def pw_hosts_new(self) -> CData: ...
    def pw_hosts_release(self, hosts: CData) -> None: ...
    def pw_hosts_set(
        self,
        hosts: CData,
        module_name: bytes | CData,
        name: bytes | CData,
        sig: bytes | CData,
        kind: int,
        fn: CData,
        py_id: int,
    ) -> int: ...
    def pw_builtin_fn(self, name: bytes | CData) -> CData: ...
    def pw_wasm_scan(
        self,
        buf: bytes | CData,
        size: int,
        table_memory_imports: CData,
        nul_import_name: CData,
        nul_export_name: CData,
    ) -> int: ...
    def pw_module_load(
        self,
        hosts: CData,
        buf: bytes | CData,
        size: int,
        allow_unresolved: int,
        out: CData,
        err: CData,
        err_len: int,
    ) -> int: ...
    def pw_module_release(self, module: CData) -> None: ...
    def pw_module_is_aot(self, module: CData) -> int: ...
    def pw_module_export_count(self, module: CData) -> int: ...
    def pw_module_export(
        self,
        module: CData,
        i: int,
        name: CData,
        kind: CData,
        sig: CData,
        sig_len: int,
    ) -> int: ...
    def pw_module_import_count(self, module: CData) -> int: ...
    def pw_module_import(
        self,
        module: CData,
        i: int,
        module_name: CData,
        name: CData,
        kind: CData,
        sig: CData,
        sig_len: int,
        linked: CData,
    ) -> int: ...
    def pw_instance_alloc(self, handle: int) -> CData: ...
    def pw_instance_start(
        self,
        inst: CData,
        module: CData,
        stack_size: int,
        heap_size: int,
        err: CData,
        err_len: int,
    ) -> int: ...
    def pw_instance_close(self, inst: CData) -> int: ...
    def pw_instance_free(self, inst: CData) -> None: ...
    def pw_instance_is_closed(self, inst: CData) -> int: ...
    def pw_instance_snapshot(self, inst: CData) -> int: ...
    def pw_instance_reset(self, inst: CData) -> int: ...
    def pw_instance_timings(
        self,
        inst: CData,
        instantiate_ns: CData,
        exec_env_ns: CData,
    ) -> None: ...
    def pw_instance_error(self, inst: CData) -> CData: ...
    def pw_instance_func(
        self,
        inst: CData,
        name: bytes | CData,
        sig: CData,
        sig_len: int,
    ) -> CData: ...
    def pw_instance_func_at(
        self,
        inst: CData,
        export_index: int,
        sig: CData,
        sig_len: int,
    ) -> CData: ...
    def pw_call_deadline(
        self,
        inst: CData,
        func: CData,
        argc: int,
        argv: CData,
        timeout: float,
    ) -> int: ...
    def pw_fastfn_new(self, inst: CData, func: CData, sig: bytes | CData) -> CData: ...
    def pw_fastfn_free(self, f: CData) -> None: ...
    def pw_fcall0(self, f: int) -> int: ...
    def pw_fcall1(self, f: int, a0: int) -> int: ...
    def pw_fcall2(self, f: int, a0: int, a1: int) -> int: ...
    def pw_fcall3(self, f: int, a0: int, a1: int, a2: int) -> int: ...
    def pw_fcall4(self, f: int, a0: int, a1: int, a2: int, a3: int) -> int: ...
    def pw_last_status(self) -> int: ...
    def pw_fcall_float(
        self,
        f: int,
        i0: int,
        i1: int,
        i2: int,
        i3: int,
        d0: float,
        d1: float,
        d2: float,
        d3: float,
    ) -> float: ...
    def pw_fcall_cells(self, f: int, argc: int, argv: CData) -> int: ...
    def pw_memory(self, inst: CData, size: CData) -> CData: ...
    def pw_view_acquire(self, inst: CData) -> None: ...
    def pw_view_release(self, inst: CData) -> None: ...
    def pw_memory_at(self, inst: CData, offset: int, size: int) -> CData: ...
    def pw_memory_write(self, inst: CData, offset: int, data: bytes | CData, size: int) -> int: ...
    def pw_invoke_entry(
        self,
        inst: CData,
        func: CData,
        n: int,
        packed: bytes | CData,
        packed_len: int,
        timeout: float,
        result: CData,
    ) -> int: ...
    def pw_invoke_entry_teaclave(
        self,
        inst: CData,
        func: CData,
        n: int,
        packed: bytes | CData,
        packed_len: int,
        timeout: float,
        result: CData,
    ) -> int: ...
    def pw_output_capture(self, inst: CData, enabled: int) -> None: ...
    def pw_output_peek(self, inst: CData, size: CData) -> CData: ...
    def pw_output_clear(self, inst: CData) -> None: ...
    def pw_output_size(self, inst: CData) -> int: ...
    def pw_files_declare(
        self,
        inst: CData,
        file_id: bytes | CData,
        path: bytes | CData,
        is_output: int,
    ) -> int: ...
    def pw_files_close_all(self, inst: CData) -> int: ...
    def pw_files_configure(
        self,
        inst: CData,
        teaclave_rules: int,
        max_output: int,
        max_total: int,
    ) -> int: ...
    def pw_files_output_state(self, inst: CData, file_id: bytes | CData, failed: CData) -> int: ...
    def pw_files_error_count(self, inst: CData) -> int: ...
    def pw_files_error(self, inst: CData, i: int) -> CData: ...
    def pw_teaclave_invoke_kept(
        self,
        inst: CData,
        func: CData,
        n: int,
        packed: bytes | CData,
        packed_len: int,
        timeout: float,
        teaclave_layout: int,
        teaclave_rules: int,
        max_output: int,
        max_total: int,
        capture: int,
        result: CData,
        reset: CData,
    ) -> int: ...
    def pw_host_raised(self) -> None: ...
    def pw_set_host_caller(self, fn: int) -> None: ...
    def pw_global_type(
        self,
        inst: CData,
        export_index: int,
        type: CData,
        is_mutable: CData,
    ) -> int: ...
    def pw_global_get(self, inst: CData, export_index: int, out16: CData) -> int: ...
    def pw_global_set(self, inst: CData, export_index: int, in16: bytes | CData) -> int: ...
    def pw_table_info(
        self,
        inst: CData,
        export_index: int,
        elem_type: CData,
        size: CData,
        max_size: CData,
    ) -> int: ...
    def pw_table_get(self, inst: CData, export_index: int, i: int, ref: CData) -> int: ...
    def pw_table_set(self, inst: CData, export_index: int, i: int, ref: int) -> int: ...
    def pw_table_grow(
        self,
        inst: CData,
        export_index: int,
        delta: int,
        init: int,
        old_size: CData,
    ) -> int: ...
    def pw_externref_index(self, inst: CData, host_value: int, index: CData) -> int: ...
    def pw_externref_value(self, index: int) -> int: ...
    def pw_funcref_function(self, inst: CData, index: int, sig: CData, sig_len: int) -> CData: ...
    def pw_function_index(self, inst: CData, func: CData) -> int: ...
    def pw_module_import_global(
        self,
        module: CData,
        i: int,
        type: CData,
        is_mutable: CData,
        builtin: CData,
    ) -> int: ...
    def pw_module_link_global(self, module: CData, i: int, value16: bytes | CData) -> int: ...
    def pw_wasi_instance_start(
        self,
        inst: CData,
        module: CData,
        stack_size: int,
        heap_size: int,
        argv: CData,
        argc: int,
        env: CData,
        envc: int,
        host_dirs: CData,
        guest_dirs: CData,
        ndirs: int,
        stdin_fd: int,
        stdout_fd: int,
        stderr_fd: int,
        err: CData,
        err_len: int,
    ) -> int: ...
    def pw_wasi_take_exit(self, inst: CData, code: CData) -> int: ...

ffi: FFI
lib: Lib
