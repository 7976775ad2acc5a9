//! Code generated from the ECMA-285 ASN.1 modules by `codegen/gen_types.py`.

#![allow(
    clippy::all,
    clippy::pedantic,
    clippy::use_self,
    clippy::manual_let_else,
    missing_docs,
    unreachable_pub,
    non_camel_case_types,
    dead_code,
    unused_mut,
    unused_imports,
    unused_variables
)]

pub mod ops;
pub(crate) mod schema;
pub mod types;
pub(crate) mod xml_de;
