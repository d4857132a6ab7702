//! `odelora`: train one run, or reproduce the study's figures.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use odelora::manifold::FieldParams;
use odelora::problems::pinn::{Architecture, BurgersReference, PdeKind, PinnParams};
use odelora::problems::{
    ConvexQuadratic, ConvexQuadraticParams, MatrixSensing, MatrixSensingParams, Objective, WidthToy, WidthToyParams,
};
use odelora_experiments::features::FeatureChange;
use odelora_experiments::figures::{JobMode, ReproduceContext, Shard, FIGURES};
use odelora_experiments::methods::{
    build_method, is_adaptive, method_info, AdaptiveSettings, InitChoice, MethodSettings, METHODS,
};
use odelora_experiments::output::{float, optional_float, write_csv, AtomicFile};
use odelora_experiments::pinn::{fine_tuning_problem, pretrained_network, Pretraining};
use odelora_experiments::progress::progress_bar;
use odelora_experiments::training::{run, Outcome, StopRule};
use odelora_experiments::ExperimentError;

/// Exit status of a run that diverged (bad input exits with 1).
const EXIT_DIVERGED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "odelora",
    version,
    about = "ODELoRA: LoRA training by integrating the balanced low-rank gradient flow"
)]
#[command(after_help = "Exit status: 0 success, 1 bad input or I/O error, 3 the run diverged.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one run and write its trajectory as CSV.
    #[command(subcommand)]
    Train(Problem),
    /// Regenerate the figures of the study (data in results/, figures in paper-figures/).
    Reproduce {
        #[command(flatten)]
        args: ReproduceArgs,
        /// Run only part K of N of every figure's runs (K = 1..N, e.g. a cluster job array's
        /// task id) and store them in results/shards/; `odelora merge` then draws the figures.
        #[arg(long, value_name = "K/N")]
        shard: Option<Shard>,
    },
    /// Draw the figures from the runs that `reproduce --shard K/N` stored for every K
    /// (same --quick and --config); runs nothing.
    Merge(ReproduceArgs),
    /// List the figure ids.
    List,
    /// List the training methods.
    ListMethods,
    /// Write a reference solution on its published grid.
    #[command(subcommand)]
    Reference(ReferenceProblem),
}

#[derive(Subcommand)]
enum ReferenceProblem {
    /// Viscous Burgers (Cole–Hopf integral) on x = linspace(−1, 1, 256), t = 0, 0.01, …, 0.99;
    /// CSV columns x,t,u (t outer, x inner).
    Burgers {
        /// Viscosity ν.
        #[arg(long, allow_negative_numbers = true, default_value_t = 0.01 / std::f64::consts::PI)]
        nu: f64,
        /// Output CSV.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum Problem {
    /// Matrix sensing (SPEC §5.1): recover a rank-r* n × n matrix from 5·n·r* measurements.
    Sensing(SensingArgs),
    /// Strongly convex quadratic (SPEC §5.2): ½ Σ q_ij (W − W*)_ij², q log-uniform in [1, κ_Q].
    Convex(ConvexArgs),
    /// Width-scaling toy (SPEC §5.3): f(x) = W x on 4 Gaussian inputs; step η = lr / width.
    WidthToy(WidthToyArgs),
    /// PINN fine-tuning (SPEC §5.4): pretrain on the source PDE parameter (cached), then
    /// train LoRA adapters on every hidden-to-hidden weight at the target parameter.
    Pinn(PinnArgs),
}

/// Options every `train` problem shares.
#[derive(Args)]
struct TrainArgs {
    /// Method (see `odelora list-methods`).
    #[arg(long)]
    method: String,
    /// Step size / learning rate (for odelora-rk45 only the first-step guess;
    /// without it Hairer's initial-step rule chooses).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Number of steps (for odelora-rk45: the maximum number of accepted steps).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    steps: i64,
    /// Gradient-evaluation budget: no step is started that would exceed it.
    #[arg(long)]
    evals: Option<u64>,
    /// Write a CSV row every this many steps (and the first and last); the
    /// metrics of a row can cost more than a step (PINN test-grid error).
    #[arg(long, default_value_t = 1)]
    record_every: u64,
    /// odelora-rk45: relative tolerance of the local error. Once converged the
    /// error plateaus at a level proportional to it (0.005–0.04 × rtol on matrix sensing).
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    rtol: f64,
    /// odelora-rk45: absolute tolerance of the local error.
    #[arg(long, default_value_t = 1e-8, allow_negative_numbers = true)]
    atol: f64,
    /// odelora-rk45: end time of the flow.
    #[arg(long, default_value_t = 200.0, allow_negative_numbers = true)]
    t_end: f64,
    /// LoRA rank r (default: 3; 2 for the width toy).
    #[arg(long)]
    rank: Option<usize>,
    /// Seed of the instance and the init.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Initialization (default: spectral for ODELoRA, lora for LoRA baselines; none for full-*).
    #[arg(long, value_enum)]
    init: Option<InitChoice>,
    /// ‖B0A0‖₂ of the small or spectral init (default: 1e-3 for small; the gradient's
    /// scale for spectral, 1e-2 on the width toy).
    #[arg(long, allow_negative_numbers = true)]
    init_scale: Option<f64>,
    /// LoRA α (scale s = α/r; default α = r).
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// LoRA+: learning-rate ratio η_B / η_A.
    #[arg(long, default_value_t = 16.0, allow_negative_numbers = true)]
    loraplus_ratio: f64,
    /// Riemannian LoRA: damping λ of (BᵀB + λI)⁻¹ and (AAᵀ + λI)⁻¹ (0 = ScaledGD, pseudo-inverse).
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    riemannian_damping: f64,
    /// AdamW methods: decoupled weight decay.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    weight_decay: f64,
    /// Write the trajectory here (columns step,evals,time_s,loss,rel_error,balance_gap,h;
    /// the width toy adds df,dz_a).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct SensingArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Matrix size (n × n).
    #[arg(long, default_value_t = 50)]
    n: usize,
    /// Rank r* of the target (default: the LoRA rank).
    #[arg(long)]
    true_rank: Option<usize>,
    /// Condition number of the target.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    kappa: f64,
    /// Number of measurements (default 5·n·r*).
    #[arg(long)]
    measurements: Option<usize>,
    /// Measurement noise standard deviation, in the units of y.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise: f64,
}

#[derive(Args)]
struct ConvexArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Rows of W.
    #[arg(long, default_value_t = 30)]
    m: usize,
    /// Columns of W.
    #[arg(long, default_value_t = 30)]
    n: usize,
    /// Rank of W* (default: the LoRA rank).
    #[arg(long)]
    true_rank: Option<usize>,
    /// κ_Q: weights q_ij log-uniform in [1, κ_Q] (μ = min q, L = max q).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    kappa_q: f64,
}

#[derive(Args)]
struct WidthToyArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Width n of the square weights.
    #[arg(long, default_value_t = 1024)]
    width: usize,
    /// Batch size N.
    #[arg(long, default_value_t = 4)]
    batch: usize,
}

#[derive(Args)]
struct PinnArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// PDE: convection (β 10 → 20), reaction (ρ 3 → 5), burgers (ν 0.02/π → 0.01/π),
    /// helmholtz (a₂ 2 → 4).
    #[arg(long)]
    pde: String,
    /// Units per hidden layer.
    #[arg(long, default_value_t = 50)]
    width: usize,
    /// Hidden layers (LoRA adapts the depth − 1 hidden-to-hidden weights).
    #[arg(long, default_value_t = 4)]
    depth: usize,
    /// Interior collocation points (initial and boundary terms: a quarter as many each).
    #[arg(long, default_value_t = 2000)]
    points: usize,
    /// Interior collocation points of fine-tuning at the target parameter, when they
    /// should differ from pretraining's (default: --points). A sharp Burgers shock needs
    /// more than 2000.
    #[arg(long)]
    target_points: Option<usize>,
    /// Adam steps of pretraining on all weights at the source parameter (cached).
    #[arg(long, default_value_t = 5000)]
    pretrain_steps: u64,
    /// Adam learning rate of pretraining.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pretrain_lr: f64,
    /// Folder of the pretrained-network cache.
    #[arg(long, default_value = "results/cache")]
    cache_dir: PathBuf,
}

#[derive(Args)]
struct ReproduceArgs {
    /// The CI-sized preset.
    #[arg(long)]
    quick: bool,
    /// Only these figure ids (see `odelora list`).
    #[arg(long, num_args = 1..)]
    only: Vec<String>,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Folder for the data.
    #[arg(long, default_value = "results")]
    results_dir: PathBuf,
    /// Folder for the rendered figures.
    #[arg(long, default_value = "paper-figures")]
    figures_dir: PathBuf,
    /// Redo figures whose outputs exist for the same configuration.
    #[arg(long)]
    force: bool,
    /// TOML file with one table per figure id whose keys replace the preset's
    /// (e.g. `[sensing-convergence]` `seeds = [0, 1]`).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    // faer's operator products (`&a * &b`, decompositions) split their work
    // over the global thread pool, so their rounding would depend on the
    // thread count. Parallelism here is at the outer level (runs), so every
    // inner product is sequential and output is identical for any --threads.
    faer::set_global_parallelism(faer::Par::Seq);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first paragraph names the problem; usage is in --help.
            let text = e.to_string();
            let first = text.split("\n\n").next().unwrap_or("invalid arguments");
            let first = first.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("{first} (see --help)");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Train(Problem::Sensing(args)) => train_sensing(&args),
        Command::Train(Problem::Convex(args)) => train_convex(&args),
        Command::Train(Problem::WidthToy(args)) => train_width_toy(&args),
        Command::Train(Problem::Pinn(args)) => train_pinn(&args),
        Command::Reference(ReferenceProblem::Burgers { nu, out }) => write_burgers_reference(nu, &out),
        Command::Reproduce { args, shard } => {
            reproduce(&args, shard.map_or(JobMode::All, JobMode::Shard)).map(|()| ExitCode::SUCCESS)
        }
        Command::Merge(args) => reproduce(&args, JobMode::Merge).map(|()| ExitCode::SUCCESS),
        Command::List => {
            for f in FIGURES {
                println!("{:<24} {}", f.id, f.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ListMethods => {
            for m in METHODS {
                let init = m.default_init.map_or("none (starts from W0)", InitChoice::name);
                println!("{:<16} {} [default init: {init}]", m.name, m.description);
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

impl TrainArgs {
    /// Validate the shared options and turn them into method settings, with
    /// the learning rate multiplied by `lr_scale` (the width toy's 1/n).
    fn settings(&self, default_rank: usize, lr_scale: f64) -> Result<MethodSettings, ExperimentError> {
        method_info(&self.method)?;
        match self.lr {
            Some(lr) if !(lr.is_finite() && lr > 0.0) => {
                return Err(ExperimentError::Input(format!("--lr must be positive and finite, got {lr}")));
            }
            None if !is_adaptive(&self.method) => {
                return Err(ExperimentError::Input(format!("--lr is required for {}", self.method)));
            }
            _ => {}
        }
        if self.steps < 1 {
            return Err(ExperimentError::Input("--steps must be at least 1".into()));
        }
        if self.record_every == 0 {
            return Err(ExperimentError::Input("--record-every must be at least 1".into()));
        }
        if self.evals == Some(0) {
            return Err(ExperimentError::Input("--evals must be at least 1".into()));
        }
        Ok(MethodSettings {
            lr: self.lr.map(|lr| lr * lr_scale),
            rank: self.rank.unwrap_or(default_rank),
            init: self.init,
            init_scale: self.init_scale,
            alpha: self.alpha,
            loraplus_ratio: self.loraplus_ratio,
            riemannian_damping: self.riemannian_damping,
            weight_decay: self.weight_decay,
            adaptive: AdaptiveSettings { rtol: self.rtol, atol: self.atol, t_end: self.t_end },
            preserve_base: false,
            field: FieldParams::default(),
            rebalance_every: None,
        })
    }
}

fn train_sensing(args: &SensingArgs) -> Result<ExitCode, ExperimentError> {
    let settings = args.train.settings(3, 1.0)?;
    if settings.rank == 0 || settings.rank > args.n {
        return Err(ExperimentError::Input(format!("--rank {} must lie in 1..=n = {}", settings.rank, args.n)));
    }
    let out = open_output(&args.train)?;
    let mut objective = MatrixSensing::new(MatrixSensingParams {
        n1: args.n,
        n2: args.n,
        true_rank: args.true_rank.unwrap_or(settings.rank),
        kappa: args.kappa,
        measurements: args.measurements,
        noise: args.noise,
        seed: args.train.seed,
    })?;
    train(&mut objective, &args.train, &settings, out, None)
}

fn train_convex(args: &ConvexArgs) -> Result<ExitCode, ExperimentError> {
    let settings = args.train.settings(3, 1.0)?;
    let out = open_output(&args.train)?;
    let mut objective = ConvexQuadratic::new(ConvexQuadraticParams {
        m: args.m,
        n: args.n,
        rank: args.true_rank.unwrap_or(settings.rank),
        kappa_q: args.kappa_q,
        seed: args.train.seed,
    })?;
    train(&mut objective, &args.train, &settings, out, None)
}

fn train_width_toy(args: &WidthToyArgs) -> Result<ExitCode, ExperimentError> {
    // SPEC §5.3: every method steps with η = η0 / n, `--lr` being η0.
    let mut settings = args.train.settings(2, 1.0 / args.width.max(1) as f64)?;
    // SPEC §5.3: the spectral init is rescaled to ‖B0A0‖₂ = 1e-2 on the toy.
    settings.init_scale = settings.init_scale.or(Some(1e-2));
    let out = open_output(&args.train)?;
    let mut toy =
        WidthToy::new(WidthToyParams { batch: args.batch, ..WidthToyParams::new(args.width, args.train.seed) })?;
    let probe = toy.clone();
    train(&mut toy, &args.train, &settings, out, Some(&probe))
}

fn train_pinn(args: &PinnArgs) -> Result<ExitCode, ExperimentError> {
    let mut settings = args.train.settings(4, 1.0)?;
    // SPEC §5.4: the adapted network starts equal to the pretrained one.
    settings.preserve_base = true;
    let pde = PdeKind::from_name(&args.pde)?;
    if args.depth < 2 {
        return Err(ExperimentError::Input(format!(
            "--depth {} leaves no hidden-to-hidden weight to adapt: use --depth 2 or more",
            args.depth
        )));
    }
    if !(args.pretrain_lr.is_finite() && args.pretrain_lr > 0.0) {
        return Err(ExperimentError::Input(format!("--pretrain-lr must be positive, got {}", args.pretrain_lr)));
    }
    if settings.rank == 0 || settings.rank > args.width {
        return Err(ExperimentError::Input(format!("--rank {} must lie in 1..=width = {}", settings.rank, args.width)));
    }
    let out = open_output(&args.train)?;
    let source = PinnParams {
        pde,
        parameter: pde.source_parameter(),
        architecture: Architecture { depth: args.depth, width: args.width },
        points: args.points,
        seed: args.train.seed,
    };
    let pretraining = Pretraining { steps: args.pretrain_steps, lr: args.pretrain_lr };
    let start = std::time::Instant::now();
    let bar = progress_bar(args.pretrain_steps, &format!("pretraining {} (Adam)", pde.name()));
    let pretrained = pretrained_network(&source, pretraining, &args.cache_dir, |done| bar.set_position(done))?;
    bar.finish_and_clear();
    eprintln!(
        "pretrained {} at {} = {:.6}: loss={:.6e} rel_error={:.6e} ({})",
        pde.name(),
        pde.parameter_name(),
        source.parameter,
        pretrained.loss,
        pretrained.rel_error,
        if pretrained.cached { "from cache".to_string() } else { format!("{:.1} s", start.elapsed().as_secs_f64()) }
    );
    let target = PinnParams { points: args.target_points.unwrap_or(args.points), ..source };
    let mut objective = fine_tuning_problem(&target, pde.target_parameter(), pretrained.network)?;
    train(&mut objective, &args.train, &settings, out, None)
}

fn write_burgers_reference(nu: f64, out: &std::path::Path) -> Result<ExitCode, ExperimentError> {
    let reference = BurgersReference::new(nu)?;
    let (xs, ts) = BurgersReference::published_grid();
    let values = reference.grid(&xs, &ts);
    let rows = ts.iter().flat_map(|t| xs.iter().map(move |x| (*x, *t))).zip(values);
    write_csv(out, "x,t,u", rows.map(|((x, t), u)| format!("{},{},{}", float(x), float(t), float(u))))?;
    Ok(ExitCode::SUCCESS)
}

/// Open `--out` before any work, so a bad path fails fast.
fn open_output(args: &TrainArgs) -> Result<Option<AtomicFile>, ExperimentError> {
    args.out.as_deref().map(AtomicFile::create).transpose()
}

/// Train one run, write its rows, print the final line.
fn train(
    objective: &mut dyn Objective,
    args: &TrainArgs,
    settings: &MethodSettings,
    mut out: Option<AtomicFile>,
    width_toy: Option<&WidthToy>,
) -> Result<ExitCode, ExperimentError> {
    let mut method = build_method(&args.method, settings, objective, args.seed)?;
    let features = width_toy.map(|toy| FeatureChange::new(toy, method.as_ref()));
    if let Some(out) = out.as_mut() {
        let extra = if features.is_some() { ",df,dz_a" } else { "" };
        out.line(&format!("step,evals,time_s,loss,rel_error,balance_gap,h{extra}"))?;
    }
    let mut last = None;
    let mut write_error = None;
    let stop = StopRule::new(args.steps as u64, args.evals).recording_every(args.record_every);
    let outcome = run(method.as_mut(), objective, stop, |row, method| {
        let change = features.as_ref().map(|f| f.measure(method));
        last = Some((*row, change));
        if let Some(out) = out.as_mut() {
            let mut line = format!(
                "{},{},{:.6},{},{},{},{}",
                row.step,
                row.evals,
                row.time_s,
                float(row.loss),
                float(row.rel_error),
                optional_float(row.balance_gap),
                float(row.h)
            );
            if let Some((df, dz_a)) = change {
                line.push_str(&format!(",{},{}", float(df), optional_float(dz_a)));
            }
            if let Err(e) = out.line(&line) {
                write_error.get_or_insert(e);
            }
        }
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    if let Some(out) = out {
        out.commit()?;
    }
    let (last, change) = last.expect("the initial row is always recorded");
    if let Outcome::Diverged { step } = outcome {
        println!("diverged at step {step}");
        return Ok(ExitCode::from(EXIT_DIVERGED));
    }
    let features = match change {
        Some((df, dz_a)) => format!(" df={df:.6e} dz_a={}", dz_a.map_or("none".into(), |v| format!("{v:.6e}"))),
        None => String::new(),
    };
    println!(
        "final step={} evals={} loss={:.6e} rel_error={:.6e} time_s={:.3}{features} stop={}",
        last.step,
        last.evals,
        last.loss,
        last.rel_error,
        last.time_s,
        outcome.name()
    );
    Ok(ExitCode::SUCCESS)
}

fn reproduce(args: &ReproduceArgs, mode: JobMode) -> Result<(), ExperimentError> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        if n == 0 {
            return Err(ExperimentError::Input("--threads must be at least 1".into()));
        }
        pool = pool.num_threads(n);
    }
    let pool = pool.build().map_err(|e| ExperimentError::Input(format!("cannot start threads: {e}")))?;
    let overrides = match &args.config {
        None => toml::Table::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ExperimentError::Input(format!("cannot read --config {}: {e}", path.display())))?;
            text.parse::<toml::Table>()
                .map_err(|e| ExperimentError::Input(format!("--config {}: {}", path.display(), e.message())))?
        }
    };
    let mut ctx = ReproduceContext::new(args.results_dir.clone(), args.figures_dir.clone(), args.quick);
    ctx.force = args.force;
    ctx.overrides = overrides;
    ctx.mode = mode;
    pool.install(|| odelora_experiments::figures::reproduce(&ctx, &args.only))
}
