//! `VecEnv`: N environments stepped in parallel with rayon, with automatic reset at episode end.
//!
//! Outputs are concatenated in environment order, so they are identical for any thread count. When an
//! environment's episode ends, its final rows (terminated/truncated) are followed by the rows of its next
//! episode (`is_new`), seeded deterministically from the base seed, the environment index and the episode
//! number. Actions are given for every row of the last output, in order; only live rows' actions are used.

use rayon::prelude::*;

use super::api::{AgentRow, EnvError, MultiAgentEnv, StepOutput};

/// Where one environment's rows sit in the combined output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// First row of this environment in the combined output.
    pub start: usize,
    /// Rows of a finished episode, before the current episode's rows.
    pub finished: usize,
    /// Rows of the current episode.
    pub current: usize,
}

/// Seed of episode `episode` of environment `env` for a base seed (SplitMix64 of the three).
pub fn episode_seed(base: u64, env: usize, episode: u64) -> u64 {
    let mut z = base
        ^ (env as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ episode.wrapping_mul(0xd1b5_4a32_d192_ed03);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The base seed of a training run's episodes (environment `i`'s episode `e` has
/// [`episode_seed`]`(base, i, e)`) for training seed `train_seed`.
pub fn training_base_seed(train_seed: u64) -> u64 {
    episode_seed(train_seed, usize::MAX, 0)
}

/// N environments of the same kind.
pub struct VecEnv<E> {
    envs: Vec<E>,
    finals: Vec<StepOutput>,
    episodes: Vec<u64>,
    base_seed: u64,
    heads: usize,
    segments: Vec<Segment>,
    out: StepOutput,
    /// Environment index of each combined row.
    row_env: Vec<usize>,
    /// Episode number (per environment) of each combined row.
    row_episode: Vec<u64>,
    pool: Option<rayon::ThreadPool>,
    /// Episodes finished so far, all environments together.
    pub episodes_done: u64,
}

impl<E: MultiAgentEnv + Send> VecEnv<E> {
    /// Wraps `envs` (at least one); `threads = 0` uses rayon's global pool.
    pub fn new(envs: Vec<E>, threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let heads = envs
            .first()
            .map(|e| e.action_spec(0).nvec.len())
            .unwrap_or(0);
        let pool = if threads > 0 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()?,
            )
        } else {
            None
        };
        let n = envs.len();
        Ok(VecEnv {
            envs,
            finals: vec![StepOutput::default(); n],
            episodes: vec![0; n],
            base_seed: 0,
            heads,
            segments: vec![Segment::default(); n],
            out: StepOutput::default(),
            row_env: Vec::new(),
            row_episode: Vec::new(),
            pool,
            episodes_done: 0,
        })
    }

    /// Number of environments.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// Whether there are no environments.
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// The environments.
    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// The combined last output.
    pub fn output(&self) -> &StepOutput {
        &self.out
    }

    /// Environment of each row of the last output.
    pub fn row_env(&self) -> &[usize] {
        &self.row_env
    }

    /// Episode number (within its environment) of each row of the last output.
    pub fn row_episode(&self) -> &[u64] {
        &self.row_episode
    }

    /// The episode number each environment is in now (0 after `reset`, +1 at each auto-reset).
    pub fn episodes(&self) -> &[u64] {
        &self.episodes
    }

    /// Where each environment's rows are.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    fn run<R: Send>(
        &mut self,
        f: impl Fn(usize, &mut E, &mut StepOutput, &mut u64) -> R + Sync,
    ) -> Vec<R> {
        let envs = &mut self.envs;
        let finals = &mut self.finals;
        let episodes = &mut self.episodes;
        if E::CHEAP_STEP {
            return envs
                .iter_mut()
                .zip(finals.iter_mut())
                .zip(episodes.iter_mut())
                .enumerate()
                .map(|(i, ((e, fin), ep))| f(i, e, fin, ep))
                .collect();
        }
        let mut work = || {
            envs.par_iter_mut()
                .zip(finals.par_iter_mut())
                .zip(episodes.par_iter_mut())
                .enumerate()
                .map(|(i, ((e, fin), ep))| f(i, e, fin, ep))
                .collect()
        };
        match &self.pool {
            Some(p) => p.install(work),
            None => work(),
        }
    }

    /// Runs `f` in this vector's thread pool (rayon's global pool without one).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    /// The base seed of the episodes (set by [`Self::reset`]).
    pub fn base_seed(&self) -> u64 {
        self.base_seed
    }

    /// Starts environment `i` in episode `episodes[i]` of base seed `seed`, from its first day: what a
    /// resumed run does with the episodes its checkpoint was in (with `episodes` all 0, [`Self::reset`]; an environment beyond `episodes` starts episode 0).
    pub fn resume(&mut self, seed: u64, episodes: &[u64]) -> Result<&StepOutput, EnvError> {
        self.base_seed = seed;
        let results = self.run(|i, env, fin, ep| {
            *ep = episodes.get(i).copied().unwrap_or(0);
            fin.clear(0, 0);
            env.reset(episode_seed(seed, i, *ep)).map(|_| ())
        });
        results.into_iter().collect::<Result<Vec<()>, EnvError>>()?;
        self.gather();
        Ok(&self.out)
    }

    /// Resets every environment: environment `i` starts episode 0 with [`episode_seed`]`(seed, i, 0)`.
    pub fn reset(&mut self, seed: u64) -> Result<&StepOutput, EnvError> {
        self.base_seed = seed;
        let results = self.run(|i, env, fin, ep| {
            *ep = 0;
            fin.clear(0, 0);
            env.reset(episode_seed(seed, i, 0)).map(|_| ())
        });
        results.into_iter().collect::<Result<Vec<()>, EnvError>>()?;
        self.gather();
        Ok(&self.out)
    }

    /// Steps every environment with its slice of `actions` (one action per row of the last combined
    /// output); environments whose episode ends are reset.
    pub fn step(&mut self, actions: &[u32]) -> Result<&StepOutput, EnvError> {
        let heads = self.heads;
        let rows = self.out.rows.len();
        if actions.len() != rows * heads {
            return Err(EnvError::ActionCount {
                expected: rows * heads,
                rows,
                heads,
                got: actions.len(),
            });
        }
        let segments = self.segments.clone();
        let base = self.base_seed;
        let results = self.run(|i, env, fin, ep| {
            let s = segments[i];
            let from = (s.start + s.finished) * heads;
            let to = from + s.current * heads;
            let done = env.step(&actions[from..to])?.info.done;
            if done {
                fin.clone_from(env.output());
                *ep += 1;
                env.reset(episode_seed(base, i, *ep))?;
            } else {
                fin.clear(0, 0);
            }
            Ok::<bool, EnvError>(done)
        });
        let mut finished = 0;
        for r in results {
            finished += r? as u64;
        }
        self.episodes_done += finished;
        self.gather();
        Ok(&self.out)
    }

    /// Concatenates the environments' outputs (finished episode first, then the current one).
    fn gather(&mut self) {
        let (obs_len, mask_len) = self
            .envs
            .first()
            .map(|e| (e.output().obs_len, e.output().mask_len))
            .unwrap_or((0, 0));
        self.out.clear(obs_len, mask_len);
        self.row_env.clear();
        self.row_episode.clear();
        let mut done_all = true;
        for (i, (env, fin)) in self.envs.iter().zip(&self.finals).enumerate() {
            let start = self.out.rows.len();
            let current = self.episodes[i];
            for (part, episode) in [(fin, current.saturating_sub(1)), (env.output(), current)] {
                self.out.rows.extend_from_slice(&part.rows);
                self.out.obs.extend_from_slice(&part.obs);
                self.out.masks.extend_from_slice(&part.masks);
                self.row_env.extend(std::iter::repeat_n(i, part.rows.len()));
                self.row_episode
                    .extend(std::iter::repeat_n(episode, part.rows.len()));
            }
            done_all &= env.output().info.done;
            self.segments[i] = Segment {
                start,
                finished: fin.rows.len(),
                current: env.output().rows.len(),
            };
        }
        self.out.info.done = done_all && !self.envs.is_empty();
        self.out.info.step = self.envs.first().map(|e| e.output().info.step).unwrap_or(0);
    }

    /// The live rows of the last output (these are the ones whose actions are used).
    pub fn live_rows(&self) -> impl Iterator<Item = (usize, &AgentRow)> {
        self.out.rows.iter().enumerate().filter(|(_, r)| r.live())
    }
}
