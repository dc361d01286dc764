//! Fairness between tenants: at most `max` requests of one tenant are in
//! flight in this replica at a time; more wait a bounded time for a slot,
//! then get 429. A flooding tenant thus queues behind itself and cannot take
//! the identity connections and CPU that other tenants' requests need.
//! Deactivations and deletions have slots of their own (a quarter of `max`,
//! at least one), so a tenant's own flood never holds them up either.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::limiter::Class;

struct Slots {
    ordinary: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
}

/// Per-tenant slots, forgotten after ten idle minutes.
#[derive(Clone)]
pub struct TenantSlots {
    max: usize,
    wait: Duration,
    tenants: Cache<String, Arc<Slots>>,
}

/// A held slot; released when dropped (None when the limit is off).
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    /// Taken from the reserved share.
    reserved: bool,
}

impl TenantSlots {
    /// `max` 0 turns the limit off.
    pub fn new(max: usize, wait: Duration) -> Self {
        Self {
            max,
            wait,
            tenants: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
        }
    }

    /// A slot for one request of `tenant`, or None when none freed up in time.
    pub async fn acquire(&self, tenant: &str, class: Class) -> Option<Slot> {
        if self.max == 0 {
            return Some(Slot {
                _permit: None,
                reserved: false,
            });
        }
        let max = self.max;
        let slots = self
            .tenants
            .get_with_by_ref(tenant, async move {
                Arc::new(Slots {
                    ordinary: Arc::new(Semaphore::new(max)),
                    reserved: Arc::new(Semaphore::new((max / 4).max(1))),
                })
            })
            .await;
        if let Ok(permit) = slots.ordinary.clone().try_acquire_owned() {
            return Some(Slot {
                _permit: Some(permit),
                reserved: false,
            });
        }
        let queue = match class {
            Class::Ordinary => slots.ordinary.clone(),
            Class::Reserved => slots.reserved.clone(),
        };
        match tokio::time::timeout(self.wait, queue.acquire_owned()).await {
            Ok(Ok(permit)) => Some(Slot {
                _permit: Some(permit),
                reserved: class == Class::Reserved,
            }),
            Ok(Err(_)) | Err(_) => None,
        }
    }

    /// The slot a request of `class` keeps once its body has told its
    /// class: a slot of the reserved share taken before the body was read
    /// (when the request might have been a deactivation) is given back for
    /// an ordinary one if the request turns out ordinary, waiting as
    /// [`Self::acquire`] does. None when none freed up in time.
    pub async fn settle(&self, tenant: &str, slot: Slot, class: Class) -> Option<Slot> {
        if !slot.reserved || class == Class::Reserved {
            return Some(slot);
        }
        drop(slot);
        self.acquire(tenant, Class::Ordinary).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_at_its_limit_waits_then_is_refused_others_are_not() {
        let slots = TenantSlots::new(2, Duration::from_millis(20));
        let a1 = slots.acquire("a", Class::Ordinary).await;
        let a2 = slots.acquire("a", Class::Ordinary).await;
        assert!(a1.is_some() && a2.is_some());
        assert!(slots.acquire("a", Class::Ordinary).await.is_none());
        // Another tenant has slots of its own.
        assert!(slots.acquire("b", Class::Ordinary).await.is_some());
        // Deactivations of the busy tenant have their reserve.
        let reserved = slots.acquire("a", Class::Reserved).await;
        assert!(reserved.is_some());
        assert!(slots.acquire("a", Class::Reserved).await.is_none());
        // A slot given back is taken again.
        drop(a1);
        assert!(slots.acquire("a", Class::Ordinary).await.is_some());
    }

    #[tokio::test]
    async fn a_reserved_slot_is_exchanged_when_the_request_turns_out_ordinary() {
        let slots = TenantSlots::new(1, Duration::from_millis(20));
        let ordinary = slots.acquire("a", Class::Ordinary).await;
        let reserved = slots
            .acquire("a", Class::Reserved)
            .await
            .unwrap_or_else(|| panic!("no slot"));
        // Ordinary after all: it waits for an ordinary slot, and gives back
        // the reserved one.
        assert!(slots.settle("a", reserved, Class::Ordinary).await.is_none());
        assert!(slots.acquire("a", Class::Reserved).await.is_some());
        drop(ordinary);
        let reserved = slots
            .acquire("a", Class::Ordinary)
            .await
            .unwrap_or_else(|| panic!("no slot"));
        assert!(slots.settle("a", reserved, Class::Ordinary).await.is_some());
    }

    #[tokio::test]
    async fn zero_means_unlimited() {
        let slots = TenantSlots::new(0, Duration::ZERO);
        let held: Vec<_> = hold_a_hundred(&slots).await;
        assert_eq!(held.len(), 100);
    }

    async fn hold_a_hundred(slots: &TenantSlots) -> Vec<Slot> {
        let mut held = Vec::new();
        for _ in 0..100 {
            if let Some(s) = slots.acquire("a", Class::Ordinary).await {
                held.push(s);
            }
        }
        held
    }
}
