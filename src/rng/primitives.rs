//! numpy's legacy sampling algorithms (`RandomState`), generic over a 32-bit engine.
//!
//! The same algorithms run on MT19937 (bit-exact numpy, `--rng numpy-legacy`) and on PCG32 (our default
//! generator), so both modes draw every primitive the same way and differ only in the engine.

/// A source of uniformly distributed 32-bit words.
pub trait Engine {
    /// The next 32-bit output.
    fn next_u32(&mut self) -> u32;
}

impl Engine for super::mt19937::Mt19937 {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        super::mt19937::Mt19937::next_u32(self)
    }
}

impl Engine for rand_pcg::Pcg32 {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        rand::RngCore::next_u32(self)
    }
}

/// One random stream: an engine plus the Gaussian cache numpy keeps per `RandomState`.
#[derive(Clone, Debug)]
pub struct Stream<E> {
    engine: E,
    gauss: Option<f64>,
}

impl<E: Engine> Stream<E> {
    /// Wraps an engine, with an empty Gaussian cache.
    pub fn new(engine: E) -> Self {
        Stream {
            engine,
            gauss: None,
        }
    }

    /// `U` on [0, 1) with 53 random bits: `((a >> 5)·2²⁶ + (b >> 6)) / 2⁵³` (numpy `rand()`).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        let a = (self.engine.next_u32() >> 5) as f64;
        let b = (self.engine.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// Standard exponential: `−ln(1 − U)` (numpy `standard_exponential`).
    #[inline]
    pub fn standard_exponential(&mut self) -> f64 {
        -(1.0 - self.uniform()).ln()
    }

    /// Standard normal by the polar method, with numpy's one-value cache (numpy `gauss`).
    pub fn gauss(&mut self) -> f64 {
        if let Some(cached) = self.gauss.take() {
            return cached;
        }
        loop {
            let x1 = 2.0 * self.uniform() - 1.0;
            let x2 = 2.0 * self.uniform() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// Standard gamma with shape `a` (scale 1), numpy's legacy algorithm: Marsaglia–Tsang for `a > 1`,
    /// exponential for `a = 1`, Johnk-like rejection for `a < 1`.
    pub fn standard_gamma(&mut self, shape: f64) -> f64 {
        if shape == 1.0 {
            return self.standard_exponential();
        }
        if shape == 0.0 {
            return 0.0;
        }
        if shape < 1.0 {
            loop {
                let u = self.uniform();
                let v = self.standard_exponential();
                if u <= 1.0 - shape {
                    let x = u.powf(1.0 / shape);
                    if x <= v {
                        return x;
                    }
                } else {
                    let y = -((1.0 - u) / shape).ln();
                    let x = (1.0 - shape + shape * y).powf(1.0 / shape);
                    if x <= v + y {
                        return x;
                    }
                }
            }
        }
        let b = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * b).sqrt();
        loop {
            let (x, mut v) = loop {
                let x = self.gauss();
                let v = 1.0 + c * x;
                if v > 0.0 {
                    break (x, v);
                }
            };
            v = v * v * v;
            let u = self.uniform();
            if u < 1.0 - 0.0331 * (x * x) * (x * x) {
                return b * v;
            }
            if u.ln() < 0.5 * x * x + b * (1.0 - v + v.ln()) {
                return b * v;
            }
        }
    }

    /// A uniform index in `0..n` by masked rejection (numpy `choice(list)` / `randint(0, n)`);
    /// `n ≤ 1` returns 0 without drawing.
    pub fn index(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let range = (n - 1) as u64;
        if range > u32::MAX as u64 {
            // Beyond any realistic population; numpy would draw 64-bit words here.
            let mask = u64::MAX >> range.leading_zeros();
            loop {
                let hi = self.engine.next_u32() as u64;
                let lo = self.engine.next_u32() as u64;
                let v = ((hi << 32) | lo) & mask;
                if v <= range {
                    return v as usize;
                }
            }
        }
        let range = range as u32;
        let mask = u32::MAX >> range.leading_zeros();
        loop {
            let v = self.engine.next_u32() & mask;
            if v <= range {
                return v as usize;
            }
        }
    }
}
