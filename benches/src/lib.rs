//! Criterion benchmarks for Hookflash; see `benches/`.
