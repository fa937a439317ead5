//! A short fuzzing smoke run inside `cargo test`: every fuzz target
//! (`elector_statestore::fuzzing`) over the regression inputs kept in
//! `fuzz/regressions/<target>/` (every crash ever found) and 20,000
//! generated inputs each, built from valid messages by truncation, bit
//! flips, insertions and splices. Real fuzzing: `cargo fuzz run <target>`
//! in `fuzz/` (see its README).
//!
//! A regression that is not replayed protects nothing, and nothing would
//! say so: the run fails when the regressions folder is missing or holds no
//! input, when a folder in it names no target (a renamed target's inputs),
//! when a target's folder is empty, or when an input cannot be read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use elector_statestore::fuzzing::TARGETS;

/// Valid messages of every shape, the seeds of the mutations.
const SEEDS: &[&[u8]] = &[
    b"*3\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n",
    b"*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\nNEX\r\n$2\r\nPX\r\n$3\r\n100\r\n",
    b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    b"*3\r\n$4\r\nVDEL\r\n$1\r\nk\r\n$1\r\nv\r\n",
    b"*3\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n$4\r\nSTOP\r\n",
    b"+OK\r\n",
    b":-1\r\n",
    b"$-1\r\n",
    b"$3\r\nabc\r\n",
    b"-ERR syntax error\r\n",
    b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$1\r\nv\r\n",
    b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n",
    b"001795685572581:00000:node",
    b"12:3:n",
    b"\x15*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\xff\x31*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !data.is_empty() => data.truncate(rng.below(data.len())),
            1 if !data.is_empty() => {
                let at = rng.below(data.len());
                data[at] ^= 1 << rng.below(8);
            }
            2 => {
                let at = rng.below(data.len() + 1);
                data.insert(at, rng.next() as u8);
            }
            3 => {
                let other = SEEDS[rng.below(SEEDS.len())];
                let at = rng.below(data.len() + 1);
                data.splice(at..at, other.iter().copied());
            }
            _ => data.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
        }
    }
    data
}

/// The regression inputs under `dir`, by target.
fn regressions(dir: &Path, targets: &[&str]) -> Result<BTreeMap<String, Vec<PathBuf>>, String> {
    let listing = |dir: &Path| -> Result<Vec<PathBuf>, String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let mut paths = entries
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        paths.sort();
        Ok(paths)
    };
    if !dir.is_dir() {
        return Err(format!(
            "{} is missing: no regression would be replayed",
            dir.display()
        ));
    }
    let mut found = BTreeMap::new();
    for folder in listing(dir)? {
        let name = folder.file_name().unwrap_or_default().to_string_lossy();
        if !folder.is_dir() || !targets.contains(&name.as_ref()) {
            return Err(format!(
                "{} names no fuzz target ({}); its inputs would never be replayed",
                folder.display(),
                targets.join(", ")
            ));
        }
        let inputs = listing(&folder)?;
        if inputs.is_empty() {
            return Err(format!("{} is empty", folder.display()));
        }
        found.insert(name.into_owned(), inputs);
    }
    if found.is_empty() {
        return Err(format!("{} holds no regression input", dir.display()));
    }
    Ok(found)
}

#[test]
fn every_fuzz_target_survives_its_regressions_and_a_burst_of_mutations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    let inputs = regressions(&dir, &names).unwrap_or_else(|e| panic!("{e}"));
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let mine = inputs.get(*name).map_or(&[][..], Vec::as_slice);
        for path in mine {
            let input = std::fs::read(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            target(&input);
        }
        replayed += mine.len();
        let mut rng = Rng(0x5EED ^ name.len() as u64);
        for seed in SEEDS {
            target(seed);
        }
        for _ in 0..20_000 {
            let seed = SEEDS[rng.below(SEEDS.len())];
            target(&mutate(&mut rng, seed));
        }
        eprintln!(
            "fuzz target {name}: {} regressions and 20,000 mutations",
            mine.len()
        );
    }
    eprintln!("fuzz smoke: {replayed} regression inputs replayed in all");
}

/// A folder under the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("fuzz-smoke-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, path: &str) -> &Scratch {
        let path = self.0.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"input").unwrap();
        self
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn refused(dir: &Path, words: &str) {
    match regressions(dir, &["hlc", "service"]) {
        Ok(found) => panic!("{} let through: {found:?}", dir.display()),
        Err(message) => assert!(message.contains(words), "{message}"),
    }
}

#[test]
fn the_regressions_are_found_by_target() {
    let scratch = Scratch::new("found");
    scratch.file("hlc/a").file("hlc/b").file("service/c");
    let found = regressions(&scratch.0, &["hlc", "service"]).unwrap();
    assert_eq!(found["hlc"].len(), 2);
    assert_eq!(found["service"].len(), 1);
}

#[test]
fn a_missing_or_empty_regressions_folder_fails() {
    let scratch = Scratch::new("empty");
    refused(&scratch.0, "holds no regression input");
    refused(&scratch.0.join("absent"), "absent is missing");
}

#[test]
fn inputs_no_target_would_replay_fail() {
    let renamed = Scratch::new("renamed");
    renamed.file("hlc/a").file("old_name/b");
    refused(&renamed.0, "old_name names no fuzz target");
    let loose = Scratch::new("loose");
    loose.file("hlc/a").file("stray");
    refused(&loose.0, "stray names no fuzz target");
}

#[test]
fn an_empty_target_folder_fails() {
    let scratch = Scratch::new("empty-target");
    scratch.file("hlc/a");
    std::fs::create_dir(scratch.0.join("service")).unwrap();
    refused(&scratch.0, "service is empty");
}
