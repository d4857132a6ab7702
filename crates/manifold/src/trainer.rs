//! ODELoRA as a training method: the field of every adapted layer,
//! evaluated through an objective's gradient, integrated by any tableau.

use faer::{Mat, Par};
use odelora_integrators::{
    ButcherTableau, ConstantStep, Control, IntegrateError, Integrator, PiController, PiParams, Stats, Termination,
    VectorField, DORMAND_PRINCE,
};
use odelora_problems::Objective;

use crate::method::check_step_size;
use crate::{
    initial_layers, odelora_field, preserve_base, rebalance, zeros_like, FieldParams, FieldWorkspace, Init, LoraLayers,
    LoraPair, ManifoldError, Method, MethodError, StepInfo,
};

/// How the step size (the learning rate) is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepControl {
    /// A constant step `h`.
    Fixed {
        /// The step size.
        h: f64,
    },
    /// Adaptive steps from the embedded error estimate with Hairer's PI
    /// controller: the integrator chooses the learning rate itself.
    Adaptive {
        /// Relative tolerance of the local error.
        rtol: f64,
        /// Absolute tolerance of the local error.
        atol: f64,
        /// First step; `None` uses Hairer's initial-step rule.
        h0: Option<f64>,
        /// End time of the flow; steps stop there (`f64::INFINITY`: never).
        t_end: f64,
    },
}

/// Parameters of an ODELoRA run.
#[derive(Debug, Clone, Copy)]
pub struct OdeloraParams {
    /// The integrator (e.g. [`odelora_integrators::EULER`], [`odelora_integrators::RK4`],
    /// [`odelora_integrators::DORMAND_PRINCE`]).
    pub tableau: ButcherTableau,
    /// Constant or adaptive steps.
    pub step: StepControl,
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
    /// Constant steps `h` of `tableau` at rank `r`: default field, spectral
    /// init, no rebalancing, base not shifted.
    pub fn new(tableau: ButcherTableau, h: f64, rank: usize) -> Self {
        Self {
            tableau,
            step: StepControl::Fixed { h },
            rank,
            field: FieldParams::default(),
            init: Init::SPECTRAL,
            rebalance_every: None,
            preserve_base: false,
        }
    }

    /// Adaptive Dormand–Prince 5(4) with tolerances `rtol`, `atol` and no end
    /// time (otherwise as [`new`](Self::new)).
    pub fn adaptive(rtol: f64, atol: f64, rank: usize) -> Self {
        Self {
            step: StepControl::Adaptive { rtol, atol, h0: None, t_end: f64::INFINITY },
            ..Self::new(DORMAND_PRINCE, 1.0, rank)
        }
    }

    /// The controller this step control needs; validates its numbers.
    fn control(&self) -> Result<(Control, Option<f64>, f64), ManifoldError> {
        let invalid = |e: IntegrateError| ManifoldError::InvalidParameter(e.to_string());
        match self.step {
            StepControl::Fixed { h } => {
                check_step_size(h)?;
                Ok((Control::Constant(ConstantStep::new(h).map_err(invalid)?), Some(h), f64::INFINITY))
            }
            StepControl::Adaptive { rtol, atol, h0, t_end } => {
                let pi = PiController::new(PiParams::new(rtol, atol).map_err(invalid)?);
                if let Some(h) = h0 {
                    check_step_size(h)?;
                }
                if t_end.is_nan() || t_end <= 0.0 {
                    return Err(ManifoldError::InvalidParameter(format!("end time must be positive, got {t_end}")));
                }
                Ok((Control::Pi(pi), h0, t_end))
            }
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
        self.objective.loss_and_gradient(&buf.weights, &mut buf.gradients);
        for (((out, pair), g), ws) in dy.0.iter_mut().zip(&y.0).zip(&buf.gradients).zip(&mut buf.workspaces) {
            odelora_field(out, pair, g.as_ref(), &buf.field, ws, Par::Seq);
        }
    }
}

/// ODELoRA: LoRA factors moved along the balanced low-rank gradient flow,
/// integrated by any explicit Runge–Kutta tableau with constant steps, or
/// adaptively (Dormand–Prince with PI control), one accepted step per
/// training step.
///
/// The factors are the scale-free `B̃ = √s·B`, `Ã = √s·A` (ODELoRA moves
/// `X = s·B·A` and does not depend on `s`), so the adapted weight is
/// `W0 + B̃Ã`.
pub struct Odelora {
    name: String,
    params: OdeloraParams,
    state: LoraLayers,
    integrator: Integrator<LoraLayers, Control>,
    t: f64,
    t_end: f64,
    buffers: FlowBuffers,
    weights: Vec<Mat<f64>>,
    steps: u64,
    init_evals: u64,
}

impl Odelora {
    /// Initialize from `objective` with randomness from `seed`.
    pub fn new(
        name: impl Into<String>,
        params: OdeloraParams,
        objective: &mut dyn Objective,
        seed: u64,
    ) -> Result<Self, ManifoldError> {
        let (control, h0, t_end) = params.control()?;
        if !params.init.is_full_rank() {
            return Err(ManifoldError::InvalidParameter(
                "ODELoRA needs full-rank factors: the LoRA init (B = 0) is singular for its field; \
                 use the spectral or small balanced init"
                    .into(),
            ));
        }
        let (layers, evals) = initial_layers(params.init, objective, params.rank, seed)?;
        let mut base = objective.base_weights().to_vec();
        if params.preserve_base {
            for (w0, pair) in base.iter_mut().zip(&layers) {
                preserve_base(w0, pair, 1.0);
            }
        }
        let state = LoraLayers(layers);
        let weights = zeros_like(&base);
        let buffers = FlowBuffers {
            gradients: weights.clone(),
            weights: weights.clone(),
            workspaces: state.0.iter().map(FieldWorkspace::for_pair).collect(),
            base,
            field: params.field,
        };
        let mut integrator = Integrator::new(params.tableau, control, &state)
            .map_err(|e| ManifoldError::InvalidParameter(e.to_string()))?;
        if let Some(h) = h0 {
            integrator.set_step_size(h).map_err(|e| ManifoldError::InvalidParameter(e.to_string()))?;
        }
        let mut trainer = Self {
            name: name.into(),
            integrator,
            t: 0.0,
            t_end,
            params,
            state,
            buffers,
            weights,
            steps: 0,
            init_evals: evals,
        };
        trainer.refresh_weights();
        Ok(trainer)
    }

    fn refresh_weights(&mut self) {
        for ((w, base), pair) in self.weights.iter_mut().zip(&self.buffers.base).zip(&self.state.0) {
            pair.write_adapted(w, base.as_ref(), 1.0, Par::Seq);
        }
    }

    /// The factor pairs of every layer.
    pub fn layers(&self) -> &LoraLayers {
        &self.state
    }

    /// The integrator's counters (accepted and rejected steps, evaluations
    /// without the initialization's).
    pub fn stats(&self) -> Stats {
        self.integrator.stats()
    }

    /// The flow time reached (the sum of accepted step sizes).
    pub fn time(&self) -> f64 {
        self.t
    }
}

impl Method for Odelora {
    fn name(&self) -> &str {
        &self.name
    }

    fn step(&mut self, objective: &mut dyn Objective, max_evals: Option<u64>) -> Result<StepInfo, MethodError> {
        let mut flow = Flow { objective, buffers: &mut self.buffers };
        let h = match self.integrator.advance(&mut flow, self.t, &mut self.state, self.t_end, max_evals) {
            Ok(h) => h,
            Err(Termination::Budget) => return Err(MethodError::BudgetExhausted),
            Err(Termination::Reached) => return Err(MethodError::EndTimeReached),
            Err(Termination::StepTooSmall) => return Err(MethodError::StepTooSmall),
            Err(_) => return Err(MethodError::NonFinite),
        };
        self.t += h;
        self.steps += 1;
        if self.params.rebalance_every.is_some_and(|k| k > 0 && self.steps % k == 0) {
            for pair in &mut self.state.0 {
                rebalance(pair)?;
            }
            self.integrator.reset();
        }
        self.refresh_weights();
        Ok(StepInfo { h })
    }

    fn weights(&self) -> &[Mat<f64>] {
        &self.weights
    }

    fn evals(&self) -> u64 {
        self.init_evals + self.integrator.stats().evals
    }

    fn factors(&self) -> Option<&[LoraPair]> {
        Some(&self.state.0)
    }
}
