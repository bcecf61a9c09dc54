//! The simulator's only source of randomness: xoshiro256** seeded through splitmix64.
//!
//! Written in-house (rather than taken from `rand`) so that a seed's run can never change
//! with a dependency upgrade: the stream for a seed is fixed by this file alone.

/// splitmix64: expands one `u64` seed into a stream of well-mixed words. Used only to seed
/// [`Rng`], as the xoshiro authors recommend.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next word.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman & Vigna): fast, 256 bits of state, good statistical quality.
#[derive(Clone, Debug)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// A generator for `seed`. Every seed (zero included) gives a non-zero state, because
    /// splitmix64 never outputs four zero words in a row.
    pub fn new(seed: u64) -> Self {
        let mut mix = SplitMix64::new(seed);
        Rng { state: [mix.next_u64(), mix.next_u64(), mix.next_u64(), mix.next_u64()] }
    }

    /// An independent generator for one part of the simulation (the network, one node's
    /// clock, ...), so that drawing more numbers in one part does not shift the stream of
    /// another: a change to the fault model keeps the same schedule of crashes.
    pub fn fork(&mut self, label: u64) -> Rng {
        Rng::new(self.next_u64() ^ label.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The next word.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.state[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.state[1] << 17;
        self.state[2] ^= self.state[0];
        self.state[3] ^= self.state[1];
        self.state[1] ^= self.state[2];
        self.state[0] ^= self.state[3];
        self.state[2] ^= t;
        self.state[3] = self.state[3].rotate_left(45);
        result
    }

    /// A uniform value in `0..bound` (Lemire's multiply-and-reject, so no modulo bias).
    /// `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "Rng::below needs a positive bound");
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            let low = product as u64;
            if low >= bound.wrapping_neg() % bound {
                return (product >> 64) as u64;
            }
        }
    }

    /// A uniform value in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "Rng::between needs low <= high");
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// A uniform index into a non-empty slice.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_vector() {
        // Reference outputs of splitmix64 for seed 1234567 (from the public reference
        // implementation by Vigna).
        let mut mix = SplitMix64::new(1234567);
        assert_eq!(mix.next_u64(), 6457827717110365317);
        assert_eq!(mix.next_u64(), 3203168211198807973);
        assert_eq!(mix.next_u64(), 9817491932198370423);
    }

    #[test]
    fn same_seed_same_stream_different_seed_differs() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let mut c = Rng::new(43);
        let xs: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(7);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let value = rng.below(7);
            seen[value as usize] += 1;
        }
        // Each bucket expects 1000; a fair generator is nowhere near these bounds.
        assert!(seen.iter().all(|&count| (800..1200).contains(&count)), "{seen:?}");
        assert_eq!(rng.between(5, 5), 5);
        assert!((10..=20).contains(&rng.between(10, 20)));
    }

    #[test]
    fn chance_respects_extremes() {
        let mut rng = Rng::new(9);
        assert!((0..1000).all(|_| !rng.chance(0)));
        assert!((0..1000).all(|_| rng.chance(1000)));
    }
}
