//! Writing results: CSV formatting and files that appear whole or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ExperimentError;

/// A float with 17 significant digits (round-trips an f64); `NaN`/`inf` as
/// Rust prints them.
pub fn float(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.16e}")
    } else {
        format!("{x}")
    }
}

/// An optional float; empty when absent.
pub fn optional_float(x: Option<f64>) -> String {
    x.map(float).unwrap_or_default()
}

/// A file written under a temporary name and renamed into place on
/// [`commit`](AtomicFile::commit), so a reader never sees half a file.
pub struct AtomicFile {
    path: PathBuf,
    temporary: PathBuf,
    writer: BufWriter<File>,
}

impl AtomicFile {
    /// Create the temporary file (and the parent folders).
    pub fn create(path: &Path) -> Result<Self, ExperimentError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ExperimentError::io(parent, e))?;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // The process id keeps two processes (shards on a shared disk) apart.
        let temporary = path.with_file_name(format!(".partial.{}.{name}", std::process::id()));
        let file = File::create(&temporary).map_err(|e| ExperimentError::io(path, e))?;
        Ok(Self { path: path.to_owned(), temporary, writer: BufWriter::new(file) })
    }

    /// Write one line (a newline is added).
    pub fn line(&mut self, line: &str) -> Result<(), ExperimentError> {
        writeln!(self.writer, "{line}").map_err(|e| ExperimentError::io(&self.path, e))
    }

    /// Flush and move the file into place.
    pub fn commit(mut self) -> Result<(), ExperimentError> {
        self.writer.flush().map_err(|e| ExperimentError::io(&self.path, e))?;
        std::fs::rename(&self.temporary, &self.path).map_err(|e| ExperimentError::io(&self.path, e))
    }
}

/// Write `header` and `lines` to `path` atomically.
pub fn write_csv(path: &Path, header: &str, lines: impl IntoIterator<Item = String>) -> Result<(), ExperimentError> {
    let mut file = AtomicFile::create(path)?;
    file.line(header)?;
    for line in lines {
        file.line(&line)?;
    }
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip() {
        for x in [0.1, 1.0 / 3.0, 1e-300, -2.5e17, 0.0] {
            assert_eq!(float(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(optional_float(None), "");
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let dir = std::env::temp_dir().join(format!("odelora-out-{}", std::process::id()));
        let path = dir.join("sub/x.csv");
        let mut f = AtomicFile::create(&path).unwrap();
        f.line("a,b").unwrap();
        assert!(!path.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
