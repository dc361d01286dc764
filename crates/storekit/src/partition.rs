/// The partition (of `count`) a tenant belongs to: FNV-1a of its id, so
/// every replica and every service computes the same answer without asking.
/// `count` 0 is taken as 1.
pub fn partition_of(tenant_id: &str, count: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in tenant_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // The remainder of a division by a u32 fits a u32.
    u32::try_from(hash % u64::from(count.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_in_range() {
        // Fixed values: a change of the function would reshuffle every
        // replica's tenants during a rolling upgrade.
        assert_eq!(partition_of("acme", 16), partition_of("acme", 16));
        assert_eq!(partition_of("", 16), (0xcbf2_9ce4_8422_2325u64 % 16) as u32);
        for n in [1, 2, 7, 16, 64] {
            for t in ["a", "acme", "globex", "tenant-123"] {
                assert!(partition_of(t, n) < n);
            }
        }
        assert_eq!(partition_of("acme", 0), 0);
    }

    #[test]
    fn tenants_spread_over_partitions() {
        let mut seen = [0u32; 16];
        for i in 0..1600 {
            seen[partition_of(&format!("tenant-{i}"), 16) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }
}
