//! What a training run shows while it runs: TensorBoard scalars (CleanRL's tags, per policy) and the
//! progress bar.

use tensorboard_rs::summary_writer::SummaryWriter;

use super::policy::Policy;
use super::rollout::Rollout;
use super::update::UpdateStats;
use crate::env::MultiAgentEnv;

pub use crate::run::job::ProgressView;

/// The TensorBoard writer and the progress bar of a run.
pub struct Logger {
    writer: SummaryWriter,
    bar: indicatif::ProgressBar,
    /// Added to the run's step for the bar's position (a shared bar); None: the bar is the run's own.
    offset: Option<u64>,
    /// Per policy: the latest per-environment-episode mean return (for the progress bar).
    latest_episode_mean: Vec<Option<f64>>,
}

impl Logger {
    /// Events into `run_dir`; progress of `total` steps, now at `position`, shown as `progress` says.
    pub fn new(
        run_dir: &std::path::Path,
        progress: &ProgressView,
        total: u64,
        position: u64,
        policies: usize,
    ) -> Self {
        let (bar, offset) = match progress {
            ProgressView::Shared { bar, offset } => (bar.clone(), Some(*offset)),
            own => {
                let bar = if matches!(own, ProgressView::Bar) {
                    indicatif::ProgressBar::new(total)
                } else {
                    indicatif::ProgressBar::hidden()
                };
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} train [{elapsed_precise}] {wide_bar} {pos}/{len} steps (eta {eta}) {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                (bar, None)
            }
        };
        let log = Logger {
            writer: SummaryWriter::new(run_dir),
            bar,
            offset,
            latest_episode_mean: vec![None; policies],
        };
        log.position(position);
        log
    }

    /// Every numeric hyper-parameter of every policy as `hparams/<policy>/<name>` at `step` (booleans as
    /// 0/1): TensorBoard's text and hparams summaries are not available in tensorboard-rs.
    pub fn hyper_parameters(&mut self, policies: &[Policy], step: u64) {
        for p in policies {
            let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&p.cfg) else {
                continue;
            };
            for (key, v) in fields {
                let x = match v {
                    serde_json::Value::Bool(b) => Some(b as u8 as f64),
                    serde_json::Value::Number(n) => n.as_f64(),
                    _ => None,
                };
                if let Some(x) = x {
                    self.writer.add_scalar(
                        &format!("hparams/{}/{key}", p.name),
                        x as f32,
                        step as usize,
                    );
                }
            }
            self.writer.add_scalar(
                &format!("hparams/{}/frozen", p.name),
                p.frozen as u8 as f32,
                step as usize,
            );
        }
    }

    /// The scalars of one update at `step`: per policy returns, learning rate, losses and behaviour
    /// rates; SPS, agent steps and the world's metrics averaged over the environments.
    #[allow(clippy::too_many_arguments)]
    pub fn update<E: MultiAgentEnv>(
        &mut self,
        step: u64,
        policies: &[Policy],
        rollout: &Rollout,
        stats: &[Option<UpdateStats>],
        lr_fraction: f64,
        envs: &[E],
        sps: f64,
        agent_steps: u64,
    ) {
        let w = &mut self.writer;
        let s = step as usize;
        let behaviours = envs.first().map(|e| e.behaviours()).unwrap_or(&[]);
        for (k, p) in policies.iter().enumerate() {
            let name = &p.name;
            let means = &rollout.episode_means[k];
            if !means.is_empty() {
                let m = means.iter().sum::<f64>() / means.len() as f64;
                self.latest_episode_mean[k] = Some(m);
                w.add_scalar(&format!("charts/episode_mean_return/{name}"), m as f32, s);
            }
            let finished = &rollout.finished[k];
            if !finished.is_empty() {
                let m = finished.iter().sum::<f64>() / finished.len() as f64;
                w.add_scalar(&format!("charts/episodic_return/{name}"), m as f32, s);
            }
            let Some(st) = stats[k] else { continue };
            w.add_scalar(
                &format!("charts/learning_rate/{name}"),
                p.lr(lr_fraction) as f32,
                s,
            );
            for (tag, v) in st.tagged() {
                w.add_scalar(&format!("losses/{name}/{tag}"), v as f32, s);
            }
            let tr = &rollout.transitions[k];
            if let (Some(env), false) = (envs.first(), behaviours.is_empty()) {
                let heads = p.net.nvec.len();
                let mut counts = vec![0usize; behaviours.len()];
                let mut shown = vec![false; behaviours.len()];
                let mut action = vec![0u32; heads];
                for a in tr.actions.chunks(heads) {
                    for (dst, &b) in action.iter_mut().zip(a) {
                        *dst = b as u32;
                    }
                    env.shows(&action, &mut shown);
                    for (c, &x) in counts.iter_mut().zip(&shown) {
                        *c += x as usize;
                    }
                }
                for (tag, c) in behaviours.iter().zip(counts) {
                    let v = c as f32 / tr.len().max(1) as f32;
                    w.add_scalar(&format!("behaviour/{name}/{tag}_rate"), v, s);
                }
            }
        }
        w.add_scalar("charts/SPS", sps as f32, s);
        w.add_scalar("charts/agent_steps", agent_steps as f32, s);
        // The world's metrics, averaged over the environments (every env reports them in one order).
        let mut sums: Vec<(&'static str, f64)> = Vec::new();
        for e in envs {
            for (j, &(name, v)) in e.output().info.metrics.iter().enumerate() {
                match sums.get_mut(j) {
                    Some(slot) if slot.0 == name => slot.1 += v,
                    _ => sums.push((name, v)),
                }
            }
        }
        let n = envs.len().max(1) as f64;
        for (name, sum) in sums {
            w.add_scalar(&format!("commons/{name}"), (sum / n) as f32, s);
        }
        w.flush();
        // Per policy: its agents' mean return in the latest finished environment episode (in the
        // Commons, arrivals who leave early would drown a per-agent mean), else the last 100 agents'.
        let msg: Vec<String> = policies
            .iter()
            .zip(&self.latest_episode_mean)
            .map(|(p, latest)| {
                let r = latest.unwrap_or_else(|| {
                    crate::stats::MeanSd::population(p.stats.returns.iter().map(|&r| r as f64)).mean
                });
                format!("{} {}", p.name, crate::format::short(r))
            })
            .collect();
        if self.offset.is_none() {
            self.bar
                .set_message(format!("SPS {:.0} | return {}", sps, msg.join(", ")));
        }
    }

    /// Moves the bar to `step`.
    pub fn position(&self, step: u64) {
        self.bar.set_position(self.offset.unwrap_or(0) + step);
    }

    /// Flushes the events and removes the bar (a shared bar stays, for its owner).
    pub fn finish(mut self) {
        if self.offset.is_none() {
            self.bar.finish_and_clear();
        }
        self.writer.flush();
    }
}
