# `just` is optional (cargo install just): every recipe is one cargo command.

# Regenerate every figure of the study (full presets).
reproduce:
    cargo reproduce

# The CI-sized presets of every figure.
reproduce-quick:
    cargo reproduce --quick

# The test suite, as CI runs it.
test:
    cargo test --workspace --release

# Criterion benchmarks.
bench:
    cargo bench --workspace

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --release -- -D warnings
