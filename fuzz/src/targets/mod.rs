//! The fuzz targets (see the crate documentation for what each one checks).

pub mod attestation;
pub mod config;
pub mod jwks;
pub mod page;
pub mod path;
pub mod signature;
pub mod token;
