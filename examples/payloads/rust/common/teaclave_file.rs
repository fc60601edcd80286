//! `std::io` access to the Teaclave file API imported from module `env`.
//!
//! The five host functions mirror `examples/payloads/include/teaclave_file.h`:
//! open/create return a handle > 0 (write handles have bit 0x4000_0000 set)
//! or -1; read/write return a byte count (0 = end of file for reads) or -1;
//! close returns 0 or -1.

use std::ffi::CString;
use std::io;

#[link(wasm_import_module = "env")]
extern "C" {
    fn teaclave_open_input(file_id: *const u8) -> i32;
    fn teaclave_create_output(file_id: *const u8) -> i32;
    fn teaclave_read_file(handle: i32, buf: *mut u8, size: usize) -> i32;
    fn teaclave_write_file(handle: i32, buf: *const u8, size: usize) -> i32;
    fn teaclave_close_file(handle: i32) -> i32;
}

/// An open Teaclave input or output file; closed on drop.
pub struct TeaclaveFile {
    handle: i32,
}

fn c_id(file_id: &str) -> io::Result<CString> {
    CString::new(file_id).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check_handle(handle: i32) -> io::Result<TeaclaveFile> {
    if handle > 0 {
        Ok(TeaclaveFile { handle })
    } else {
        Err(io::Error::from(io::ErrorKind::NotFound))
    }
}

impl TeaclaveFile {
    /// Opens the input registered under `file_id` for reading.
    pub fn open_input(file_id: &str) -> io::Result<TeaclaveFile> {
        let id = c_id(file_id)?;
        check_handle(unsafe { teaclave_open_input(id.as_ptr() as *const u8) })
    }

    /// Creates the output declared under `file_id` for writing.
    pub fn create_output(file_id: &str) -> io::Result<TeaclaveFile> {
        let id = c_id(file_id)?;
        check_handle(unsafe { teaclave_create_output(id.as_ptr() as *const u8) })
    }

    /// Closes the file, reporting a failed close (drop ignores it).
    pub fn close(self) -> io::Result<()> {
        let handle = self.handle;
        std::mem::forget(self);
        if unsafe { teaclave_close_file(handle) } == 0 {
            Ok(())
        } else {
            Err(io::Error::from(io::ErrorKind::Other))
        }
    }
}

impl io::Read for TeaclaveFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = unsafe { teaclave_read_file(self.handle, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            Err(io::Error::from(io::ErrorKind::Other))
        } else {
            Ok(n as usize)
        }
    }
}

impl io::Write for TeaclaveFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = unsafe { teaclave_write_file(self.handle, buf.as_ptr(), buf.len()) };
        if n < 0 {
            Err(io::Error::from(io::ErrorKind::Other))
        } else {
            Ok(n as usize)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TeaclaveFile {
    fn drop(&mut self) {
        unsafe {
            teaclave_close_file(self.handle);
        }
    }
}
