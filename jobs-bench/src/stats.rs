//! Medians, percentiles, and the results the program prints.

use serde_json::{Map, Value};

/// The `p`th percentile (0-100) of `sorted` (ascending), by nearest rank; 0 when empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// One figure: the samples of its repeats, and how it was measured.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub(crate) name: String,
    pub(crate) storage: &'static str,
    pub(crate) params: Map<String, Value>,
    pub(crate) unit: &'static str,
    pub(crate) samples: Vec<f64>,
    /// Per-repeat details (CPU use, phase timings), one entry per sample.
    pub(crate) details: Vec<Value>,
}

impl Figure {
    pub(crate) fn new(
        name: impl Into<String>,
        storage: &'static str,
        params: Value,
        unit: &'static str,
    ) -> Figure {
        Figure {
            name: name.into(),
            storage,
            params: match params {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            unit,
            samples: Vec::new(),
            details: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sample: f64, detail: Value) {
        self.samples.push(sample);
        self.details.push(detail);
    }

    pub(crate) fn value(&self) -> f64 {
        median(&self.samples)
    }

    pub(crate) fn min(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub(crate) fn max(&self) -> f64 {
        self.samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// The JSON line: name, storage, parameters, value (the median), unit, and more.
    pub(crate) fn json(&self, extra: Map<String, Value>) -> Value {
        let mut map = Map::new();
        map.insert("name".into(), self.name.clone().into());
        map.insert("storage".into(), self.storage.into());
        map.insert("params".into(), Value::Object(self.params.clone()));
        map.insert("value".into(), round(self.value()).into());
        map.insert("unit".into(), self.unit.into());
        map.insert("min".into(), round(self.min()).into());
        map.insert("max".into(), round(self.max()).into());
        map.insert(
            "samples".into(),
            self.samples
                .iter()
                .map(|s| round(*s))
                .collect::<Vec<_>>()
                .into(),
        );
        for (key, value) in extra {
            map.insert(key, value);
        }
        if self.details.iter().any(|d| !d.is_null()) {
            map.insert("details".into(), self.details.clone().into());
        }
        Value::Object(map)
    }
}

/// Three significant decimals for small numbers, whole numbers for large ones.
pub(crate) fn round(x: f64) -> f64 {
    if x.abs() >= 1000.0 {
        x.round()
    } else {
        (x * 1000.0).round() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
