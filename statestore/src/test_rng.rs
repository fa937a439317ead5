//! The deterministic random numbers of this crate's randomised tests (the
//! store against its reference model, the decoders against hostile input):
//! one generator, so a failing seed replays exactly in either.

/// xorshift64: a tiny deterministic PRNG, so failures replay exactly.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number of the sequence.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform enough in `0..n` for a test.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index (or a length) in `0..len`.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True once in `one_in` draws, roughly.
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// One of `items`, each as likely as another.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}
