//! SPEC §5.4: the project's Cole–Hopf reference for Burgers (ν = 0.01/π) must agree with the
//! independent published solution `shared/data/Burgers_xt_u.csv` (DeepXDE's `Burgers.npz`,
//! provenance in `shared/data/PROVENANCE.md`) to max |Δu| < 1e-6 on all 256 × 100 points.
//!
//! The data folder is `$ODELORA_SHARED_DATA` if set, else `<repo root>/../shared/data`. It is
//! never copied into the repository; if it is missing this test fails and says where it looked.

use std::f64::consts::PI;
use std::path::PathBuf;
use std::time::Instant;

use odelora_problems::pinn::BurgersReference;

const DATA_ENV: &str = "ODELORA_SHARED_DATA";
const FILE_NAME: &str = "Burgers_xt_u.csv";

fn data_file() -> PathBuf {
    let folder = match std::env::var_os(DATA_ENV) {
        Some(folder) => PathBuf::from(folder),
        // crates/problems → crates → repository root → its parent, which holds shared/.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    let path = folder.join(FILE_NAME);
    assert!(
        path.is_file(),
        "the published Burgers solution {FILE_NAME} was not found at {} ({}). Point the environment \
         variable {DATA_ENV} at the folder that holds it, e.g. `{DATA_ENV}=/path/to/shared/data cargo test`; \
         do not copy it into the repository.",
        path.display(),
        match std::env::var_os(DATA_ENV) {
            Some(_) => format!("from {DATA_ENV}"),
            None => format!("{DATA_ENV} is not set, so this is the default beside the repository root"),
        }
    );
    path
}

/// Rows `(x, t, u)` of the CSV, in file order (t outer, x inner).
fn read_published() -> Vec<[f64; 3]> {
    let path = data_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next().map(str::trim), Some("x,t,u"), "unexpected header in {}", path.display());
    lines
        .enumerate()
        .map(|(row, line)| {
            let mut fields = line.split(',').map(|field| {
                field.trim().parse::<f64>().unwrap_or_else(|e| panic!("{}:{}: {e}: {line:?}", path.display(), row + 2))
            });
            let values = [(); 3].map(|()| fields.next().unwrap_or_else(|| panic!("row {} has < 3 fields", row + 2)));
            assert!(fields.next().is_none(), "row {} of {} has more than 3 fields", row + 2, path.display());
            values
        })
        .collect()
}

#[test]
fn matches_published_solution() {
    let rows = read_published();
    let (xs, ts) = BurgersReference::published_grid();
    assert_eq!(rows.len(), xs.len() * ts.len(), "expected a 256 × 100 grid");
    // The file's grid is ours, in the same order (t outer, x inner).
    for (index, row) in rows.iter().enumerate() {
        let (x, t) = (xs[index % xs.len()], ts[index / xs.len()]);
        assert!((row[0] - x).abs() <= 1e-15 && (row[1] - t).abs() <= 1e-15, "row {index}: {row:?} vs ({x}, {t})");
    }

    let burgers = BurgersReference::new(0.01 / PI).unwrap();
    let start = Instant::now();
    let values = burgers.grid(&xs, &ts);
    let elapsed = start.elapsed();

    let (mut max_diff, mut worst) = (0.0f64, 0);
    for (index, (row, value)) in rows.iter().zip(&values).enumerate() {
        let diff = (row[2] - value).abs();
        assert!(diff.is_finite(), "non-finite value at row {index}: {row:?} vs {value}");
        if diff > max_diff {
            (max_diff, worst) = (diff, index);
        }
    }
    let [x, t, u] = rows[worst];
    println!(
        "Burgers ν = 0.01/π: max |Δu| = {max_diff:.3e} over {} points (worst at x = {x}, t = {t}, u = {u}); \
         grid evaluated in {:.1} ms",
        rows.len(),
        elapsed.as_secs_f64() * 1e3
    );
    assert!(max_diff < 1e-6, "max |Δu| = {max_diff:e} ≥ 1e-6 at x = {x}, t = {t} (published u = {u})");
}
