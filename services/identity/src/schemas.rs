//! Tenants' extension schemas over gRPC: validated (alone and with the
//! tenant's other schemas) before they are stored, and the tenant's cached
//! resource types dropped after every change.

use proto::identity::v1 as pb;
use scim::schema::custom::ExtensionSpec;
use tonic::{Request, Response, Status};

use crate::domain::TenantId;
use crate::error::IdentityError;
use crate::grpc::IdentityApi;
use crate::store::TenantSchemaRecord;
use crate::types::base_type;

fn tenant(id: &str) -> Result<TenantId, Status> {
    TenantId::parse(id).map_err(Status::from)
}

fn message(record: TenantSchemaRecord) -> pb::TenantSchema {
    let TenantSchemaRecord {
        urn,
        resource_type,
        definition,
        updated,
    } = record;
    pb::TenantSchema {
        urn,
        resource_type,
        schema_json: definition,
        updated: Some(crate::convert::timestamp(updated)),
    }
}

impl IdentityApi {
    pub(crate) async fn put_schema(
        &self,
        request: Request<pb::PutTenantSchemaRequest>,
    ) -> Result<Response<pb::PutTenantSchemaResponse>, Status> {
        let pb::PutTenantSchemaRequest {
            tenant_id,
            resource_type,
            schema_json,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let base = base_type(&resource_type)?;
        let doc: serde_json::Value = serde_json::from_str(&schema_json).map_err(|e| {
            IdentityError::from(scim::ScimError::invalid_syntax(format!(
                "schema is not valid JSON: {e}"
            )))
        })?;
        let spec = ExtensionSpec::from_json(&doc).map_err(IdentityError::from)?;
        let record = TenantSchemaRecord {
            urn: spec.urn.clone(),
            resource_type: base.id.to_owned(),
            definition: spec.to_json().to_string(),
            updated: 0,
        };
        // The new set must hold together (no clashing URNs, within limits).
        let mut all = self.store.list_tenant_schemas(&tenant).await?;
        all.retain(|r| !r.urn.eq_ignore_ascii_case(&spec.urn));
        all.push(record.clone());
        self.types.build(&all)?;
        let created = self.store.put_tenant_schema(&tenant, &record).await?;
        self.types.invalidate(&tenant).await;
        tracing::info!(urn = %record.urn, created, "tenant schema stored");
        let stored = self
            .store
            .list_tenant_schemas(&tenant)
            .await?
            .into_iter()
            .find(|r| r.urn.eq_ignore_ascii_case(&record.urn))
            .ok_or(IdentityError::NotFound("schema"))?;
        Ok(Response::new(pb::PutTenantSchemaResponse {
            schema: Some(message(stored)),
            created,
        }))
    }

    pub(crate) async fn list_schemas(
        &self,
        request: Request<pb::ListTenantSchemasRequest>,
    ) -> Result<Response<pb::ListTenantSchemasResponse>, Status> {
        let tenant = tenant(&request.into_inner().tenant_id)?;
        if self.store.get_tenant(&tenant).await?.is_none() {
            return Err(IdentityError::NotFound("tenant").into());
        }
        let schemas = self.store.list_tenant_schemas(&tenant).await?;
        Ok(Response::new(pb::ListTenantSchemasResponse {
            schemas: schemas.into_iter().map(message).collect(),
        }))
    }

    pub(crate) async fn delete_schema(
        &self,
        request: Request<pb::DeleteTenantSchemaRequest>,
    ) -> Result<Response<pb::DeleteTenantSchemaResponse>, Status> {
        let pb::DeleteTenantSchemaRequest { tenant_id, urn } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        self.store.delete_tenant_schema(&tenant, &urn).await?;
        self.types.invalidate(&tenant).await;
        tracing::info!(urn = %urn, "tenant schema removed");
        Ok(Response::new(pb::DeleteTenantSchemaResponse {}))
    }
}
