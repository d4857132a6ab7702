//! Every training method by the name the command line uses, built through
//! one function so experiments loop over names without special cases.

use odelora::baselines::{Lora, LoraParams};
use odelora::integrators::{EULER, RK4};
use odelora::manifold::{Init, Method, Odelora, OdeloraParams, StepControl};
use odelora::problems::Objective;

use crate::ExperimentError;

/// A method name, its one-line description and its defaults.
pub struct MethodInfo {
    /// The name as the CLI spells it.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Its default initialization.
    pub default_init: InitChoice,
}

/// Every method, in the order `list-methods` prints them.
pub const METHODS: &[MethodInfo] = &[
    MethodInfo {
        name: "odelora-euler",
        description:
            "ODELoRA field integrated with explicit Euler (1 gradient evaluation per step)",
        default_init: InitChoice::Spectral,
    },
    MethodInfo {
        name: "odelora-rk4",
        description: "ODELoRA field integrated with classic RK4 (4 gradient evaluations per step)",
        default_init: InitChoice::Spectral,
    },
    MethodInfo {
        name: "odelora-rk45",
        description: "ODELoRA field integrated with adaptive Dormand-Prince 5(4) and PI step control \
                      (6 evaluations per accepted step, plus rejections; the learning rate is chosen by the error estimate)",
        default_init: InitChoice::Spectral,
    },
    MethodInfo {
        name: "lora-gd",
        description: "LoRA factors by plain gradient descent, one learning rate (Hu et al. 2021)",
        default_init: InitChoice::Lora,
    },
];

/// The initializations the command line offers (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum InitChoice {
    /// Standard LoRA init: A ~ U(−1/√n, 1/√n), B = 0.
    Lora,
    /// Small balanced random init, ‖B0A0‖₂ = 1e-3.
    Small,
    /// Top-r SVD of −∇L(W0), split balanced.
    Spectral,
}

impl InitChoice {
    /// The manifold crate's init.
    pub fn init(self) -> Init {
        match self {
            InitChoice::Lora => Init::Lora,
            InitChoice::Small => Init::SMALL_BALANCED,
            InitChoice::Spectral => Init::SPECTRAL,
        }
    }

    /// The name written in output files.
    pub fn name(self) -> &'static str {
        match self {
            InitChoice::Lora => "lora",
            InitChoice::Small => "small",
            InitChoice::Spectral => "spectral",
        }
    }
}

/// Tolerances and horizon of adaptive integration (`odelora-rk45`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveSettings {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// End time of the flow.
    pub t_end: f64,
}

impl Default for AdaptiveSettings {
    /// rtol 1e-4, atol 1e-8, end time 200.
    fn default() -> Self {
        Self { rtol: 1e-4, atol: 1e-8, t_end: 200.0 }
    }
}

/// What every method needs besides its name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodSettings {
    /// Learning rate / step size; for adaptive methods only the first-step
    /// guess (`None`: Hairer's rule), for the others required.
    pub lr: Option<f64>,
    /// LoRA rank.
    pub rank: usize,
    /// Initialization; `None` for the method's default.
    pub init: Option<InitChoice>,
    /// Adaptive integration settings (used by adaptive methods only).
    pub adaptive: AdaptiveSettings,
}

impl MethodSettings {
    /// A fixed learning rate `lr` at rank `rank`, default init.
    pub fn with_lr(lr: f64, rank: usize) -> Self {
        Self { lr: Some(lr), rank, init: None, adaptive: AdaptiveSettings::default() }
    }
}

/// Look a method up by name.
pub fn method_info(name: &str) -> Result<&'static MethodInfo, ExperimentError> {
    METHODS.iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
        ExperimentError::Input(format!("unknown method '{name}' (known: {})", known.join(", ")))
    })
}

/// Whether `name` chooses its own step sizes (so `--lr` is optional).
pub fn is_adaptive(name: &str) -> bool {
    name == "odelora-rk45"
}

/// Build the method `name` on `objective` with randomness from `seed`.
pub fn build_method(
    name: &str,
    settings: &MethodSettings,
    objective: &mut dyn Objective,
    seed: u64,
) -> Result<Box<dyn Method>, ExperimentError> {
    let info = method_info(name)?;
    let init = settings.init.unwrap_or(info.default_init).init();
    let lr = || settings.lr.ok_or_else(|| ExperimentError::Input(format!("--lr is required for {name}")));
    let fixed = |tableau| -> Result<OdeloraParams, ExperimentError> {
        Ok(OdeloraParams { init, ..OdeloraParams::new(tableau, lr()?, settings.rank) })
    };
    let odelora = match name {
        "odelora-euler" => Some(fixed(EULER)?),
        "odelora-rk4" => Some(fixed(RK4)?),
        "odelora-rk45" => {
            let a = settings.adaptive;
            let step = StepControl::Adaptive { rtol: a.rtol, atol: a.atol, h0: settings.lr, t_end: a.t_end };
            Some(OdeloraParams { step, init, ..OdeloraParams::adaptive(a.rtol, a.atol, settings.rank) })
        }
        _ => None,
    };
    if let Some(params) = odelora {
        return Ok(Box::new(Odelora::new(name, params, objective, seed)?));
    }
    let params = match name {
        "lora-gd" => LoraParams { init, ..LoraParams::gd(lr()?, settings.rank) },
        _ => unreachable!("every name in METHODS is handled above"),
    };
    Ok(Box::new(Lora::new(name, params, objective, seed)?))
}
