//! The gRPC contracts of the platform. Clients and servers of every package
//! are generated here; services depend on this crate instead of running codegen.

/// `identity.v1`: tenants, tokens, users.
pub mod identity {
    pub mod v1 {
        #![allow(clippy::all, clippy::pedantic, missing_docs)]
        tonic::include_proto!("identity.v1");
    }
}

/// `policy.v1`: roles, assignments, locks, effective roles.
pub mod policy {
    pub mod v1 {
        #![allow(clippy::all, clippy::pedantic, missing_docs)]
        tonic::include_proto!("policy.v1");
    }
}

/// Encoded file descriptors of every package, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("descriptor");
