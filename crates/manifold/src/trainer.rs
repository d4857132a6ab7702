//! ODELoRA as a training method: the field of every adapted layer,
//! evaluated through an objective's gradient, integrated by any tableau.

use faer::{Mat, Par};
use odelora_integrators::{ButcherTableau, RungeKutta, State, VectorField};
use odelora_problems::random::{seeded_rng, stream};
use odelora_problems::Objective;

use crate::method::{check_step_size, negative_base_gradient};
use crate::{
    odelora_field, preserve_base, rebalance, FieldParams, FieldWorkspace, Init, LoraLayers,
    LoraPair, ManifoldError, Method, MethodError, StepInfo,
};

/// Parameters of an ODELoRA run.
#[derive(Debug, Clone, Copy)]
pub struct OdeloraParams {
    /// The integrator (e.g. [`odelora_integrators::EULER`], [`odelora_integrators::RK4`]).
    pub tableau: ButcherTableau,
    /// Step size `h` (the learning rate).
    pub h: f64,
    /// LoRA rank `r` of every layer.
    pub rank: usize,
    /// Damping and stabilisation of the field.
    pub field: FieldParams,
    /// Initialization; must be full rank (not [`Init::Lora`]).
    pub init: Init,
    /// Rebalance (QR + SVD retraction) every this many steps; `None` never.
    pub rebalance_every: Option<u64>,
    /// Shift `W0` so that the adapted model starts equal to the pretrained one.
    pub preserve_base: bool,
}

impl OdeloraParams {
    /// Defaults for `tableau` at step `h` and rank `r`: default field,
    /// spectral init, no rebalancing, base not shifted.
    pub fn new(tableau: ButcherTableau, h: f64, rank: usize) -> Self {
        Self {
            tableau,
            h,
            rank,
            field: FieldParams::default(),
            init: Init::SPECTRAL,
            rebalance_every: None,
            preserve_base: false,
        }
    }
}

/// Buffers and parameters of the ODELoRA field over an objective.
struct FlowBuffers {
    base: Vec<Mat<f64>>,
    weights: Vec<Mat<f64>>,
    gradients: Vec<Mat<f64>>,
    workspaces: Vec<FieldWorkspace>,
    field: FieldParams,
}

/// The ODELoRA field of all layers at one objective: `VectorField<LoraLayers>`.
struct Flow<'a> {
    objective: &'a mut dyn Objective,
    buffers: &'a mut FlowBuffers,
}

impl VectorField<LoraLayers> for Flow<'_> {
    fn eval(&mut self, _t: f64, y: &LoraLayers, dy: &mut LoraLayers) {
        let buf = &mut *self.buffers;
        for ((w, base), pair) in buf.weights.iter_mut().zip(&buf.base).zip(&y.0) {
            pair.write_adapted(w, base.as_ref(), 1.0, Par::Seq);
        }
        self.objective
            .loss_and_gradient(&buf.weights, &mut buf.gradients);
        for (((out, pair), g), ws) in
            dy.0.iter_mut()
                .zip(&y.0)
                .zip(&buf.gradients)
                .zip(&mut buf.workspaces)
        {
            odelora_field(out, pair, g.as_ref(), &buf.field, ws, Par::Seq);
        }
    }
}

/// ODELoRA: LoRA factors moved along the balanced low-rank gradient flow,
/// integrated with a fixed step by any explicit Runge–Kutta tableau.
///
/// The factors are the scale-free `B̃ = √s·B`, `Ã = √s·A` (ODELoRA moves
/// `X = s·B·A` and does not depend on `s`), so the adapted weight is
/// `W0 + B̃Ã`.
pub struct Odelora {
    name: String,
    params: OdeloraParams,
    state: LoraLayers,
    proposal: LoraLayers,
    stepper: RungeKutta<LoraLayers>,
    buffers: FlowBuffers,
    weights: Vec<Mat<f64>>,
    steps: u64,
    evals: u64,
}

impl Odelora {
    /// Initialize from `objective` with randomness from `seed`.
    pub fn new(
        name: impl Into<String>,
        params: OdeloraParams,
        objective: &mut dyn Objective,
        seed: u64,
    ) -> Result<Self, ManifoldError> {
        check_step_size(params.h)?;
        if !params.init.is_full_rank() {
            return Err(ManifoldError::InvalidParameter(
                "ODELoRA needs full-rank factors: the LoRA init (B = 0) is singular for its field; \
                 use the spectral or small balanced init"
                    .into(),
            ));
        }
        let mut evals = 0;
        let neg_grads = if matches!(params.init, Init::Spectral { .. }) {
            evals += 1;
            negative_base_gradient(objective)
        } else {
            objective
                .base_weights()
                .iter()
                .map(|w| Mat::zeros(w.nrows(), w.ncols()))
                .collect()
        };
        let mut rng = seeded_rng(seed, stream::INIT);
        let mut base = objective.base_weights().to_vec();
        let mut layers = Vec::with_capacity(base.len());
        for (w0, g) in base.iter_mut().zip(&neg_grads) {
            let pair =
                params
                    .init
                    .factors(w0.nrows(), w0.ncols(), params.rank, g.as_ref(), &mut rng)?;
            if params.preserve_base {
                preserve_base(w0, &pair, 1.0);
            }
            layers.push(pair);
        }
        let state = LoraLayers(layers);
        let weights: Vec<Mat<f64>> = base
            .iter()
            .map(|w| Mat::zeros(w.nrows(), w.ncols()))
            .collect();
        let buffers = FlowBuffers {
            gradients: weights.clone(),
            weights: weights.clone(),
            workspaces: state.0.iter().map(FieldWorkspace::for_pair).collect(),
            base,
            field: params.field,
        };
        let mut trainer = Self {
            name: name.into(),
            stepper: RungeKutta::new(params.tableau, &state),
            proposal: state.zeros_like(),
            params,
            state,
            buffers,
            weights,
            steps: 0,
            evals,
        };
        trainer.refresh_weights();
        Ok(trainer)
    }

    fn refresh_weights(&mut self) {
        for ((w, base), pair) in self
            .weights
            .iter_mut()
            .zip(&self.buffers.base)
            .zip(&self.state.0)
        {
            pair.write_adapted(w, base.as_ref(), 1.0, Par::Seq);
        }
    }

    /// The factor pairs of every layer.
    pub fn layers(&self) -> &LoraLayers {
        &self.state
    }
}

impl Method for Odelora {
    fn name(&self) -> &str {
        &self.name
    }

    fn step(&mut self, objective: &mut dyn Objective) -> Result<StepInfo, MethodError> {
        let h = self.params.h;
        let mut flow = Flow {
            objective,
            buffers: &mut self.buffers,
        };
        let t = self.steps as f64 * h;
        let attempt = self
            .stepper
            .attempt(&mut flow, t, h, &self.state, &mut self.proposal, None);
        self.evals += attempt.evals;
        if !attempt.finite {
            return Err(MethodError::NonFinite);
        }
        self.stepper.accept();
        std::mem::swap(&mut self.state, &mut self.proposal);
        self.steps += 1;
        if self
            .params
            .rebalance_every
            .is_some_and(|k| k > 0 && self.steps % k == 0)
        {
            for pair in &mut self.state.0 {
                rebalance(pair)?;
            }
            self.stepper.reset();
        }
        self.refresh_weights();
        Ok(StepInfo { h })
    }

    fn weights(&self) -> &[Mat<f64>] {
        &self.weights
    }

    fn evals(&self) -> u64 {
        self.evals
    }

    fn factors(&self) -> Option<&[LoraPair]> {
        Some(&self.state.0)
    }
}
