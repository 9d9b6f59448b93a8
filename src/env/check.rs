//! A generic checker every environment must pass (in the spirit of PettingZoo's `parallel_api_test`):
//! shapes, bounds, masks, determinism, and refusal of masked actions.

use rand::{Rng, SeedableRng};

use super::api::{EnvError, MultiAgentEnv, StepOutput};

/// Draws a random legal action for every row of `out` (rows that are not live get zeros).
pub fn random_legal_actions(
    out: &StepOutput,
    nvec: &[usize],
    rng: &mut impl Rng,
    actions: &mut Vec<u32>,
) {
    actions.clear();
    for (i, row) in out.rows.iter().enumerate() {
        let mask = out.mask_row(i);
        let mut offset = 0;
        for &n in nvec {
            let v = if row.live() {
                let allowed = (0..n).filter(|&b| mask[offset + b]).count();
                let pick = rng.random_range(0..allowed.max(1));
                (0..n).filter(|&b| mask[offset + b]).nth(pick).unwrap_or(0)
            } else {
                0
            };
            actions.push(v as u32);
            offset += n;
        }
    }
}

fn check_output<E: MultiAgentEnv>(env: &E, out: &StepOutput) -> Result<(), String> {
    let rows = out.rows.len();
    if out.obs.len() != rows * out.obs_len || out.masks.len() != rows * out.mask_len {
        return Err(format!(
            "buffer sizes: {} obs / {} masks for {rows} rows",
            out.obs.len(),
            out.masks.len()
        ));
    }
    for (i, row) in out.rows.iter().enumerate() {
        let spec = env.observation_spec(row.policy);
        let act = env.action_spec(row.policy);
        if spec.len != out.obs_len || act.mask_len() != out.mask_len {
            return Err(format!("row {i}: spec lengths differ from the output's"));
        }
        if !row.reward.is_finite() {
            return Err(format!("row {i}: reward {}", row.reward));
        }
        for (j, &v) in out.obs_row(i).iter().enumerate() {
            if !v.is_finite() && spec.high[j].is_finite() {
                return Err(format!("row {i}: observation {} = {v}", spec.names[j]));
            }
            if v < spec.low[j] - 1e-4 || v > spec.high[j] + 1e-4 {
                return Err(format!(
                    "row {i}: observation {} = {v} outside [{}, {}]",
                    spec.names[j], spec.low[j], spec.high[j]
                ));
            }
        }
        if row.live() {
            let mask = out.mask_row(i);
            let mut offset = 0;
            for (h, &n) in act.nvec.iter().enumerate() {
                if !mask[offset..offset + n].iter().any(|&m| m) {
                    return Err(format!(
                        "row {i}: head {} has no allowed action",
                        act.heads[h]
                    ));
                }
                offset += n;
            }
        }
    }
    Ok(())
}

/// Runs `episodes` episodes of random legal actions from `seed` and checks every output, that the same
/// seed replays the same episode, and that a masked action is refused. Returns the number of steps.
pub fn check_env<E: MultiAgentEnv>(
    env: &mut E,
    seed: u64,
    max_steps: usize,
) -> Result<usize, String> {
    let nvec = env.action_spec(0).nvec.clone();
    let mut trace = Vec::new();
    let mut steps = 0;
    for pass in 0..2 {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
        let mut actions = Vec::new();
        let out = env.reset(seed).map_err(|e| e.to_string())?.clone();
        check_output(env, &out)?;
        let mut record = vec![out];
        for _ in 0..max_steps {
            let out = env.output();
            if out.info.done {
                break;
            }
            random_legal_actions(out, &nvec, &mut rng, &mut actions);
            let out = env.step(&actions).map_err(|e| e.to_string())?.clone();
            check_output(env, &out)?;
            record.push(out);
        }
        if pass == 0 {
            steps = record.len() - 1;
            trace = record;
        } else if trace != record {
            return Err("the same seed gave a different episode".to_string());
        }
    }
    // A masked (or out-of-range) action must be refused before it reaches the world.
    let out = env.reset(seed).map_err(|e| e.to_string())?.clone();
    if let Some(i) = out.rows.iter().position(|r| r.live()) {
        let mut actions = vec![0u32; out.rows.len() * nvec.len()];
        let mask = out.mask_row(i);
        let mut offset = 0;
        let mut bad = None;
        for (h, &n) in nvec.iter().enumerate() {
            if let Some(b) = (0..n).find(|&b| !mask[offset + b]) {
                bad = Some((h, b as u32));
                break;
            }
            offset += n;
        }
        let (h, b) = bad.unwrap_or((0, nvec[0] as u32));
        actions[i * nvec.len() + h] = b;
        match env.step(&actions) {
            Err(EnvError::MaskedAction { .. }) => {}
            other => return Err(format!("masked action was not refused: {other:?}")),
        }
    }
    Ok(steps)
}
