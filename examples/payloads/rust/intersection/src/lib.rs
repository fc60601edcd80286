//! Teaclave-style WAMR payload: intersection of two line sets.
//!
//! Arguments: none.  Inputs: "input_a", "input_b".  Output: "output",
//! which receives every line present in both inputs, deduplicated, sorted
//! bytewise, one per line ("\n"-terminated; a trailing "\r" is kept as part
//! of the line).  Returns the number of common lines, or -1 on any error
//! (including input that is not valid UTF-8).

#[path = "../../common/teaclave_file.rs"]
mod teaclave_file;

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Write};

use teaclave_file::TeaclaveFile;

fn read_lines(file_id: &str) -> io::Result<HashSet<String>> {
    let file = TeaclaveFile::open_input(file_id)?;
    let mut set = HashSet::new();
    for line in BufReader::new(file).lines() {
        set.insert(line?);
    }
    Ok(set)
}

fn run() -> io::Result<usize> {
    let a = read_lines("input_a")?;
    let b = read_lines("input_b")?;
    let mut common: Vec<&String> = a.intersection(&b).collect();
    common.sort_unstable();

    let mut out = TeaclaveFile::create_output("output")?;
    let mut buf = Vec::new();
    for line in &common {
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }
    out.write_all(&buf)?;
    out.close()?;
    Ok(common.len())
}

/// Payload entry point; `argv` holds key/value pairs (unused here).
#[no_mangle]
pub extern "C" fn entrypoint(_argc: i32, _argv: *const *const u8) -> i32 {
    match run() {
        Ok(n) if n <= i32::MAX as usize => n as i32,
        _ => -1,
    }
}
