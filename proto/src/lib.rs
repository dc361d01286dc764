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

/// The largest gRPC message a server or client of the platform sends or
/// accepts, set on every one of them (tonic's default is 4 MiB to decode).
///
/// What sizes a message: a SCIM request the gateway forwards (bounded by
/// its body limit, 1 MiB by default, which operators raise for groups of
/// hundreds of thousands of members: a 500,000-member group is about 20 MB
/// in protobuf) and a group read with its members. The change stream never
/// comes near it: a page of changes is at most about 1 MiB, and a change
/// record carries at most 1,000 ids.
pub const MAX_MESSAGE_BYTES: usize = 32 << 20;

/// `google.rpc.ErrorInfo.reason` of a create refused because the tenant is
/// at a quota (`RESOURCE_EXHAUSTED` from identity). Other causes of
/// `RESOURCE_EXHAUSTED` (a message over a size limit) carry no such reason.
pub const REASON_QUOTA_EXCEEDED: &str = "QUOTA_EXCEEDED";

/// `google.rpc.ErrorInfo.reason` of a stream cursor older than what the
/// stream retains (`OUT_OF_RANGE` from identity's `ReadChanges` and `Watch`,
/// and from policy's `WatchRoleChanges`): the records after it were pruned,
/// and the consumer must resynchronise that tenant instead of skipping them.
pub const REASON_CHANGES_PRUNED: &str = "CHANGES_PRUNED";
