//! One-time codes of console links: `ccl_` followed by 64 hex digits of
//! randomness (256 bits). Only the SHA-256 of the code is stored; redeeming
//! marks it used in the same statement that reads it, so a code opens the
//! console once, before its expiry, on whichever replica sees it first.

use crate::domain::{Micros, now_micros};
use crate::error::IdentityError;
use crate::token;

pub const PREFIX: &str = "ccl_";
const RANDOM_BYTES: usize = 32;
/// The expiry when the caller asks for none.
pub const DEFAULT_TTL_SECONDS: u64 = 300;
/// The longest a link may stay valid.
pub const MAX_TTL_SECONDS: u64 = 3600;

/// A fresh code and what storage keeps of it.
pub struct MintedLink {
    pub code: String,
    pub hash: String,
    pub expires: Micros,
}

/// Makes a code valid for `ttl_seconds` (0: the default; more than the maximum is refused).
pub fn mint(ttl_seconds: u64) -> Result<MintedLink, IdentityError> {
    let ttl = match ttl_seconds {
        0 => DEFAULT_TTL_SECONDS,
        t if t > MAX_TTL_SECONDS => {
            return Err(IdentityError::InvalidArgument(format!(
                "a console link lives at most {MAX_TTL_SECONDS} seconds"
            )));
        }
        t => t,
    };
    let mut random = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut random)?;
    let code = format!("{PREFIX}{}", hex(&random));
    // ttl <= 3600, so the product fits an i64 comfortably.
    let ttl_micros = i64::try_from(ttl).unwrap_or(0) * 1_000_000;
    Ok(MintedLink {
        hash: hash(&code),
        code,
        expires: now_micros() + ttl_micros,
    })
}

/// True when `code` has the shape of a code this service mints.
pub fn well_formed(code: &str) -> bool {
    code.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == RANDOM_BYTES * 2 && rest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The stored form of a code.
pub fn hash(code: &str) -> String {
    token::hash(code)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_well_formed_distinct_and_bounded() {
        let a = mint(0).unwrap_or_else(|e| panic!("{e}"));
        let b = mint(60).unwrap_or_else(|e| panic!("{e}"));
        assert!(well_formed(&a.code) && well_formed(&b.code));
        assert_ne!(a.code, b.code);
        assert_eq!(a.hash, hash(&a.code));
        assert!(a.expires > b.expires);
        assert!(mint(MAX_TTL_SECONDS + 1).is_err());
        assert!(!well_formed("ccl_12"));
        assert!(!well_formed(&a.code.replace(PREFIX, "scim_")));
    }
}
