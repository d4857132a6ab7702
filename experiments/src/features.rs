//! Feature-change probes of the width-scaling toy (SPEC §5.3).

use faer::Mat;
use odelora::manifold::Method;
use odelora::problems::WidthToy;

/// Measures `df = rms_k ‖f_t(x_k) − f_0(x_k)‖` and
/// `dz_a = rms_k ‖A_t x_k − A_0 x_k‖` against the method's state at creation.
pub struct FeatureChange {
    toy: WidthToy,
    initial_weights: Mat<f64>,
    initial_a: Option<Mat<f64>>,
}

impl FeatureChange {
    /// Remember `method`'s current weights and A factor as time 0.
    pub fn new(toy: &WidthToy, method: &dyn Method) -> Self {
        Self {
            toy: toy.clone(),
            initial_weights: method.weights()[0].clone(),
            initial_a: method.factors().map(|layers| layers[0].a.clone()),
        }
    }

    /// `(df, dz_a)` now; `dz_a` is `None` for methods without factors.
    pub fn measure(&self, method: &dyn Method) -> (f64, Option<f64>) {
        let df = self.toy.rms_feature_norm((&method.weights()[0] - &self.initial_weights).as_ref());
        let dz_a = match (method.factors(), &self.initial_a) {
            (Some(layers), Some(a0)) => Some(self.toy.rms_feature_norm((&layers[0].a - a0).as_ref())),
            _ => None,
        };
        (df, dz_a)
    }
}
