//! Every training method by the name the command line uses, built through
//! one function so experiments loop over names without special cases.

use odelora::baselines::{
    AdamParams, FullFineTuning, FullParams, Lora, LoraParams, Optimizer, Preconditioner, LORAPLUS_DEFAULT_RATIO,
    RIEMANNIAN_DEFAULT_DAMPING,
};
use odelora::integrators::{EULER, RK4};
use odelora::manifold::{FieldParams, Init, Method, Odelora, OdeloraParams, StepControl};
use odelora::problems::Objective;

use crate::ExperimentError;

/// What a method is, in terms of the library's building blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// ODELoRA with explicit Euler.
    OdeloraEuler,
    /// ODELoRA with classic RK4.
    OdeloraRk4,
    /// ODELoRA with adaptive Dormand–Prince 5(4).
    OdeloraRk45,
    /// A LoRA-family rule: `adam` selects AdamW over GD.
    Lora {
        /// The family member.
        family: LoraFamily,
        /// AdamW instead of gradient descent.
        adam: bool,
    },
    /// Full fine-tuning of W.
    Full {
        /// AdamW instead of gradient descent.
        adam: bool,
    },
}

/// Members of the LoRA family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraFamily {
    /// One learning rate.
    Plain,
    /// `η_B = λ·η_A`.
    Plus,
    /// Riemannian preconditioning.
    Riemannian,
}

/// A method name, its one-line description and its defaults.
pub struct MethodInfo {
    /// The name as the CLI spells it.
    pub name: &'static str,
    /// What it is, with its defaults.
    pub description: &'static str,
    /// Its default initialization (`None`: full fine-tuning starts from W0).
    pub default_init: Option<InitChoice>,
    /// What to build.
    pub kind: MethodKind,
}

const fn lora(name: &'static str, description: &'static str, family: LoraFamily, adam: bool) -> MethodInfo {
    MethodInfo { name, description, default_init: Some(InitChoice::Lora), kind: MethodKind::Lora { family, adam } }
}

/// Every method, in the order `list-methods` prints them.
pub const METHODS: &[MethodInfo] = &[
    MethodInfo {
        name: "odelora-euler",
        description: "ODELoRA field, explicit Euler (1 gradient evaluation per step)",
        default_init: Some(InitChoice::Spectral),
        kind: MethodKind::OdeloraEuler,
    },
    MethodInfo {
        name: "odelora-rk4",
        description: "ODELoRA field, classic RK4 (4 gradient evaluations per step)",
        default_init: Some(InitChoice::Spectral),
        kind: MethodKind::OdeloraRk4,
    },
    MethodInfo {
        name: "odelora-rk45",
        description: "ODELoRA field, adaptive Dormand-Prince 5(4) with PI control; --lr optional \
                      (rtol 1e-4, atol 1e-8, t-end 200; 6 evaluations per accepted step + rejections)",
        default_init: Some(InitChoice::Spectral),
        kind: MethodKind::OdeloraRk45,
    },
    lora("lora-gd", "LoRA, gradient descent with one learning rate (alpha = r)", LoraFamily::Plain, false),
    lora("lora-adam", "LoRA, AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0)", LoraFamily::Plain, true),
    lora(
        "loraplus-gd",
        "LoRA+, gradient descent, lr_B = 16 x lr_A (--loraplus-ratio; --lr is lr_A)",
        LoraFamily::Plus,
        false,
    ),
    lora("loraplus-adam", "LoRA+, AdamW, lr_B = 16 x lr_A (--loraplus-ratio; --lr is lr_A)", LoraFamily::Plus, true),
    lora(
        "riemannian-gd",
        "Riemannian preconditioned LoRA, scaled GD, damping 1e-6 (--riemannian-damping; 0 = ScaledGD)",
        LoraFamily::Riemannian,
        false,
    ),
    lora(
        "riemannian-adam",
        "Riemannian preconditioned LoRA, scaled AdamW (preconditioned before the moments), damping 1e-6",
        LoraFamily::Riemannian,
        true,
    ),
    MethodInfo {
        name: "full-gd",
        description: "full fine-tuning of W by gradient descent (the flow ODELoRA emulates)",
        default_init: None,
        kind: MethodKind::Full { adam: false },
    },
    MethodInfo {
        name: "full-adam",
        description: "full fine-tuning of W by AdamW",
        default_init: None,
        kind: MethodKind::Full { adam: true },
    },
];

/// The initializations the command line offers (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitChoice {
    /// Standard LoRA init: A ~ U(−1/√n, 1/√n), B = 0.
    Lora,
    /// Small balanced random init, ‖B0A0‖₂ = 1e-3.
    Small,
    /// Top-r SVD of −∇L(W0), split balanced.
    Spectral,
}

impl InitChoice {
    /// Every init.
    pub const ALL: [InitChoice; 3] = [InitChoice::Lora, InitChoice::Small, InitChoice::Spectral];

    /// The manifold crate's init; `scale` sets `‖B0A0‖₂` of the small and
    /// spectral inits (default 1e-3 and the gradient's own scale).
    pub fn init(self, scale: Option<f64>) -> Init {
        match self {
            InitChoice::Lora => Init::Lora,
            InitChoice::Small => scale.map_or(Init::SMALL_BALANCED, |scale| Init::SmallBalanced { scale }),
            InitChoice::Spectral => Init::Spectral { norm: scale },
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

/// What every method needs besides its name; each method reads its part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodSettings {
    /// Learning rate / step size; for adaptive methods only the first-step
    /// guess (`None`: Hairer's rule), for the others required.
    pub lr: Option<f64>,
    /// LoRA rank.
    pub rank: usize,
    /// Initialization; `None` for the method's default.
    pub init: Option<InitChoice>,
    /// Spectral norm `‖B0A0‖₂` of the small or spectral init (`None`: default).
    pub init_scale: Option<f64>,
    /// LoRA α (`None`: α = r, so s = 1).
    pub alpha: Option<f64>,
    /// LoRA+ ratio η_B / η_A.
    pub loraplus_ratio: f64,
    /// Riemannian damping λ.
    pub riemannian_damping: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Adaptive integration settings (used by adaptive methods only).
    pub adaptive: AdaptiveSettings,
    /// Shift `W0` so the adapted model starts equal to the pretrained one
    /// (fine-tuning; SPEC §2 `preserve_base`).
    pub preserve_base: bool,
    /// ODELoRA's field: damping δ of the Gram inverses and balance
    /// stabilisation γ (default: relative δ = 1e-12, γ = 0).
    pub field: FieldParams,
    /// ODELoRA: rebalance (QR + SVD retraction) every this many steps.
    pub rebalance_every: Option<u64>,
}

impl MethodSettings {
    /// A learning rate `lr` at rank `rank`; everything else at its default.
    pub fn with_lr(lr: f64, rank: usize) -> Self {
        Self {
            lr: Some(lr),
            rank,
            init: None,
            init_scale: None,
            alpha: None,
            loraplus_ratio: LORAPLUS_DEFAULT_RATIO,
            riemannian_damping: RIEMANNIAN_DEFAULT_DAMPING,
            weight_decay: 0.0,
            adaptive: AdaptiveSettings::default(),
            preserve_base: false,
            field: FieldParams::default(),
            rebalance_every: None,
        }
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
    method_info(name).is_ok_and(|m| m.kind == MethodKind::OdeloraRk45)
}

/// Build the method `name` on `objective` with randomness from `seed`.
pub fn build_method(
    name: &str,
    settings: &MethodSettings,
    objective: &mut dyn Objective,
    seed: u64,
) -> Result<Box<dyn Method>, ExperimentError> {
    let info = method_info(name)?;
    let lr = || settings.lr.ok_or_else(|| ExperimentError::Input(format!("--lr is required for {name}")));
    let optimizer = |adam: bool| {
        if adam {
            Optimizer::Adam(AdamParams { weight_decay: settings.weight_decay, ..AdamParams::default() })
        } else {
            Optimizer::Gd
        }
    };
    let Some(default_init) = info.default_init else {
        if settings.init.is_some() {
            return Err(ExperimentError::Input(format!("{name} trains W itself and takes no --init")));
        }
        let MethodKind::Full { adam } = info.kind else { unreachable!("only full fine-tuning has no init") };
        let params = FullParams { optimizer: optimizer(adam), lr: lr()? };
        return Ok(Box::new(FullFineTuning::new(name, params, objective)?));
    };
    let init = settings.init.unwrap_or(default_init).init(settings.init_scale);
    let odelora = |tableau| -> Result<OdeloraParams, ExperimentError> {
        Ok(OdeloraParams {
            init,
            preserve_base: settings.preserve_base,
            field: settings.field,
            rebalance_every: settings.rebalance_every,
            ..OdeloraParams::new(tableau, lr()?, settings.rank)
        })
    };
    let method: Box<dyn Method> = match info.kind {
        MethodKind::OdeloraEuler => Box::new(Odelora::new(name, odelora(EULER)?, objective, seed)?),
        MethodKind::OdeloraRk4 => Box::new(Odelora::new(name, odelora(RK4)?, objective, seed)?),
        MethodKind::OdeloraRk45 => {
            let a = settings.adaptive;
            let step = StepControl::Adaptive { rtol: a.rtol, atol: a.atol, h0: settings.lr, t_end: a.t_end };
            let params = OdeloraParams {
                step,
                init,
                preserve_base: settings.preserve_base,
                field: settings.field,
                rebalance_every: settings.rebalance_every,
                ..OdeloraParams::adaptive(a.rtol, a.atol, settings.rank)
            };
            Box::new(Odelora::new(name, params, objective, seed)?)
        }
        MethodKind::Lora { family, adam } => {
            let mut params = LoraParams {
                optimizer: optimizer(adam),
                init,
                preserve_base: settings.preserve_base,
                ..LoraParams::gd(lr()?, settings.rank)
            };
            if let Some(alpha) = settings.alpha {
                params.alpha = alpha;
            }
            match family {
                LoraFamily::Plain => {}
                LoraFamily::Plus => params.lr_ratio = settings.loraplus_ratio,
                LoraFamily::Riemannian => {
                    params.preconditioner = Preconditioner::Riemannian { damping: settings.riemannian_damping }
                }
            }
            Box::new(Lora::new(name, params, objective, seed)?)
        }
        MethodKind::Full { .. } => unreachable!("handled above"),
    };
    Ok(method)
}
