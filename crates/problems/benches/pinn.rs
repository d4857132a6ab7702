//! One PINN loss-and-gradient evaluation at the SPEC size (width 50,
//! depth 4, 2000 interior points, Burgers), sequential and on all cores.

use criterion::{criterion_group, criterion_main, Criterion};
use faer::Mat;
use odelora_problems::pinn::{Adapted, PdeKind, Pinn, PinnParams};
use odelora_problems::Objective;

fn loss_and_gradient(c: &mut Criterion) {
    let source = Pinn::new(PinnParams::source(PdeKind::Burgers, 0)).expect("valid problem");
    for (name, adapted) in [("all-parameters", Adapted::All), ("hidden-to-hidden", Adapted::HiddenToHidden)] {
        let mut pinn = source.adapting(source.network().to_vec(), adapted).expect("valid network");
        let weights = pinn.base_weights().to_vec();
        let mut grads: Vec<Mat<f64>> = weights.iter().map(|w| Mat::zeros(w.nrows(), w.ncols())).collect();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
            c.bench_function(&format!("pinn burgers 4x50 2000 points, {name}, {threads} thread(s)"), |b| {
                b.iter(|| pool.install(|| pinn.loss_and_gradient(&weights, &mut grads)))
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = loss_and_gradient
}
criterion_main!(benches);
