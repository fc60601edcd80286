//! Teaclave-style WAMR payload: private set intersection (Teaclave's PSI task).
//!
//! Arguments: "input1_fid", "input2_fid" (the two parties' inputs) and
//! "output1_fid", "output2_fid" (one result per party), as in Teaclave's
//! example task.  Each input holds one entry per line.  Both outputs receive
//! the entries found in both inputs, deduplicated and sorted bytewise, one
//! per line, then a final "done" line.  Returns the number of common entries,
//! or -1 on a missing argument or a file error (including input that is not
//! valid UTF-8).

#[path = "../../common/teaclave_file.rs"]
mod teaclave_file;

use std::collections::BTreeSet;
use std::ffi::CStr;
use std::io::{self, BufRead, BufReader, Write};
use std::os::raw::c_char;

use teaclave_file::TeaclaveFile;

/// The value of argument `key`, if present (pairs in `argv[..argc]`).
fn argument(argc: i32, argv: *const *const c_char, key: &str) -> Option<String> {
    if argv.is_null() || argc < 0 {
        return None;
    }
    let items: Vec<Option<&CStr>> = (0..argc as usize)
        .map(|i| {
            // SAFETY: Teaclave passes argc pointers (NULL when a string did not fit).
            let p = unsafe { *argv.add(i) };
            if p.is_null() {
                None
            } else {
                Some(unsafe { CStr::from_ptr(p) })
            }
        })
        .collect();
    items.chunks(2).find_map(|pair| match pair {
        [Some(k), Some(v)] if k.to_bytes() == key.as_bytes() => {
            Some(v.to_string_lossy().into_owned())
        }
        _ => None,
    })
}

fn entries(file_id: &str) -> io::Result<BTreeSet<String>> {
    let file = TeaclaveFile::open_input(file_id)?;
    BufReader::new(file).lines().collect()
}

fn run(inputs: [&str; 2], outputs: [&str; 2]) -> io::Result<usize> {
    let first = entries(inputs[0])?;
    let second = entries(inputs[1])?;
    let mut text = Vec::new();
    let mut common = 0;
    for entry in first.intersection(&second) {
        text.extend_from_slice(entry.as_bytes());
        text.push(b'\n');
        common += 1;
    }
    text.extend_from_slice(b"done\n");
    for output in outputs.iter() {
        let mut file = TeaclaveFile::create_output(output)?;
        file.write_all(&text)?;
        file.close()?;
    }
    Ok(common)
}

/// Payload entry point; `argv` holds key/value pairs.
#[no_mangle]
pub extern "C" fn entrypoint(argc: i32, argv: *const *const c_char) -> i32 {
    let get = |key| argument(argc, argv, key);
    let (i1, i2, o1, o2) = match (get("input1_fid"), get("input2_fid"), get("output1_fid"),
                                  get("output2_fid")) {
        (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
        _ => return -1,
    };
    match run([&i1, &i2], [&o1, &o2]) {
        Ok(n) if n <= i32::MAX as usize => n as i32,
        _ => -1,
    }
}
