//! Partition leases: how policy replicas share identity's change stream.
//!
//! Tenants are hashed into a fixed number of partitions
//! ([`storekit::partition_of`]); a replica applies the changes of a tenant
//! only while it holds the lease of the tenant's partition. A lease is a row
//! of `stream_leases` (holder, expiry). Each replica runs a lease round
//! every few seconds ([`SqlStore::lease_round_tx`]): it announces itself in
//! `policy_replicas`, renews the leases it holds, gives back those above its
//! fair share (the partitions divided by the replicas seen alive within a
//! TTL) and takes expired ones up to it. A replica that dies stops renewing;
//! its leases expire after the TTL and the others take them over.
//!
//! Leases say who should work on a tenant; they are not what keeps a change
//! from being applied twice. That is the cursor check of each page, under the
//! tenant's write lock (see `follow.rs`), so a replica that has not yet seen
//! that its lease moved on wastes at most a page of reads. Expiry times are
//! the replicas' clocks, which are assumed to agree within a fraction of the
//! TTL (NTP does much better).

use sqlx::{AnyConnection, Row};

use super::scope::{CrossTenant, Scope};
use super::sql::SqlStore;
use crate::domain::Micros;

/// A held lease: the replica and the partition, checked when a page of a
/// tenant of that partition is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub replica: String,
    pub partition: u32,
}

/// The settings of a lease round.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub partitions: u32,
    /// How long a lease and a replica's announcement last unrenewed.
    pub ttl: Micros,
    pub now: Micros,
}

/// True when `lease` is still held at `now`.
pub(super) async fn holds(
    conn: &mut AnyConnection,
    lease: &Lease,
    now: Micros,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT holder, expires FROM stream_leases WHERE partition = $1")
        .bind(i64::from(lease.partition))
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => {
            let holder: String = row.try_get("holder")?;
            let expires: i64 = row.try_get("expires")?;
            holder == lease.replica && expires > now
        }
        None => false,
    })
}

/// The fair share of `partitions` for one of `live` replicas.
pub fn fair_share(partitions: u32, live: u32) -> u32 {
    partitions.div_ceil(live.max(1))
}

impl SqlStore {
    /// One lease round of `replica` (see the module documentation); returns
    /// the partitions it holds afterwards, ascending.
    pub(super) async fn lease_round_tx(
        &self,
        replica: &str,
        round: Round,
    ) -> Result<Vec<u32>, sqlx::Error> {
        let Round {
            partitions,
            ttl,
            now,
        } = round;
        let expires = now + ttl;
        let mut tx = self
            .begin_write(Scope::AllTenants(CrossTenant::Leases))
            .await?;
        for p in 0..partitions {
            // Rows are created once; later rounds find them.
            sqlx::query(
                "INSERT INTO stream_leases (partition, holder, expires) VALUES ($1, '', 0) \
                 ON CONFLICT (partition) DO NOTHING",
            )
            .bind(i64::from(p))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO policy_replicas (replica_id, seen) VALUES ($1, $2) \
             ON CONFLICT (replica_id) DO UPDATE SET seen = excluded.seen",
        )
        .bind(replica)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Replicas gone for long are forgotten.
        sqlx::query("DELETE FROM policy_replicas WHERE seen < $1")
            .bind(now - 10 * ttl)
            .execute(&mut *tx)
            .await?;
        let live: i64 = sqlx::query("SELECT count(*) AS n FROM policy_replicas WHERE seen > $1")
            .bind(now - ttl)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        let fair = fair_share(partitions, u32::try_from(live).unwrap_or(u32::MAX));
        let mut held: Vec<u32> = sqlx::query(
            "UPDATE stream_leases SET expires = $1 WHERE holder = $2 AND partition < $3 \
             RETURNING partition",
        )
        .bind(expires)
        .bind(replica)
        .bind(i64::from(partitions))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("partition").map(|p| p as u32))
        .collect::<Result<_, _>>()?;
        held.sort_unstable();
        // Above the fair share: give back the highest partitions.
        while held.len() > fair as usize {
            let Some(p) = held.pop() else { break };
            sqlx::query(
                "UPDATE stream_leases SET holder = '', expires = 0 \
                 WHERE partition = $1 AND holder = $2",
            )
            .bind(i64::from(p))
            .bind(replica)
            .execute(&mut *tx)
            .await?;
        }
        if held.len() < fair as usize {
            let free: Vec<i64> = sqlx::query(
                "SELECT partition FROM stream_leases WHERE expires <= $1 AND partition < $2 \
                 ORDER BY partition",
            )
            .bind(now)
            .bind(i64::from(partitions))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("partition"))
            .collect::<Result<_, _>>()?;
            for p in free {
                if held.len() >= fair as usize {
                    break;
                }
                // Another replica may take it first: then no row matches.
                let taken = sqlx::query(
                    "UPDATE stream_leases SET holder = $1, expires = $2 \
                     WHERE partition = $3 AND expires <= $4",
                )
                .bind(replica)
                .bind(expires)
                .bind(p)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if taken == 1 {
                    held.push(p as u32);
                }
            }
            held.sort_unstable();
        }
        tx.commit().await?;
        Ok(held)
    }

    /// Every partition's lease: (partition, holder, expiry), ascending; an
    /// unheld partition has an empty holder.
    pub(super) async fn leases_query(&self) -> Result<Vec<(u32, String, Micros)>, sqlx::Error> {
        let mut tx = self
            .begin_read(Scope::AllTenants(CrossTenant::Leases))
            .await?;
        sqlx::query("SELECT partition, holder, expires FROM stream_leases ORDER BY partition")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                let p: i64 = r.try_get("partition")?;
                Ok((p as u32, r.try_get("holder")?, r.try_get("expires")?))
            })
            .collect()
    }

    /// Gives back every lease of `replica` and its announcement (on a
    /// clean shutdown, so the others need not wait for the TTL).
    pub(super) async fn release_leases_tx(&self, replica: &str) -> Result<(), sqlx::Error> {
        let mut tx = self
            .begin_write(Scope::AllTenants(CrossTenant::Leases))
            .await?;
        sqlx::query("UPDATE stream_leases SET holder = '', expires = 0 WHERE holder = $1")
            .bind(replica)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM policy_replicas WHERE replica_id = $1")
            .bind(replica)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::fair_share;

    #[test]
    fn shares_cover_every_partition() {
        assert_eq!(fair_share(16, 0), 16);
        assert_eq!(fair_share(16, 1), 16);
        assert_eq!(fair_share(16, 2), 8);
        assert_eq!(fair_share(16, 3), 6);
        assert_eq!(fair_share(16, 20), 1);
    }
}
