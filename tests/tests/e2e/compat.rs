//! Compatibility beyond the RFC: what Entra ID and Okta send that a strict
//! reading of RFC 7644 would refuse, and what they need back.

mod adoption;
mod discovery;
mod keepalive;
mod profiles;
mod routing;
