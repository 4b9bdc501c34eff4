//! Optimizers whose state can be saved: libtorch's optimizers keep their moments out of reach
//! of the Rust bindings, so a run resumed from a checkpoint would restart Adam from zero
//! moments (and its bias correction from step 1), a jolt to a policy that was converging.
//! These are the updates of `torch.optim.Adam` and `torch.optim.RMSprop` (no weight decay, no
//! AMSGrad, no momentum), step for step, over the trainable variables of a `VarStore`, with
//! the moments and the step count written next to the weights.

use crate::agent::AgentError;
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// β₁ = 0.9, β₂ = 0.999.
    Adam,
    /// RMSprop with smoothing constant α.
    RmsProp { alpha: f64 },
}

/// Adam or RMSprop over the trainable variables of one `VarStore`.
pub(crate) struct Optim {
    rule: Rule,
    /// The trainable variables, by name (sorted), with their moments.
    params: Vec<Param>,
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Updates taken so far (the `t` of Adam's bias corrections).
    steps: i64,
}

impl std::fmt::Debug for Optim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optim")
            .field("rule", &self.rule)
            .field("params", &self.params.len())
            .field("learning_rate", &self.learning_rate)
            .field("steps", &self.steps)
            .finish()
    }
}

struct Param {
    name: String,
    value: Tensor,
    /// Adam's first moment (unused by RMSprop).
    exp_avg: Tensor,
    /// Adam's second moment, RMSprop's square average.
    exp_avg_sq: Tensor,
}

/// The tensor in the state file that holds the step count.
const STEPS: &str = "optimizer.steps";

impl Optim {
    /// Adam with β = (0.9, 0.999) and the given `eps` over the trainable variables of `vs`.
    pub(crate) fn adam(vs: &nn::VarStore, learning_rate: f64, eps: f64) -> Self {
        Self::new(Rule::Adam, vs, learning_rate, eps)
    }

    /// RMSprop with smoothing constant `alpha` and the given `eps`.
    pub(crate) fn rms_prop(vs: &nn::VarStore, learning_rate: f64, alpha: f64, eps: f64) -> Self {
        Self::new(Rule::RmsProp { alpha }, vs, learning_rate, eps)
    }

    fn new(rule: Rule, vs: &nn::VarStore, learning_rate: f64, eps: f64) -> Self {
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let params = named
            .into_iter()
            .map(|(name, value)| Param {
                exp_avg: value.zeros_like(),
                exp_avg_sq: value.zeros_like(),
                name,
                value,
            })
            .collect();
        Self {
            rule,
            params,
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps,
            steps: 0,
        }
    }

    /// Sets the step size of the next updates.
    pub(crate) fn set_lr(&mut self, learning_rate: f64) {
        self.learning_rate = learning_rate;
    }

    /// Updates taken so far.
    #[cfg(test)]
    pub(crate) fn steps(&self) -> i64 {
        self.steps
    }

    /// Clears the gradients, runs `loss.backward()`, scales the gradients down to a global
    /// norm of at most `max_grad_norm` (as libtorch's `clip_grad_norm`), and takes one step.
    pub(crate) fn backward_step_clip(&mut self, loss: &Tensor, max_grad_norm: f64) {
        for p in &mut self.params {
            p.value.zero_grad();
        }
        loss.backward();
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self
                .params
                .iter()
                .map(|p| p.value.grad())
                .filter(|g| g.defined())
                .collect();
            if grads.is_empty() {
                return;
            }
            // As torch.nn.utils.clip_grad_norm_: one coefficient for all gradients.
            let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            let coef = max_grad_norm / (total + 1e-6);
            if coef < 1.0 {
                for g in &grads {
                    let _ = g.shallow_clone().g_mul_scalar_(coef);
                }
            }
            self.steps += 1;
            match self.rule {
                Rule::Adam => self.adam_step(),
                Rule::RmsProp { alpha } => self.rms_prop_step(alpha),
            }
        });
    }

    fn adam_step(&mut self) {
        let t = self.steps as f64;
        let bias1 = 1.0 - self.beta1.powf(t);
        let bias2_sqrt = (1.0 - self.beta2.powf(t)).sqrt();
        let step_size = self.learning_rate / bias1;
        for p in &mut self.params {
            let grad = p.value.grad();
            if !grad.defined() {
                continue;
            }
            let _ = p.exp_avg.lerp_(&grad, 1.0 - self.beta1);
            let _ = p.exp_avg_sq.g_mul_scalar_(self.beta2);
            let _ = p.exp_avg_sq.addcmul_(&grad, &(&grad * (1.0 - self.beta2)));
            let denom = (p.exp_avg_sq.sqrt() / bias2_sqrt) + self.eps;
            let _ = p.value.addcdiv_(&(&p.exp_avg * -step_size), &denom);
        }
    }

    fn rms_prop_step(&mut self, alpha: f64) {
        for p in &mut self.params {
            let grad = p.value.grad();
            if !grad.defined() {
                continue;
            }
            let _ = p.exp_avg_sq.g_mul_scalar_(alpha);
            let _ = p.exp_avg_sq.addcmul_(&grad, &(&grad * (1.0 - alpha)));
            let denom = p.exp_avg_sq.sqrt() + self.eps;
            let _ = p.value.addcdiv_(&(&grad * -self.learning_rate), &denom);
        }
    }

    /// Writes the moments and the step count to `path` (safetensors, on the CPU).
    pub(crate) fn save(&self, path: &Path) -> Result<(), String> {
        let mut named: Vec<(String, Tensor)> = Vec::with_capacity(2 * self.params.len() + 1);
        for p in &self.params {
            if self.rule == Rule::Adam {
                named.push((
                    format!("exp_avg.{}", p.name),
                    p.exp_avg.to_device(Device::Cpu),
                ));
            }
            named.push((
                format!("exp_avg_sq.{}", p.name),
                p.exp_avg_sq.to_device(Device::Cpu),
            ));
        }
        named.push((STEPS.to_string(), Tensor::from_slice(&[self.steps])));
        Tensor::write_safetensors(&named, path).map_err(|e| e.to_string())
    }

    /// Reads what [`Optim::save`] wrote, checking every name and shape.
    pub(crate) fn load(&mut self, path: &Path) -> Result<(), AgentError> {
        let error = |message: String| AgentError::Checkpoint {
            path: path.display().to_string(),
            message,
        };
        let tensors: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(path)
            .map_err(|e| error(e.to_string()))?
            .into_iter()
            .collect();
        let steps = tensors
            .get(STEPS)
            .filter(|t| t.kind() == Kind::Int64 && t.numel() == 1)
            .map(|t| t.int64_value(&[0]))
            .ok_or_else(|| error(format!("missing the step count '{STEPS}'")))?;
        if steps < 0 {
            return Err(error(format!("step count {steps} is negative")));
        }
        let _guard = tch::no_grad_guard();
        let adam = self.rule == Rule::Adam;
        for p in &mut self.params {
            let moments = [
                ("exp_avg", &mut p.exp_avg),
                ("exp_avg_sq", &mut p.exp_avg_sq),
            ];
            for (prefix, moment) in moments.into_iter().skip(usize::from(!adam)) {
                let name = format!("{prefix}.{}", p.name);
                let src = tensors
                    .get(&name)
                    .ok_or_else(|| error(format!("missing tensor '{name}'")))?;
                if src.size() != moment.size() {
                    return Err(error(format!(
                        "tensor '{name}' has shape {:?}, expected {:?}",
                        src.size(),
                        moment.size()
                    )));
                }
                if src.isfinite().all().int64_value(&[]) == 0 {
                    return Err(error(format!("tensor '{name}' holds NaN or infinity")));
                }
                moment.copy_(src);
            }
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::{Module, OptimizerConfig};

    fn model(vs: &nn::VarStore) -> impl Module {
        nn::seq()
            .add(nn::linear(vs.root() / "a", 4, 8, Default::default()))
            .add_fn(|x| x.tanh())
            .add(nn::linear(vs.root() / "b", 8, 2, Default::default()))
    }

    fn loss_of(m: &impl Module, step: i64) -> Tensor {
        let x = Tensor::arange(12, (Kind::Float, Device::Cpu)).view([3, 4]) / 7.0 + step as f64;
        (m.forward(&x) - 0.5).square().sum(Kind::Float)
    }

    /// Fifty clipped steps of `ours` and of libtorch's `theirs` from the same weights end
    /// at the same weights.
    fn assert_matches_libtorch(
        seed: i64,
        ours: impl FnOnce(&nn::VarStore) -> Optim,
        theirs: impl FnOnce(&nn::VarStore) -> nn::Optimizer,
    ) {
        tch::manual_seed(seed);
        let vs_ours = nn::VarStore::new(Device::Cpu);
        let model_ours = model(&vs_ours);
        let mut vs_theirs = nn::VarStore::new(Device::Cpu);
        let model_theirs = model(&vs_theirs);
        vs_theirs.copy(&vs_ours).unwrap();
        let (mut ours, mut theirs) = (ours(&vs_ours), theirs(&vs_theirs));
        for step in 0..50 {
            ours.backward_step_clip(&loss_of(&model_ours, step % 3), 0.5);
            theirs.backward_step_clip_norm(&loss_of(&model_theirs, step % 3), 0.5);
        }
        let a = vs_ours.variables();
        for (name, t) in vs_theirs.variables() {
            let diff = (&a[&name] - &t).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{name}: {diff}");
        }
    }

    #[test]
    fn matches_libtorch_adam() {
        assert_matches_libtorch(
            0,
            |vs| Optim::adam(vs, 0.01, 1e-5),
            |vs| nn::adam(0.9, 0.999, 0.0).eps(1e-5).build(vs, 0.01).unwrap(),
        );
    }

    #[test]
    fn matches_libtorch_rms_prop() {
        assert_matches_libtorch(
            2,
            |vs| Optim::rms_prop(vs, 0.005, 0.99, 1e-5),
            |vs| {
                nn::rms_prop(0.99, 1e-5, 0.0, 0.0, false)
                    .build(vs, 0.005)
                    .unwrap()
            },
        );
    }

    /// Saved and loaded halfway, the run ends where an uninterrupted one does.
    #[test]
    fn a_reloaded_state_continues_exactly() {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = model(&vs);
        let mut adam = Optim::adam(&vs, 0.01, 1e-8);
        for step in 0..10 {
            adam.backward_step_clip(&loss_of(&m, step), 1.0);
        }
        let dir = std::env::temp_dir().join(format!("cadenza-adam-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("adam.safetensors");
        adam.save(&path).unwrap();
        let mut vs2 = nn::VarStore::new(Device::Cpu);
        let m2 = model(&vs2);
        vs2.copy(&vs).unwrap();
        let mut adam2 = Optim::adam(&vs2, 0.01, 1e-8);
        adam2.load(&path).unwrap();
        assert_eq!(adam2.steps(), 10);
        for step in 10..20 {
            adam.backward_step_clip(&loss_of(&m, step), 1.0);
            adam2.backward_step_clip(&loss_of(&m2, step), 1.0);
        }
        let a = vs.variables();
        for (name, t) in vs2.variables() {
            assert!(a[&name].equal(&t), "{name}");
        }
        // A state file of another model is refused with the name of what is missing.
        let other = nn::VarStore::new(Device::Cpu);
        let _ = nn::linear(other.root() / "c", 4, 2, Default::default());
        let err = Optim::adam(&other, 0.01, 1e-8).load(&path).unwrap_err();
        assert!(err.to_string().contains("exp_avg.c."), "{err}");
        std::fs::write(&path, b"not a tensor file").unwrap();
        assert!(adam2.load(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
