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
///
/// The variables are views into one flat buffer, and the moments are flat too, so a step is
/// a handful of whole-buffer operations instead of a handful per variable: at the sizes of
/// these networks each libtorch call costs more in dispatch than in arithmetic.
pub(crate) struct Optim {
    rule: Rule,
    /// The trainable variables, by name (sorted), each a view of `flat`.
    params: Vec<Param>,
    /// Every trainable weight, in the order of `params`.
    flat: Tensor,
    /// Adam's first moment (unused by RMSprop), laid out as `flat`.
    exp_avg: Tensor,
    /// Adam's second moment, RMSprop's square average, laid out as `flat`.
    exp_avg_sq: Tensor,
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
    shape: Vec<i64>,
    /// Where the variable's elements start in the flat buffers.
    offset: i64,
    numel: i64,
}

impl Param {
    /// This variable's part of a flat buffer, in the variable's shape.
    fn part_of(&self, flat: &Tensor) -> Tensor {
        flat.narrow(0, self.offset, self.numel)
            .view(self.shape.as_slice())
    }
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
        let mut offset = 0;
        let params: Vec<Param> = named
            .into_iter()
            .map(|(name, value)| {
                let numel = value.numel() as i64;
                let param = Param {
                    name,
                    shape: value.size(),
                    value,
                    offset,
                    numel,
                };
                offset += numel;
                param
            })
            .collect();
        let flat = Tensor::zeros([offset], (Kind::Float, vs.device()));
        let mut optim = Self {
            rule,
            exp_avg: flat.zeros_like(),
            exp_avg_sq: flat.zeros_like(),
            flat,
            params,
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps,
            steps: 0,
        };
        optim.link();
        optim
    }

    /// Copies the variables' values into the flat buffer and makes each variable a view of
    /// its part.
    fn link(&mut self) {
        let _guard = tch::no_grad_guard();
        for p in &mut self.params {
            let mut part = p.part_of(&self.flat);
            part.copy_(&p.value);
            p.value.set_data(&part);
        }
    }

    /// Whether every variable still lives in the flat buffer (a caller that replaced a
    /// variable's storage, rather than copying into it, would have unlinked it).
    fn linked(&self) -> bool {
        let base = self.flat.data_ptr() as usize;
        let size = self.flat.kind().elt_size_in_bytes();
        self.params
            .iter()
            .all(|p| p.value.data_ptr() as usize == base + p.offset as usize * size)
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
        for p in &self.params {
            let mut grad = p.value.grad();
            if grad.defined() {
                let _ = grad.zero_();
            }
        }
        loss.backward();
        let _guard = tch::no_grad_guard();
        if !self.linked() {
            self.link();
        }
        let grads: Vec<Tensor> = self.params.iter().map(|p| p.value.grad()).collect();
        if grads.iter().all(|g| g.defined()) {
            let flat: Vec<Tensor> = grads.iter().map(|g| g.view([-1])).collect();
            let mut grad = Tensor::cat(&flat, 0);
            // As torch.nn.utils.clip_grad_norm_: one coefficient for all gradients.
            let total = grad.norm().double_value(&[]);
            let coef = max_grad_norm / (total + 1e-6);
            if coef < 1.0 {
                let _ = grad.g_mul_scalar_(coef);
            }
            self.steps += 1;
            let (mut value, mut exp_avg, mut exp_avg_sq) = (
                self.flat.shallow_clone(),
                self.exp_avg.shallow_clone(),
                self.exp_avg_sq.shallow_clone(),
            );
            self.update(&mut value, &grad, &mut exp_avg, &mut exp_avg_sq);
            return;
        }
        // Some variable took no part in the loss: as torch.optim, it and its moments are left
        // as they are, so the update goes variable by variable.
        let defined: Vec<(usize, Tensor)> = grads
            .into_iter()
            .enumerate()
            .filter(|(_, g)| g.defined())
            .collect();
        if defined.is_empty() {
            return;
        }
        let norms: Vec<Tensor> = defined.iter().map(|(_, g)| g.norm()).collect();
        let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
        let coef = max_grad_norm / (total + 1e-6);
        self.steps += 1;
        for (i, grad) in &defined {
            let mut grad = grad.shallow_clone();
            if coef < 1.0 {
                let _ = grad.g_mul_scalar_(coef);
            }
            let p = &self.params[*i];
            let (mut value, mut exp_avg, mut exp_avg_sq) = (
                p.part_of(&self.flat),
                p.part_of(&self.exp_avg),
                p.part_of(&self.exp_avg_sq),
            );
            self.update(&mut value, &grad, &mut exp_avg, &mut exp_avg_sq);
        }
    }

    /// One step of the rule on `value` (in place) with its gradient and moments.
    fn update(
        &self,
        value: &mut Tensor,
        grad: &Tensor,
        exp_avg: &mut Tensor,
        exp_avg_sq: &mut Tensor,
    ) {
        match self.rule {
            Rule::Adam => {
                let t = self.steps as f64;
                let bias1 = 1.0 - self.beta1.powf(t);
                let bias2_sqrt = (1.0 - self.beta2.powf(t)).sqrt();
                let step_size = self.learning_rate / bias1;
                let _ = exp_avg.lerp_(grad, 1.0 - self.beta1);
                let _ = exp_avg_sq.g_mul_scalar_(self.beta2);
                let _ = exp_avg_sq.addcmul_(grad, &(grad * (1.0 - self.beta2)));
                let denom = (exp_avg_sq.sqrt() / bias2_sqrt) + self.eps;
                let _ = value.addcdiv_(&(&*exp_avg * -step_size), &denom);
            }
            Rule::RmsProp { alpha } => {
                let _ = exp_avg_sq.g_mul_scalar_(alpha);
                let _ = exp_avg_sq.addcmul_(grad, &(grad * (1.0 - alpha)));
                let denom = exp_avg_sq.sqrt() + self.eps;
                let _ = value.addcdiv_(&(grad * -self.learning_rate), &denom);
            }
        }
    }

    /// Writes the moments and the step count to `path` (safetensors, on the CPU).
    pub(crate) fn save(&self, path: &Path) -> Result<(), String> {
        let mut named: Vec<(String, Tensor)> = Vec::with_capacity(2 * self.params.len() + 1);
        for p in &self.params {
            if self.rule == Rule::Adam {
                named.push((
                    format!("exp_avg.{}", p.name),
                    p.part_of(&self.exp_avg).to_device(Device::Cpu),
                ));
            }
            named.push((
                format!("exp_avg_sq.{}", p.name),
                p.part_of(&self.exp_avg_sq).to_device(Device::Cpu),
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
        for p in &self.params {
            let moments = [
                ("exp_avg", p.part_of(&self.exp_avg)),
                ("exp_avg_sq", p.part_of(&self.exp_avg_sq)),
            ];
            for (prefix, mut moment) in moments.into_iter().skip(usize::from(!adam)) {
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

    /// Fifty steps of `ours` and of libtorch's `theirs` from the same weights end at the
    /// same weights: within float rounding without clipping (`max_grad_norm` 1e6), and
    /// within `clipped_tolerance` with clipping at 0.5, where the global norm is summed in
    /// another order (flat, not per variable) and RMSprop's division by the root of small
    /// square averages magnifies that rounding.
    fn assert_matches_libtorch(
        seed: i64,
        clipped_tolerance: f64,
        ours: impl Fn(&nn::VarStore) -> Optim,
        theirs: impl Fn(&nn::VarStore) -> nn::Optimizer,
    ) {
        for (max_grad_norm, tolerance) in [(1e6, 1e-5), (0.5, clipped_tolerance)] {
            run_against_libtorch(seed, max_grad_norm, tolerance, &ours, &theirs);
        }
    }

    fn run_against_libtorch(
        seed: i64,
        max_grad_norm: f64,
        tolerance: f64,
        ours: &impl Fn(&nn::VarStore) -> Optim,
        theirs: &impl Fn(&nn::VarStore) -> nn::Optimizer,
    ) {
        tch::manual_seed(seed);
        let vs_ours = nn::VarStore::new(Device::Cpu);
        let model_ours = model(&vs_ours);
        let mut vs_theirs = nn::VarStore::new(Device::Cpu);
        let model_theirs = model(&vs_theirs);
        vs_theirs.copy(&vs_ours).unwrap();
        let (mut ours, mut theirs) = (ours(&vs_ours), theirs(&vs_theirs));
        for step in 0..50 {
            ours.backward_step_clip(&loss_of(&model_ours, step % 3), max_grad_norm);
            theirs.backward_step_clip_norm(&loss_of(&model_theirs, step % 3), max_grad_norm);
        }
        assert!(ours.linked(), "a variable left the flat buffer");
        assert_same_weights(&vs_ours, &vs_theirs, tolerance, max_grad_norm);
    }

    /// Every variable of `theirs` within `tolerance` of the same-named one of `ours`.
    fn assert_same_weights(
        ours: &nn::VarStore,
        theirs: &nn::VarStore,
        tolerance: f64,
        max_grad_norm: f64,
    ) {
        let a = ours.variables();
        for (name, t) in theirs.variables() {
            let diff = (&a[&name] - &t).abs().max().double_value(&[]);
            assert!(diff < tolerance, "{name}, max norm {max_grad_norm}: {diff}");
        }
    }

    #[test]
    fn matches_libtorch_adam() {
        assert_matches_libtorch(
            0,
            1e-5,
            |vs| Optim::adam(vs, 0.01, 1e-5),
            |vs| nn::adam(0.9, 0.999, 0.0).eps(1e-5).build(vs, 0.01).unwrap(),
        );
    }

    #[test]
    fn matches_libtorch_rms_prop() {
        assert_matches_libtorch(
            2,
            5e-4,
            |vs| Optim::rms_prop(vs, 0.005, 0.99, 1e-5),
            |vs| {
                nn::rms_prop(0.99, 1e-5, 0.0, 0.0, false)
                    .build(vs, 0.005)
                    .unwrap()
            },
        );
    }

    /// A variable the loss does not reach keeps its value (as in torch.optim), while the
    /// others still match libtorch's Adam.
    #[test]
    fn a_variable_outside_the_loss_stays_put() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = model(&vs);
        let unused = nn::linear(vs.root() / "unused", 3, 3, Default::default());
        let before = unused.ws.copy();
        let mut theirs_vs = nn::VarStore::new(Device::Cpu);
        let theirs_model = model(&theirs_vs);
        let _ = nn::linear(theirs_vs.root() / "unused", 3, 3, Default::default());
        theirs_vs.copy(&vs).unwrap();
        let mut ours = Optim::adam(&vs, 0.01, 1e-5);
        let mut theirs = nn::adam(0.9, 0.999, 0.0)
            .eps(1e-5)
            .build(&theirs_vs, 0.01)
            .unwrap();
        for step in 0..20 {
            ours.backward_step_clip(&loss_of(&m, step % 3), 0.5);
            theirs.backward_step_clip_norm(&loss_of(&theirs_model, step % 3), 0.5);
        }
        assert!(unused.ws.equal(&before));
        assert_same_weights(&vs, &theirs_vs, 1e-5, 0.5);
    }

    /// A variable whose storage was replaced (not copied into) is taken back into the flat
    /// buffer, with its new value, before the next step; the step then moves it.
    #[test]
    fn a_replaced_variable_is_linked_again() {
        tch::manual_seed(4);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = model(&vs);
        let mut adam = Optim::adam(&vs, 0.01, 1e-8);
        adam.backward_step_clip(&loss_of(&m, 0), 1.0);
        let mut w = vs.variables()["b.weight"].shallow_clone();
        let replacement = Tensor::full([2, 8], 0.25, (Kind::Float, Device::Cpu));
        tch::no_grad(|| w.set_data(&replacement));
        assert!(!adam.linked());
        adam.backward_step_clip(&loss_of(&m, 1), 1.0);
        assert!(adam.linked());
        let moved = (&vs.variables()["b.weight"] - 0.25)
            .abs()
            .max()
            .double_value(&[]);
        assert!(moved > 0.0 && moved < 0.05, "{moved}");
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
