//! The `odelora train` commands as a user runs them: the walking skeleton's
//! acceptance numbers over seeds 1–5, bad input, divergence, every problem.

use std::path::PathBuf;
use std::process::{Command, Output};

fn odelora(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odelora")).args(args).output().expect("the odelora binary runs")
}

/// Run `odelora` with the whitespace-separated arguments of `line`.
fn odelora_line(line: &str) -> Output {
    odelora(&line.split_whitespace().collect::<Vec<_>>())
}

/// `rel_error=` of the final line.
fn final_rel_error(out: &Output) -> f64 {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("final step="),
        "unexpected output: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = line.split_whitespace().find_map(|f| f.strip_prefix("rel_error=")).expect("rel_error field");
    field.parse().expect("a number")
}

fn sensing(method: &str, lr: &str, kappa: &str, seed: &str) -> Output {
    odelora_line(&format!(
        "train sensing --method {method} --lr {lr} --steps 300 --n 20 --rank 3 --kappa {kappa} --seed {seed}"
    ))
}

const SEEDS: [&str; 5] = ["1", "2", "3", "4", "5"];

/// ODELoRA's rate does not depend on κ: Euler at h = 0.5 reaches 1e-8 in
/// 300 steps at κ = 10 and κ = 100, RK4 at h = 1 reaches 1e-10.
#[test]
fn odelora_converges_linearly_for_every_kappa_and_seed() {
    for kappa in ["10", "100"] {
        for seed in SEEDS {
            let euler = final_rel_error(&sensing("odelora-euler", "0.5", kappa, seed));
            assert!(euler < 1e-8, "odelora-euler κ={kappa} seed={seed}: {euler:e}");
            let rk4 = final_rel_error(&sensing("odelora-rk4", "1.0", kappa, seed));
            assert!(rk4 < 1e-10, "odelora-rk4 κ={kappa} seed={seed}: {rk4:e}");
        }
    }
}

/// LoRA-GD is the slow, κ-dependent baseline: at κ = 100 no learning rate of
/// the grid gets below 1e-4 in 300 steps.
#[test]
fn lora_gd_is_slow_at_kappa_100() {
    for seed in SEEDS {
        for lr in ["0.05", "0.1", "0.2", "0.5", "1.0"] {
            let err = final_rel_error(&sensing("lora-gd", lr, "100", seed));
            assert!(err > 1e-4, "lora-gd lr={lr} seed={seed}: {err:e}");
        }
    }
}

fn assert_one_line_error(args: &[&str], expect: &str) {
    let out = odelora(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: not one line: {stderr}");
    assert!(stderr.contains(expect), "{args:?}: '{stderr}' does not mention '{expect}'");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let base = ["train", "sensing", "--n", "10", "--steps", "5"];
    let with =
        |extra: &[&'static str]| -> Vec<&'static str> { base.iter().copied().chain(extra.iter().copied()).collect() };
    assert_one_line_error(&with(&["--method", "odelora-euler", "--lr", "0.5", "--rank", "11"]), "rank 11");
    for lr in ["0", "-1", "NaN", "inf"] {
        assert_one_line_error(&with(&["--method", "odelora-euler", "--lr", lr]), "--lr");
    }
    assert_one_line_error(&with(&["--method", "odelora-sgd", "--lr", "0.5"]), "unknown method 'odelora-sgd'");
    assert_one_line_error(
        &["train", "sensing", "--method", "lora-gd", "--lr", "0.5", "--steps", "0"],
        "--steps must be at least 1",
    );
    assert_one_line_error(&with(&["--method", "odelora-euler", "--lr", "0.5", "--init", "lora"]), "full-rank");
    assert_one_line_error(&with(&["--method", "lora-gd", "--lr", "abc"]), "--lr");
    assert_one_line_error(&with(&["--lr", "0.5"]), "--method");
    assert_one_line_error(&with(&["--method", "lora-gd", "--lr", "0.5", "--kappa", "0.5"]), "κ");
    // A file cannot be created inside a regular file.
    let blocked = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml").join("out.csv");
    let blocked = blocked.to_str().unwrap().to_owned();
    let args: Vec<&str> =
        with(&["--method", "lora-gd", "--lr", "0.5", "--out"]).into_iter().chain([blocked.as_str()]).collect();
    assert_one_line_error(&args, "cannot write");
}

#[test]
fn csv_has_one_row_per_step_and_never_nan_gap() {
    let path = std::env::temp_dir().join(format!("odelora-train-{}.csv", std::process::id()));
    let out = odelora_line(&format!(
        "train sensing --method lora-gd --lr 0.2 --steps 7 --n 10 --rank 2 --out {}",
        path.to_str().unwrap()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,evals,time_s,loss,rel_error,balance_gap,h"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 8, "step 0 (init) and 7 steps");
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row[0], k.to_string());
        let gap: f64 = row[5].parse().unwrap();
        assert!((0.0..=1.0).contains(&gap), "gap {gap}");
    }
    // LoRA's init has B = 0: the gap starts at exactly 1.
    assert_eq!(rows[0][5].parse::<f64>().unwrap(), 1.0);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn divergence_stops_and_keeps_rows() {
    let path = std::env::temp_dir().join(format!("odelora-diverge-{}.csv", std::process::id()));
    let out = odelora_line(&format!(
        "train sensing --method odelora-euler --lr 50 --steps 100 --n 10 --rank 2 --out {}",
        path.to_str().unwrap()
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "stdout: {stdout} stderr: {}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().last().unwrap();
    let k: usize = line.strip_prefix("diverged at step ").expect("diverged line").parse().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let rows = text.lines().count() - 1;
    // Rows 0..k-1 for a non-finite step k, or 0..k when step k's loss blew up.
    assert!(rows == k || rows == k + 1, "{rows} rows for divergence at step {k}");
    assert!(!text.contains("NaN"), "kept rows must be finite");
    std::fs::remove_file(path).unwrap();
}

/// Adaptive ODELoRA chooses its own learning rate: no `--lr`. Its accuracy
/// is set by the tolerance (an explicit method hovers at its stability
/// boundary once converged, with the stiff error component at tolerance
/// level): rtol 1e-8 reaches 1e-8 on every seed and κ.
#[test]
fn odelora_rk45_needs_no_learning_rate() {
    for kappa in ["10", "100"] {
        for seed in SEEDS {
            let out = odelora_line(&format!(
                "train sensing --method odelora-rk45 --n 20 --rank 3 --kappa {kappa} --seed {seed} \
                 --rtol 1e-8 --atol 1e-12 --steps 100000"
            ));
            let err = final_rel_error(&out);
            assert!(err < 1e-8, "odelora-rk45 κ={kappa} seed={seed}: {err:e}");
        }
    }
}

#[test]
fn rk45_csv_shows_the_chosen_step_sizes() {
    let path = std::env::temp_dir().join(format!("odelora-rk45-{}.csv", std::process::id()));
    let out = odelora_line(&format!(
        "train sensing --method odelora-rk45 --n 10 --rank 2 --t-end 20 --out {}",
        path.to_str().unwrap()
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("stop=end-time"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("step,evals,time_s,loss,rel_error,balance_gap,h\n"));
    let hs: Vec<f64> = text.lines().skip(2).map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect();
    assert!(hs.iter().all(|&h| h > 0.0));
    let (lo, hi) = hs.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &h| (lo.min(h), hi.max(h)));
    assert!(hi > 5.0 * lo, "the step size should adapt: {lo} … {hi}");
    let total: f64 = hs.iter().sum();
    assert!((total - 20.0).abs() < 1e-9, "accepted steps sum to the end time: {total}");
    std::fs::remove_file(path).unwrap();
}

/// `--evals` is a gradient-evaluation budget for every method.
#[test]
fn eval_budget_applies_to_every_method() {
    for (method, per_step) in [("odelora-euler", 1), ("odelora-rk4", 4), ("odelora-rk45", 6), ("lora-gd", 1)] {
        let out = odelora_line(&format!("train sensing --method {method} --lr 0.1 --n 10 --rank 2 --evals 30"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("stop=budget"), "{method}: {stdout}");
        let evals: u64 = stdout.split_whitespace().find_map(|f| f.strip_prefix("evals=")).unwrap().parse().unwrap();
        assert!(evals <= 30 && evals + per_step + 1 > 30, "{method}: used {evals} of 30");
    }
    assert_one_line_error(
        &["train", "sensing", "--method", "lora-gd", "--n", "10", "--steps", "3"],
        "--lr is required for lora-gd",
    );
    assert_one_line_error(&["train", "sensing", "--method", "odelora-rk45", "--n", "10", "--rtol", "-1"], "tolerances");
}

const ALL_METHODS: [&str; 11] = [
    "odelora-euler",
    "odelora-rk4",
    "odelora-rk45",
    "lora-gd",
    "lora-adam",
    "loraplus-gd",
    "loraplus-adam",
    "riemannian-gd",
    "riemannian-adam",
    "full-gd",
    "full-adam",
];

#[test]
fn list_methods_names_every_method_with_its_defaults() {
    let out = odelora_line("list-methods");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ALL_METHODS {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(line.contains("[default init:"), "{line}");
    }
    assert_eq!(text.lines().count(), ALL_METHODS.len());
}

/// Every method trains from its default init (B = 0 for the LoRA family)
/// without NaN, and the Riemannian rule with damping 0 as well.
#[test]
fn every_method_trains_from_its_default_init() {
    for method in ALL_METHODS {
        let out = odelora_line(&format!("train sensing --method {method} --lr 0.05 --n 12 --rank 2 --steps 40"));
        let err = final_rel_error(&out);
        assert!(err.is_finite() && err < 1.0, "{method}: {err}");
    }
    let out =
        odelora_line("train sensing --method riemannian-gd --riemannian-damping 0 --lr 0.1 --n 12 --rank 2 --steps 40");
    assert!(final_rel_error(&out) < 1.0);
    assert_one_line_error(
        &["train", "sensing", "--method", "full-gd", "--lr", "0.1", "--init", "spectral"],
        "no --init",
    );
}

/// The width toy reports the feature changes since step 0, and at width 4096
/// runs comfortably (SPEC §5.3 widths go up to 2^12).
#[test]
fn width_toy_reports_feature_changes() {
    let out = odelora_line("train width-toy --width 4096 --method odelora-euler --lr 0.5 --steps 10");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| -> f64 {
        stdout
            .split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
            .parse()
            .unwrap()
    };
    let (df, dz_a) = (field("df="), field("dz_a="));
    assert!(df > 0.1 && df < 10.0 && dz_a > 0.0, "df {df}, dz_a {dz_a}");
    let out = odelora_line("train width-toy --width 256 --method full-gd --lr 0.5 --steps 3");
    assert!(String::from_utf8_lossy(&out.stdout).contains("dz_a=none"), "full fine-tuning has no A");
}

#[test]
fn convex_problem_trains() {
    let out =
        odelora_line("train convex --method odelora-euler --lr 0.1 --steps 300 --m 12 --n 9 --rank 2 --kappa-q 5");
    assert!(final_rel_error(&out) < 1e-10);
    assert_one_line_error(&["train", "convex", "--method", "lora-gd", "--lr", "0.1", "--kappa-q", "0.5"], "κ_Q");
}

/// A tiny PINN run (3 × 8 network, 40 points, 30 pretraining steps) with its
/// own cache folder.
fn tiny_pinn(pde: &str, method: &str, lr: &str, extra: &str, cache: &std::path::Path) -> Output {
    odelora_line(&format!(
        "train pinn --pde {pde} --method {method} --lr {lr} --steps 3 --rank 2 --depth 3 --width 8 --points 40 \
         --pretrain-steps 30 --cache-dir {} {extra}",
        cache.display()
    ))
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("odelora-{name}-{}", std::process::id()))
}

/// Every method fine-tunes every PDE without a panic; the first run of a
/// PDE pretrains and caches, the others reuse the cache.
#[test]
fn every_method_fine_tunes_every_pde() {
    let cache = temp_dir("pinn-cache");
    for pde in ["convection", "reaction", "burgers", "helmholtz"] {
        for (k, method) in ALL_METHODS.iter().enumerate() {
            let out = tiny_pinn(pde, method, "1e-3", "", &cache);
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() || out.status.code() == Some(3), "{pde} {method}: {stdout} {stderr}");
            assert!(!stderr.contains("panicked"), "{pde} {method}: {stderr}");
            assert!(stderr.contains(if k == 0 { " s)" } else { "from cache" }), "{pde} {method}: {stderr}");
        }
    }
    std::fs::remove_dir_all(cache).unwrap();
}

/// The adapted network starts equal to the pretrained one for every init
/// (preserve_base), so step 0 of every method has the same loss.
#[test]
fn fine_tuning_starts_from_the_pretrained_network() {
    let cache = temp_dir("pinn-start");
    let path = temp_dir("pinn-start.csv");
    let mut first_losses = Vec::new();
    for method in ["odelora-euler", "lora-gd", "full-gd"] {
        let out = tiny_pinn("burgers", method, "1e-3", &format!("--out {}", path.display()), &cache);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(&path).unwrap();
        let row0 = text.lines().nth(1).unwrap().split(',').nth(3).unwrap().parse::<f64>().unwrap();
        first_losses.push(row0);
    }
    for loss in &first_losses {
        assert!((loss - first_losses[0]).abs() <= 1e-12 * first_losses[0], "{first_losses:?}");
    }
    std::fs::remove_dir_all(cache).unwrap();
    std::fs::remove_file(path).unwrap();
}

/// `--target-points` gives fine-tuning its own collocation points and
/// reuses the network pretrained on `--points`.
#[test]
fn target_points_change_fine_tuning_but_not_pretraining() {
    let cache = temp_dir("pinn-target-points");
    let path = temp_dir("pinn-target-points.csv");
    let mut losses = Vec::new();
    for extra in ["", "--target-points 160"] {
        let out = tiny_pinn("burgers", "lora-adam", "1e-3", &format!("--out {} {extra}", path.display()), &cache);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stderr.contains("from cache"), !extra.is_empty(), "{stderr}");
        let text = std::fs::read_to_string(&path).unwrap();
        losses.push(text.lines().nth(1).unwrap().split(',').nth(3).unwrap().parse::<f64>().unwrap());
    }
    assert!(losses[0] != losses[1], "other points, another loss: {losses:?}");
    let out = tiny_pinn("burgers", "lora-adam", "1e-3", "--target-points 3", &cache);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("collocation points"));
    std::fs::remove_dir_all(cache).unwrap();
    std::fs::remove_file(path).unwrap();
}

/// With a frozen output layer the loss of a tanh network is bounded: too
/// large a step saturates the hidden units (the loss stalls, it does not
/// grow 1000-fold). A step that overflows the weights is non-finite, and
/// that run stops as diverged.
#[test]
fn pinn_divergence_stops_and_keeps_rows() {
    let cache = temp_dir("pinn-diverge");
    let path = temp_dir("pinn-diverge.csv");
    let out = tiny_pinn("helmholtz", "full-gd", "1e308", &format!("--out {}", path.display()), &cache);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().last().unwrap().starts_with("diverged at step "), "{stdout}");
    assert!(std::fs::read_to_string(&path).unwrap().lines().count() >= 2);
    std::fs::remove_dir_all(cache).unwrap();
    std::fs::remove_file(path).unwrap();
}

#[test]
fn pinn_bad_input_is_a_one_line_error() {
    let base = ["train", "pinn", "--method", "lora-adam", "--lr", "1e-3", "--steps", "2", "--pretrain-steps", "1"];
    let with = |extra: &[&'static str]| base.iter().copied().chain(extra.iter().copied()).collect::<Vec<_>>();
    assert_one_line_error(&with(&["--pde", "heat"]), "unknown PDE 'heat'");
    assert_one_line_error(&with(&["--pde", "burgers", "--rank", "60"]), "--rank 60");
    assert_one_line_error(&with(&["--pde", "burgers", "--depth", "1", "--width", "5"]), "hidden-to-hidden");
    assert_one_line_error(&with(&["--pde", "burgers", "--points", "2"]), "collocation points");
    assert_one_line_error(&with(&["--pde", "burgers", "--pretrain-lr", "0"]), "--pretrain-lr");
}

/// `odelora reference burgers` writes the published grid, t outer, x inner.
#[test]
fn burgers_reference_is_written_on_the_published_grid() {
    let path = temp_dir("burgers.csv");
    let out = odelora_line(&format!("reference burgers --out {}", path.display()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "x,t,u");
    assert_eq!(lines.len(), 1 + 256 * 100);
    let row = |k: usize| lines[1 + k].split(',').map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>();
    assert_eq!(row(0)[..2], [-1.0, 0.0]);
    assert_eq!(row(255)[..2], [1.0, 0.0]);
    assert!((row(256)[1] - 0.01).abs() < 1e-15);
    std::fs::remove_file(path).unwrap();
    assert_one_line_error(&["reference", "burgers", "--nu", "-1", "--out", "x.csv"], "viscosity");
}
