//! `odelora`: train one run, or reproduce the study's figures.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use odelora::problems::{MatrixSensing, MatrixSensingParams};
use odelora_experiments::figures::{ReproduceContext, FIGURES};
use odelora_experiments::methods::{
    build_method, is_adaptive, method_info, AdaptiveSettings, InitChoice, MethodSettings, METHODS,
};
use odelora_experiments::output::{float, optional_float, AtomicFile};
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
    Reproduce(ReproduceArgs),
    /// List the figure ids.
    List,
    /// List the training methods.
    ListMethods,
}

#[derive(Subcommand)]
enum Problem {
    /// Matrix sensing (SPEC §5.1): recover a rank-r* n × n matrix from 5·n·r* measurements.
    Sensing(SensingArgs),
}

#[derive(Args)]
struct SensingArgs {
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
    /// Matrix size (n × n).
    #[arg(long, default_value_t = 50)]
    n: usize,
    /// LoRA rank r.
    #[arg(long, default_value_t = 3)]
    rank: usize,
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
    /// Seed of the instance and the init.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Initialization (default: spectral for ODELoRA, lora for LoRA baselines; none for full-*).
    #[arg(long, value_enum)]
    init: Option<InitChoice>,
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
    /// Write the trajectory here (columns step,evals,time_s,loss,rel_error,balance_gap,h).
    #[arg(long)]
    out: Option<PathBuf>,
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
}

fn main() -> ExitCode {
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
        Command::Reproduce(args) => reproduce(&args).map(|()| ExitCode::SUCCESS),
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

fn train_sensing(args: &SensingArgs) -> Result<ExitCode, ExperimentError> {
    method_info(&args.method)?;
    match args.lr {
        Some(lr) if !(lr.is_finite() && lr > 0.0) => {
            return Err(ExperimentError::Input(format!("--lr must be positive and finite, got {lr}")));
        }
        None if !is_adaptive(&args.method) => {
            return Err(ExperimentError::Input(format!("--lr is required for {}", args.method)));
        }
        _ => {}
    }
    if args.steps < 1 {
        return Err(ExperimentError::Input("--steps must be at least 1".into()));
    }
    if args.evals == Some(0) {
        return Err(ExperimentError::Input("--evals must be at least 1".into()));
    }
    let true_rank = args.true_rank.unwrap_or(args.rank);
    if args.rank == 0 || args.rank > args.n {
        return Err(ExperimentError::Input(format!("--rank {} must lie in 1..=n = {}", args.rank, args.n)));
    }
    // Open the output first: a bad path fails before any work is done.
    let mut out = args.out.as_deref().map(AtomicFile::create).transpose()?;
    let params = MatrixSensingParams {
        n1: args.n,
        n2: args.n,
        true_rank,
        kappa: args.kappa,
        measurements: args.measurements,
        noise: args.noise,
        seed: args.seed,
    };
    let mut objective = MatrixSensing::new(params)?;
    let adaptive = AdaptiveSettings { rtol: args.rtol, atol: args.atol, t_end: args.t_end };
    let settings = MethodSettings {
        lr: args.lr,
        rank: args.rank,
        init: args.init,
        alpha: args.alpha,
        loraplus_ratio: args.loraplus_ratio,
        riemannian_damping: args.riemannian_damping,
        weight_decay: args.weight_decay,
        adaptive,
    };
    let mut method = build_method(&args.method, &settings, &mut objective, args.seed)?;
    if let Some(out) = out.as_mut() {
        out.line("step,evals,time_s,loss,rel_error,balance_gap,h")?;
    }
    let mut last = None;
    let mut write_error = None;
    let stop = StopRule { steps: args.steps as u64, eval_budget: args.evals };
    let outcome = run(method.as_mut(), &mut objective, stop, |row| {
        last = Some(*row);
        if let Some(out) = out.as_mut() {
            let line = format!(
                "{},{},{:.6},{},{},{},{}",
                row.step,
                row.evals,
                row.time_s,
                float(row.loss),
                float(row.rel_error),
                optional_float(row.balance_gap),
                float(row.h)
            );
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
    let last = last.expect("the initial row is always recorded");
    if let Outcome::Diverged { step } = outcome {
        println!("diverged at step {step}");
        return Ok(ExitCode::from(EXIT_DIVERGED));
    }
    println!(
        "final step={} evals={} loss={:.6e} rel_error={:.6e} time_s={:.3} stop={}",
        last.step,
        last.evals,
        last.loss,
        last.rel_error,
        last.time_s,
        outcome.name()
    );
    Ok(ExitCode::SUCCESS)
}

fn reproduce(args: &ReproduceArgs) -> Result<(), ExperimentError> {
    for id in &args.only {
        if !FIGURES.iter().any(|f| f.id == id) {
            let known: Vec<&str> = FIGURES.iter().map(|f| f.id).collect();
            return Err(ExperimentError::Input(format!("unknown figure id '{id}' (known: {})", known.join(", "))));
        }
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        if n == 0 {
            return Err(ExperimentError::Input("--threads must be at least 1".into()));
        }
        pool = pool.num_threads(n);
    }
    let pool = pool.build().map_err(|e| ExperimentError::Input(format!("cannot start threads: {e}")))?;
    let ctx = ReproduceContext {
        results_dir: args.results_dir.clone(),
        figures_dir: args.figures_dir.clone(),
        quick: args.quick,
    };
    for figure in FIGURES.iter().filter(|f| args.only.is_empty() || args.only.iter().any(|id| id == f.id)) {
        let start = std::time::Instant::now();
        pool.install(|| (figure.make)(&ctx))?;
        eprintln!("{}: done in {:.1} s", figure.id, start.elapsed().as_secs_f64());
    }
    Ok(())
}
