//! SCIM 2.0 protocol library (RFC 7643 core schema, RFC 7644 protocol).
//!
//! Pure, synchronous and storage-agnostic: it knows nothing about HTTP, gRPC or databases.
//! It provides the static schemas and their discovery documents, the filter and PATCH path
//! grammars, validation and normalisation of client-sent resources, the PATCH engine (with the
//! deviations Microsoft Entra ID and Okta need, listed in [`patch::apply_patch`]) and response
//! projection.
//!
//! No function of this crate panics on any input; hostile input yields a [`ScimError`].

#![forbid(unsafe_code)]

pub mod discovery;
pub mod error;
pub mod filter;
#[doc(hidden)]
pub mod fuzz;
pub mod patch;
pub mod path;
pub mod profile;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod strict;
pub mod tolerance;

mod json;

pub use error::{Diagnostic, ScimError, ScimType};
pub use filter::{AttrPath, CompValue, CompareOp, Filter};
pub use patch::{PatchOpKind, PatchOperation};
pub use path::PatchPath;
pub use profile::{Behaviours, IdpProfile};
pub use resource::WriteMode;
pub use schema::{GROUP, ResourceTypeDef, USER};
