//! `odelora reproduce --shard K/N` and `odelora merge` as a cluster user runs
//! them: the merged figures' data equal an unsharded reproduction's, byte for
//! byte, and a merge with a shard missing says which.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn odelora(args: &[&str], dir: &Path) -> Output {
    let results = dir.join("results");
    let figures = dir.join("figures");
    let out = Command::new(env!("CARGO_BIN_EXE_odelora"))
        .args(args)
        .args(["--quick", "--threads", "2", "--only", "sensing-stepsize", "convex-rate"])
        .args(["--results-dir", results.to_str().unwrap(), "--figures-dir", figures.to_str().unwrap()])
        .output()
        .expect("the odelora binary runs");
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("odelora-reproduce-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "odelora failed: {stderr}");
    stderr
}

#[test]
fn merged_shards_give_the_unsharded_data_and_a_missing_shard_is_named() {
    let whole = scratch("whole");
    ok(&odelora(&["reproduce"], &whole));

    let split = scratch("split");
    let err = odelora(&["merge"], &split);
    assert_eq!(err.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no shard records"));

    let log = ok(&odelora(&["reproduce", "--shard", "1/3"], &split));
    assert!(log.contains("sensing-stepsize: shard-stored"), "{log}");
    assert!(!split.join("figures").exists(), "a shard draws no figure");
    assert!(!split.join("results/sensing-stepsize/runs.csv").exists(), "a shard writes no figure data");
    ok(&odelora(&["reproduce", "--shard", "3/3"], &split));
    let err = odelora(&["merge"], &split);
    assert_eq!(err.status.code(), Some(1));
    let message = String::from_utf8_lossy(&err.stderr);
    assert!(message.contains("lacks shard(s) 2/3"), "{message}");

    ok(&odelora(&["reproduce", "--shard", "2/3"], &split));
    // A shard run again reads its records back instead of rerunning.
    ok(&odelora(&["reproduce", "--shard", "2/3"], &split));
    let log = ok(&odelora(&["merge"], &split));
    assert!(log.contains("convex-rate: made"), "{log}");
    for id in ["sensing-stepsize", "convex-rate"] {
        for file in ["runs.csv", "summary.csv"] {
            let a = std::fs::read(whole.join("results").join(id).join(file)).unwrap();
            let b = std::fs::read(split.join("results").join(id).join(file)).unwrap();
            assert!(a == b, "{id}/{file} differs between the merged and the unsharded run");
        }
        assert!(split.join("figures").join(format!("{id}.png")).is_file());
    }
    let manifest = std::fs::read_to_string(split.join("results/manifest.json")).unwrap();
    assert!(manifest.contains("convex-rate/runs.parquet"));

    let bad = odelora(&["reproduce", "--shard", "4/3"], &split);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("K/N"));
    std::fs::remove_dir_all(whole).unwrap();
    std::fs::remove_dir_all(split).unwrap();
}
