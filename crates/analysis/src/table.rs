//! Column tables written as Parquet (through polars), so the data behind a
//! figure loads directly into polars, pandas or Arrow.

use std::fs::File;
use std::path::Path;

use polars::prelude::{Column as PlColumn, DataFrame, ParquetWriter};

use crate::AnalysisError;

/// One named column of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Text.
    Str(Vec<String>),
    /// Unsigned integers.
    U64(Vec<u64>),
    /// Floats (missing values as `None`, written as nulls).
    F64(Vec<Option<f64>>),
    /// Booleans.
    Bool(Vec<bool>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Str(v) => v.len(),
            Column::U64(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }
}

/// Write `columns` (all of one length) to `path` as Parquet.
pub fn write_parquet(path: &Path, columns: Vec<(&str, Column)>) -> Result<(), AnalysisError> {
    let height = columns.first().map_or(0, |(_, c)| c.len());
    if let Some((first, rest)) = columns.split_first() {
        if let Some((name, c)) = rest.iter().find(|(_, c)| c.len() != first.1.len()) {
            return Err(AnalysisError::Table(format!(
                "column {name} has {} rows but {} has {}",
                c.len(),
                first.0,
                first.1.len()
            )));
        }
    }
    let series: Vec<PlColumn> = columns
        .into_iter()
        .map(|(name, c)| match c {
            Column::Str(v) => PlColumn::new(name.into(), v),
            Column::U64(v) => PlColumn::new(name.into(), v),
            Column::F64(v) => PlColumn::new(name.into(), v),
            Column::Bool(v) => PlColumn::new(name.into(), v),
        })
        .collect();
    let mut frame = DataFrame::new(height, series).map_err(|e| AnalysisError::Table(e.to_string()))?;
    let file = File::create(path)?;
    ParquetWriter::new(file).finish(&mut frame).map_err(|e| AnalysisError::Table(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{ParquetReader, SerReader};

    #[test]
    fn parquet_round_trips() {
        let path = std::env::temp_dir().join(format!("odelora-table-{}.parquet", std::process::id()));
        let columns = vec![
            ("method", Column::Str(vec!["a".into(), "b".into()])),
            ("step", Column::U64(vec![0, 1])),
            ("loss", Column::F64(vec![Some(0.1), None])),
            ("diverged", Column::Bool(vec![false, true])),
        ];
        write_parquet(&path, columns).unwrap();
        let frame = ParquetReader::new(File::open(&path).unwrap()).finish().unwrap();
        assert_eq!(frame.shape(), (2, 4));
        let loss = frame.column("loss").unwrap().f64().unwrap();
        assert_eq!(loss.get(0), Some(0.1));
        assert_eq!(loss.get(1), None);
        std::fs::remove_file(&path).unwrap();
        assert!(write_parquet(&path, vec![("a", Column::U64(vec![1])), ("b", Column::U64(vec![]))]).is_err());
    }
}
