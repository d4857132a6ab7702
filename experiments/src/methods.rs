//! Every training method by the name the command line uses, built through
//! one function so experiments loop over names without special cases.

use odelora::baselines::{Lora, LoraParams};
use odelora::integrators::{ButcherTableau, EULER, RK4};
use odelora::manifold::{Init, Method, Odelora, OdeloraParams};
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

/// What every method needs besides its name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodSettings {
    /// Learning rate / step size.
    pub lr: f64,
    /// LoRA rank.
    pub rank: usize,
    /// Initialization; `None` for the method's default.
    pub init: Option<InitChoice>,
}

/// Look a method up by name.
pub fn method_info(name: &str) -> Result<&'static MethodInfo, ExperimentError> {
    METHODS.iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
        ExperimentError::Input(format!(
            "unknown method '{name}' (known: {})",
            known.join(", ")
        ))
    })
}

fn odelora_tableau(name: &str) -> Option<ButcherTableau> {
    match name {
        "odelora-euler" => Some(EULER),
        "odelora-rk4" => Some(RK4),
        _ => None,
    }
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
    if let Some(tableau) = odelora_tableau(name) {
        let params = OdeloraParams {
            init,
            ..OdeloraParams::new(tableau, settings.lr, settings.rank)
        };
        return Ok(Box::new(Odelora::new(name, params, objective, seed)?));
    }
    let params = match name {
        "lora-gd" => LoraParams {
            init,
            ..LoraParams::gd(settings.lr, settings.rank)
        },
        _ => unreachable!("every name in METHODS is handled above"),
    };
    Ok(Box::new(Lora::new(name, params, objective, seed)?))
}
