//! Progress bars for long runs (on standard error; hidden when it is not a
//! terminal, so logs and CI output stay clean).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `total` units of work labelled `what`, with an ETA.
pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed}, ETA {eta})")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}
