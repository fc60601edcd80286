//! wordfreq: the most frequent words over every file of a directory (WASI).
//!
//!     wordfreq DIR [N]
//!
//! Reads each regular file directly in DIR (sorted by name), splits the text
//! into words (runs of alphanumeric characters, lower-cased) and prints the N
//! (default 10) most frequent as "count word", most frequent first, ties in
//! alphabetical order; then "files F words W" on the last line.  DIR must be
//! a directory the host preopened.  Exit status 1 if DIR cannot be read.

use std::collections::HashMap;
use std::env;
use std::fs;
use std::io::{self, Write};
use std::process;

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: wordfreq DIR [N]");
        process::exit(2);
    }
    let top: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10);
    let mut names: Vec<_> = match fs::read_dir(&args[1]) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.path())
            .collect(),
        Err(err) => {
            eprintln!("wordfreq: {}: {}", args[1], err);
            process::exit(1);
        }
    };
    names.sort();
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut words = 0u64;
    for name in &names {
        let bytes = match fs::read(name) {
            Ok(b) => b,
            Err(err) => {
                eprintln!("wordfreq: {}: {}", name.display(), err);
                process::exit(1);
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            *counts.entry(word.to_lowercase()).or_insert(0) += 1;
            words += 1;
        }
    }
    let mut ranked: Vec<(&String, &u64)> = counts.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for (word, count) in ranked.into_iter().take(top) {
        writeln!(out, "{} {}", count, word).unwrap();
    }
    writeln!(out, "files {} words {}", names.len(), words).unwrap();
}
