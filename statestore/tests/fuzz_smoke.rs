//! A short fuzzing smoke run inside `cargo test`: every fuzz target
//! (`elector_statestore::fuzzing`) over the regression inputs kept in
//! `fuzz/regressions/<target>/` (every crash ever found) and 20,000
//! generated inputs each, built from valid messages by truncation, bit
//! flips, insertions and splices. Real fuzzing: `cargo fuzz run <target>`
//! in `fuzz/` (see its README).

use std::path::Path;

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

#[test]
fn every_fuzz_target_survives_its_regressions_and_a_burst_of_mutations() {
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    for (name, target) in TARGETS {
        let mut replayed = 0;
        if let Ok(entries) = std::fs::read_dir(regressions.join(name)) {
            for entry in entries.flatten() {
                target(&std::fs::read(entry.path()).unwrap());
                replayed += 1;
            }
        }
        let mut rng = Rng(0x5EED ^ name.len() as u64);
        for seed in SEEDS {
            target(seed);
        }
        for _ in 0..20_000 {
            let seed = SEEDS[rng.below(SEEDS.len())];
            target(&mutate(&mut rng, seed));
        }
        eprintln!("fuzz target {name}: {replayed} regressions and 20,000 mutations");
    }
}
