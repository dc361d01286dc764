//! Each tenant's resource types for rendering and discovery: the static
//! User and Group plus the extension schemas the tenant registered (asked
//! from identity, cached per tenant for the auth cache's TTL, so a change
//! shows on every replica within that time).

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use proto::identity::v1 as pb;
use scim::ResourceTypeDef;
use scim::schema::custom::{ExtensionSpec, Interner};

use crate::AppState;
use crate::error::ApiError;

/// A tenant's User and Group.
#[derive(Debug, Clone, Copy)]
pub struct TenantTypes {
    pub user: &'static ResourceTypeDef,
    pub group: &'static ResourceTypeDef,
}

impl TenantTypes {
    /// Both, for discovery.
    pub fn all(&self) -> [&'static ResourceTypeDef; 2] {
        [self.user, self.group]
    }
}

/// Cached per tenant; definitions interned once per process.
#[derive(Clone)]
pub struct TypesCache {
    interner: Arc<Interner>,
    cache: Cache<String, TenantTypes>,
}

impl TypesCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            interner: Arc::new(Interner::new()),
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }
}

impl AppState {
    /// The tenant's types (from the cache, else from identity).
    pub async fn types(&self, tenant: &str) -> Result<TenantTypes, ApiError> {
        let cache = &self.types;
        if let Some(types) = cache.cache.get(tenant).await {
            return Ok(types);
        }
        let schemas = self
            .identity
            .clone()
            .list_tenant_schemas(pb::ListTenantSchemasRequest {
                tenant_id: tenant.to_owned(),
            })
            .await?
            .into_inner()
            .schemas;
        let mut user = Vec::new();
        let mut group = Vec::new();
        for schema in schemas {
            // identity stored it after the same checks: a failure here is ours.
            let spec = serde_json::from_str(&schema.schema_json)
                .ok()
                .and_then(|doc| ExtensionSpec::from_json(&doc).ok())
                .ok_or_else(|| {
                    tracing::error!(urn = %schema.urn, "unreadable tenant schema from identity");
                    ApiError::internal()
                })?;
            if schema.resource_type.eq_ignore_ascii_case("Group") {
                group.push(spec);
            } else {
                user.push(spec);
            }
        }
        let types = TenantTypes {
            user: cache.interner.resource_type(&scim::USER, &user)?,
            group: cache.interner.resource_type(&scim::GROUP, &group)?,
        };
        cache.cache.insert(tenant.to_owned(), types).await;
        Ok(types)
    }
}
