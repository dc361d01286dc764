//! A tenant's resource types: the static User and Group plus the extension
//! schemas the tenant registered. Built through one [`Interner`] per
//! process and cached briefly per tenant; a change made through this
//! replica invalidates its entry at once, other replicas see it within
//! [`TYPES_TTL`].

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use scim::ResourceTypeDef;
use scim::schema::custom::{ExtensionSpec, Interner};

use crate::domain::TenantId;
use crate::error::IdentityError;
use crate::store::{Store, TenantSchemaRecord};

/// How long a tenant's types are cached.
pub const TYPES_TTL: Duration = Duration::from_secs(5);

/// The resource types SCIM requests of one tenant are checked against.
#[derive(Debug, Clone, Copy)]
pub struct TenantTypes {
    pub user: &'static ResourceTypeDef,
    pub group: &'static ResourceTypeDef,
}

impl TenantTypes {
    /// The static types: a tenant without extension schemas.
    pub const STATIC: Self = Self {
        user: &scim::USER,
        group: &scim::GROUP,
    };

    /// The type to hand storage: `None` when it is the static one (the
    /// storage layer's own default).
    pub fn custom(rt: &'static ResourceTypeDef) -> Option<&'static ResourceTypeDef> {
        (!std::ptr::eq(rt, &scim::USER) && !std::ptr::eq(rt, &scim::GROUP)).then_some(rt)
    }
}

/// The `resource_type` of a stored schema as one of the two static types.
pub fn base_type(name: &str) -> Result<&'static ResourceTypeDef, IdentityError> {
    if name.eq_ignore_ascii_case("User") {
        Ok(&scim::USER)
    } else if name.eq_ignore_ascii_case("Group") {
        Ok(&scim::GROUP)
    } else {
        Err(scim::ScimError::invalid_value("the resource type must be User or Group").into())
    }
}

/// Per-tenant types, cached.
#[derive(Clone)]
pub struct TypesCache {
    interner: Arc<Interner>,
    cache: Cache<String, TenantTypes>,
}

impl Default for TypesCache {
    fn default() -> Self {
        Self {
            interner: Arc::new(Interner::new()),
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TYPES_TTL)
                .build(),
        }
    }
}

impl TypesCache {
    /// The tenant's types, from the cache or storage.
    pub async fn get(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
    ) -> Result<TenantTypes, IdentityError> {
        if let Some(types) = self.cache.get(tenant.as_str()).await {
            return Ok(types);
        }
        let types = self.build(&store.list_tenant_schemas(tenant).await?)?;
        self.cache.insert(tenant.as_str().to_owned(), types).await;
        Ok(types)
    }

    /// Forgets the tenant's entry (after a change of its schemas).
    pub async fn invalidate(&self, tenant: &TenantId) {
        self.cache.invalidate(tenant.as_str()).await;
    }

    /// The types `records` define; also how a new set of schemas is
    /// checked before it is stored (clashing URNs, limits).
    pub fn build(&self, records: &[TenantSchemaRecord]) -> Result<TenantTypes, IdentityError> {
        let mut user = Vec::new();
        let mut group = Vec::new();
        for record in records {
            let doc: serde_json::Value = serde_json::from_str(&record.definition).map_err(|e| {
                tracing::error!(error = %e, urn = %record.urn, "stored schema is not JSON");
                IdentityError::InvalidArgument("a stored schema is unreadable".into())
            })?;
            let spec = ExtensionSpec::from_json(&doc)?;
            if std::ptr::eq(base_type(&record.resource_type)?, &scim::USER) {
                user.push(spec);
            } else {
                group.push(spec);
            }
        }
        Ok(TenantTypes {
            user: self.interner.resource_type(&scim::USER, &user)?,
            group: self.interner.resource_type(&scim::GROUP, &group)?,
        })
    }
}
