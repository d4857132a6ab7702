//! Run a standard test ODE with one of the integrators:
//!
//! ```text
//! cargo run --release -p odelora-integrators --example test_problems -- \
//!     --problem <linear|oscillator|lotka-volterra|vdp> --method <euler|rk4|dopri5> \
//!     [--h 0.01] [--rtol 1e-6] [--atol 1e-9] [--t-end T]
//! ```
//!
//! Euler and RK4 take constant steps `--h`; dopri5 is adaptive (PI control
//! with `--rtol`/`--atol`; `--h`, if given, is its first step). Prints
//! `problem=… method=… steps=… rejected=… evals=… y_end=[…]`.

use std::process::ExitCode;

use odelora_integrators::test_problems::TestProblem;
use odelora_integrators::{
    integrate, ConstantStep, Control, IntegrateParams, PiController, PiParams, DORMAND_PRINCE, EULER, RK4,
};

struct Options {
    problem: TestProblem,
    method: String,
    h: Option<f64>,
    rtol: f64,
    atol: f64,
    t_end: Option<f64>,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut problem, mut method) = (None, None);
    let mut options =
        Options { problem: TestProblem::Linear, method: String::new(), h: None, rtol: 1e-6, atol: 1e-9, t_end: None };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<f64>().map_err(|_| format!("{flag}: '{value}' is not a number"));
        match flag.as_str() {
            "--problem" => {
                problem = Some(TestProblem::from_name(&value).ok_or_else(|| {
                    let names: Vec<&str> = TestProblem::ALL.iter().map(|p| p.name()).collect();
                    format!("unknown problem '{value}' (known: {})", names.join(", "))
                })?)
            }
            "--method" => method = Some(value.clone()),
            "--h" => options.h = Some(number()?),
            "--rtol" => options.rtol = number()?,
            "--atol" => options.atol = number()?,
            "--t-end" => options.t_end = Some(number()?),
            _ => return Err(format!("unknown option '{flag}'")),
        }
    }
    options.problem = problem.ok_or("--problem is required")?;
    options.method = method.ok_or("--method is required")?;
    Ok(options)
}

fn run(o: &Options) -> Result<String, String> {
    let (tableau, control) = match o.method.as_str() {
        "euler" | "rk4" => {
            let step = ConstantStep::new(o.h.unwrap_or(0.01)).map_err(|e| e.to_string())?;
            (if o.method == "euler" { EULER } else { RK4 }, Control::Constant(step))
        }
        "dopri5" => {
            let params = PiParams::new(o.rtol, o.atol).map_err(|e| e.to_string())?;
            (DORMAND_PRINCE, Control::Pi(PiController::new(params)))
        }
        other => return Err(format!("unknown method '{other}' (known: euler, rk4, dopri5)")),
    };
    let h0 = if o.method == "dopri5" { o.h } else { None };
    let params = IntegrateParams { h0, ..IntegrateParams::until(o.t_end.unwrap_or(o.problem.default_t_end())) };
    let problem = o.problem;
    let mut field = |t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| problem.eval(t, y, dy);
    let sol =
        integrate(&mut field, tableau, control, 0.0, &problem.y0(), &params, &mut ()).map_err(|e| e.to_string())?;
    let y: Vec<String> = sol.y.iter().map(|v| format!("{v:.12e}")).collect();
    Ok(format!(
        "problem={} method={} steps={} rejected={} evals={} termination={:?} t={} y_end=[{}]",
        problem.name(),
        o.method,
        sol.stats.accepted,
        sol.stats.rejected,
        sol.stats.evals,
        sol.termination,
        sol.t,
        y.join(", ")
    ))
}

fn main() -> ExitCode {
    match parse().and_then(|o| run(&o)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
