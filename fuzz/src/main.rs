//! A mutation fuzzer for Kith's parsers that runs on the stable toolchain (no nightly, so no
//! cargo-fuzz here): each target starts from its committed corpus (`fuzz/corpus/TARGET/`),
//! mutates inputs at random (bit flips, cut and repeated spans, splices between inputs, and
//! tokens the formats care about) and calls the code under test. A panic is a finding: the
//! input is written to `fuzz/crashes/` and the run fails.
//!
//! `cargo run -p kith-fuzz --release -- [--seconds N] [--target xml|vcard|ical|csv] [--seed S]`

mod targets;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A small, fast PRNG (xorshift64*): reproducible from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Inputs never grow past this, so a run explores shapes rather than sizes.
const MAX_INPUT: usize = 64 * 1024;

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], tokens: &[&[u8]]) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                input.drain(a..b);
            }
            3 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256)).min(len);
                let span = input[a..b].to_vec();
                let at = rng.below(len);
                for _ in 0..=rng.below(8) {
                    input.splice(at..at, span.iter().copied());
                }
            }
            4 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(512)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[a..b].iter().copied());
                }
            }
            5 | 6 if !tokens.is_empty() => {
                let t = tokens[rng.below(tokens.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, t.iter().copied());
            }
            _ if len > 0 => {
                input.truncate(rng.below(len));
            }
            _ => input.push(rng.next() as u8),
        }
    }
    input.truncate(MAX_INPUT);
}

fn corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = arg("--seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    let only = arg("--target");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Panics are findings, reported once each with the input's file, not as noise.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for t in targets::ALL {
        if only.as_deref().is_some_and(|o| o != t.name) {
            continue;
        }
        let seeds = corpus(&root.join("corpus").join(t.name));
        let mut rng = Rng(seed);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runs = 0u64;
        let mut queue: Vec<Vec<u8>> = seeds.clone();
        while Instant::now() < deadline {
            let mut input = if runs < seeds.len() as u64 {
                seeds[runs as usize].clone()
            } else {
                let mut x = queue[rng.below(queue.len())].clone();
                mutate(&mut rng, &mut x, &seeds, t.tokens);
                x
            };
            input.truncate(MAX_INPUT);
            let run = t.run;
            let data = input.clone();
            if std::panic::catch_unwind(move || run(&data)).is_err() {
                let dir = root.join("crashes");
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{}-{:016x}", t.name, rng.next()));
                let _ = std::fs::write(&path, &input);
                eprintln!("{}: panic on the input saved as {}", t.name, path.display());
                failed = true;
                break;
            }
            // Keep some mutants as parents: runs wander further from the seeds.
            if runs.is_multiple_of(16) && queue.len() < 256 {
                queue.push(input);
            }
            runs += 1;
        }
        println!(
            "{}: {runs} inputs in {seconds} s from {} seeds (seed {seed})",
            t.name,
            seeds.len()
        );
    }
    if failed {
        std::process::exit(1);
    }
}
