//! SCIM bearer tokens: `scim_` followed by 64 hex digits of randomness (256
//! bits) and 8 hex digits of checksum, so secret scanners can recognise a
//! leaked token and typos are refused without a database lookup. Only the
//! SHA-256 of the whole token is stored.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "scim_";
const RANDOM_HEX: usize = 64;
const CHECK_HEX: usize = 8;

/// A freshly generated secret and what storage keeps of it.
pub struct Minted {
    pub secret: String,
    pub hash: String,
    pub hint: String,
}

/// Makes a new random token.
pub fn mint() -> Result<Minted, getrandom::Error> {
    let mut random = [0u8; RANDOM_HEX / 2];
    getrandom::fill(&mut random)?;
    let body = hex(&random);
    let secret = format!("{PREFIX}{body}{}", checksum(&body));
    Ok(from_secret(secret))
}

/// Wraps an operator-chosen secret (local development only).
pub fn from_secret(secret: String) -> Minted {
    Minted {
        hash: hash(&secret),
        hint: secret.chars().take(PREFIX.len() + 6).collect(),
        secret,
    }
}

/// True when `secret` has the shape and checksum of a token this service mints.
pub fn well_formed(secret: &str) -> bool {
    let Some(rest) = secret.strip_prefix(PREFIX) else {
        return false;
    };
    if rest.len() != RANDOM_HEX + CHECK_HEX || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let (body, check) = rest.split_at(RANDOM_HEX);
    checksum(body) == check
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn checksum(body: &str) -> String {
    hex(&Sha256::digest(body.as_bytes())[..CHECK_HEX / 2])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_well_formed_and_distinct() {
        let a = mint().unwrap_or_else(|e| panic!("{e}"));
        let b = mint().unwrap_or_else(|e| panic!("{e}"));
        assert!(well_formed(&a.secret));
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.secret.len(), PREFIX.len() + RANDOM_HEX + CHECK_HEX);
        assert_eq!(a.hash, hash(&a.secret));
        assert!(!a.hint.is_empty() && a.secret.starts_with(&a.hint));
    }

    #[test]
    fn a_changed_digit_breaks_the_checksum() {
        let t = mint().unwrap_or_else(|e| panic!("{e}")).secret;
        let mut chars: Vec<char> = t.chars().collect();
        let i = PREFIX.len() + 3;
        chars[i] = if chars[i] == '0' { '1' } else { '0' };
        let typo: String = chars.into_iter().collect();
        assert!(!well_formed(&typo));
        assert!(!well_formed("scim_short"));
        assert!(!well_formed("Bearer something"));
    }
}
