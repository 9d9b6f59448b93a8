//! Who plays the learned personalities during an evaluation: anything that picks actions for a
//! policy's rows of an environment output.

use crate::env::StepOutput;

/// A policy's failure to act (a libtorch error, for instance), passed on unchanged.
pub type ActError = Box<dyn std::error::Error + Send + Sync>;

/// Something that samples a policy's actions for its rows of an output.
pub trait Actor {
    /// Samples actions for every live row of `out` served by policy `k` into `actions` (one value per
    /// head and row, row-major over all rows of `out`) with `rng`, and returns how many rows it acted
    /// for. Rows of other policies are left as they are.
    fn act(
        &self,
        k: usize,
        out: &StepOutput,
        rng: &mut rand_pcg::Pcg32,
        actions: &mut [u32],
    ) -> Result<usize, ActError>;
}

/// The actors of every policy of a run, in policy order.
pub enum Actors {
    /// Actors that threads can share (plain numbers on the CPU): episodes are played in parallel.
    Parallel(Vec<Box<dyn Actor + Send + Sync>>),
    /// Actors bound to one thread (e.g. on a GPU): episodes are played one after the other.
    Serial(Vec<Box<dyn Actor>>),
}

impl Actors {
    /// Number of policies.
    pub fn len(&self) -> usize {
        match self {
            Actors::Parallel(a) => a.len(),
            Actors::Serial(a) => a.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
