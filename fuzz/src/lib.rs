//! Klieg's fuzz targets (see `targets`).

pub mod targets;
