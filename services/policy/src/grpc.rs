//! The `policy.v1.PolicyService` gRPC server: validation of each request,
//! one store call, conversion of the answer. Errors leave through the one
//! `From<PolicyError> for Status`.

use std::sync::Arc;

use proto::policy::v1 as pb;
use proto::policy::v1::policy_service_server::PolicyService;
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use tracing::instrument;

use crate::alerts::Clock;
use crate::domain::{Hypothesis, RoleName, free_text};
use crate::error::PolicyError;
use crate::request::{assignment, default_role, found, group, page, tenant, user};
use crate::store::{EquipmentStore, Store};
use crate::watch::{self as role_watch, RoleChangeStream};
use crate::{convert, reconcile};

/// The gRPC API over a [`Store`] and an [`EquipmentStore`].
#[derive(Clone)]
pub struct PolicyApi {
    store: Arc<dyn Store>,
    pub(crate) equipment: Arc<dyn EquipmentStore>,
    pub(crate) identity: crate::IdentityClient,
    pub(crate) clock: Arc<dyn Clock>,
    stopping: watch::Receiver<bool>,
    /// Which webhook addresses tenants may configure.
    pub(crate) egress: Arc<crate::alerts::egress::Egress>,
}

impl PolicyApi {
    /// `stopping` ends the open `WatchRoleChanges` streams when it turns true.
    pub fn new(
        store: Arc<dyn Store>,
        equipment: Arc<dyn EquipmentStore>,
        identity: crate::IdentityClient,
        clock: Arc<dyn Clock>,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        Self {
            store,
            equipment,
            identity,
            clock,
            stopping,
            egress: Arc::default(),
        }
    }

    /// Replaces which webhook addresses tenants may configure (by default
    /// public ones only).
    pub fn with_egress(mut self, egress: Arc<crate::alerts::egress::Egress>) -> Self {
        self.egress = egress;
        self
    }
}

#[tonic::async_trait]
impl PolicyService for PolicyApi {
    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::CreateRoleResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::CreateRoleRequest {
            tenant_id,
            name,
            description,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let name = RoleName::parse(&name)?;
        let description = free_text(&description, "description")?;
        let role = self.store.create_role(&tenant, &name, &description).await?;
        Ok(Response::new(pb::CreateRoleResponse {
            role: Some(convert::role(role)),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::ListRolesRequest { tenant_id } = request.into_inner();
        let roles = self.store.list_roles(&tenant(&tenant_id)?).await?;
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.into_iter().map(convert::role).collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::DeleteRoleRequest { tenant_id, name } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        self.store
            .delete_role(&tenant, &RoleName::parse(&name)?)
            .await?;
        Ok(Response::new(pb::DeleteRoleResponse {}))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn set_assignment(
        &self,
        request: Request<pb::SetAssignmentRequest>,
    ) -> Result<Response<pb::SetAssignmentResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::SetAssignmentRequest {
            tenant_id,
            assignment: a,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let a = assignment(a)?;
        let users_changed = self.store.set_assignment(&tenant, &a).await?;
        Ok(Response::new(pb::SetAssignmentResponse {
            assignment: Some(convert::assignment(a)),
            users_changed,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn remove_assignment(
        &self,
        request: Request<pb::RemoveAssignmentRequest>,
    ) -> Result<Response<pb::RemoveAssignmentResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::RemoveAssignmentRequest {
            tenant_id,
            group_id,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let users_changed = self
            .store
            .remove_assignment(&tenant, &group(&group_id)?)
            .await?;
        Ok(Response::new(pb::RemoveAssignmentResponse {
            users_changed,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_assignments(
        &self,
        request: Request<pb::ListAssignmentsRequest>,
    ) -> Result<Response<pb::ListAssignmentsResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::ListAssignmentsRequest { tenant_id } = request.into_inner();
        let found = self.store.list_assignments(&tenant(&tenant_id)?).await?;
        Ok(Response::new(pb::ListAssignmentsResponse {
            assignments: found.into_iter().map(convert::assignment).collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn set_default_role(
        &self,
        request: Request<pb::SetDefaultRoleRequest>,
    ) -> Result<Response<pb::SetDefaultRoleResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::SetDefaultRoleRequest { tenant_id, role } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let role = default_role(&role)?;
        let users_changed = self.store.set_default_role(&tenant, role.as_ref()).await?;
        Ok(Response::new(pb::SetDefaultRoleResponse { users_changed }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_default_role(
        &self,
        request: Request<pb::GetDefaultRoleRequest>,
    ) -> Result<Response<pb::GetDefaultRoleResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::GetDefaultRoleRequest { tenant_id } = request.into_inner();
        let role = self.store.default_role(&tenant(&tenant_id)?).await?;
        Ok(Response::new(pb::GetDefaultRoleResponse {
            role: role.unwrap_or_default(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn lock_user(
        &self,
        request: Request<pb::LockUserRequest>,
    ) -> Result<Response<pb::LockUserResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::LockUserRequest {
            tenant_id,
            user_id,
            note,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let note = free_text(&note, "note")?;
        let role = self
            .store
            .lock_user(&tenant, &user(&user_id)?, &note)
            .await?;
        Ok(Response::new(pb::LockUserResponse {
            role: Some(convert::effective(role)),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn unlock_user(
        &self,
        request: Request<pb::UnlockUserRequest>,
    ) -> Result<Response<pb::UnlockUserResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::UnlockUserRequest { tenant_id, user_id } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let role = self.store.unlock_user(&tenant, &user(&user_id)?).await?;
        Ok(Response::new(pb::UnlockUserResponse {
            role: Some(convert::effective(role)),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_effective_role(
        &self,
        request: Request<pb::GetEffectiveRoleRequest>,
    ) -> Result<Response<pb::GetEffectiveRoleResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::GetEffectiveRoleRequest { tenant_id, user_id } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let role = found(self.store.effective_role(&tenant, &user(&user_id)?).await?)?;
        Ok(Response::new(pb::GetEffectiveRoleResponse {
            role: Some(convert::effective(role)),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_users_by_role(
        &self,
        request: Request<pb::ListUsersByRoleRequest>,
    ) -> Result<Response<pb::ListUsersByRoleResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::ListUsersByRoleRequest {
            tenant_id,
            role,
            after_user_id,
            page_size,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let limit = page(page_size);
        let users = self
            .store
            .users_by_role(&tenant, &role, &after_user_id, limit)
            .await?;
        let full = users.len() == usize::try_from(limit).unwrap_or(usize::MAX);
        let next_after_user_id = match users.last() {
            Some(last) if full => last.user_id.clone(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListUsersByRoleResponse {
            users: users.into_iter().map(convert::effective).collect(),
            next_after_user_id,
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn explain(
        &self,
        request: Request<pb::ExplainRequest>,
    ) -> Result<Response<pb::ExplainResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::ExplainRequest { tenant_id, user_id } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let explanation = self
            .store
            .explain(&tenant, &user(&user_id)?)
            .await?
            .ok_or(PolicyError::NotFound("user"))?;
        Ok(Response::new(pb::ExplainResponse {
            role: Some(convert::effective(explanation.effective)),
            steps: explanation.steps.into_iter().map(convert::step).collect(),
            candidate_assignments: explanation
                .candidates
                .into_iter()
                .map(convert::assignment)
                .collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn dry_run(
        &self,
        request: Request<pb::DryRunRequest>,
    ) -> Result<Response<pb::DryRunResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        use pb::dry_run_request::Change;
        let pb::DryRunRequest { tenant_id, change } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let change = match change {
            Some(Change::SetAssignment(a)) => Hypothesis::SetAssignment(assignment(Some(a))?),
            Some(Change::RemoveAssignmentGroupId(g)) => Hypothesis::RemoveAssignment(group(&g)?),
            Some(Change::SetDefaultRole(r)) => {
                Hypothesis::SetDefaultRole(default_role(&r)?.map(|r| r.as_str().to_owned()))
            }
            None => return Err(PolicyError::InvalidArgument("change is required".into()).into()),
        };
        let diffs = self.store.dry_run(&tenant, &change).await?;
        Ok(Response::new(pb::DryRunResponse {
            changes: diffs.into_iter().map(convert::diff).collect(),
        }))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_role_history(
        &self,
        request: Request<pb::ListRoleHistoryRequest>,
    ) -> Result<Response<pb::ListRoleHistoryResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::ListRoleHistoryRequest {
            tenant_id,
            user_id,
            limit,
        } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let user_id = user(&user_id)?;
        found(self.store.effective_role(&tenant, &user_id).await?)?;
        let changes = self.store.history(&tenant, &user_id, page(limit)).await?;
        Ok(Response::new(pb::ListRoleHistoryResponse {
            changes: changes.into_iter().map(convert::role_change).collect(),
        }))
    }

    type WatchRoleChangesStream = RoleChangeStream;

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn watch_role_changes(
        &self,
        request: Request<pb::WatchRoleChangesRequest>,
    ) -> Result<Response<Self::WatchRoleChangesStream>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::WatchRoleChangesRequest {
            after_seq,
            tenant_id,
            cursors,
            from_now,
        } = request.into_inner();
        let mut at = std::collections::HashMap::new();
        let tenant = match tenant_id.as_str() {
            "" => {
                for p in cursors {
                    let id = tenant(&p.tenant_id)?;
                    if p.seq < 0 {
                        return Err(Status::invalid_argument(
                            "a stream position is not negative",
                        ));
                    }
                    at.insert(id.as_str().to_owned(), p.seq);
                }
                None
            }
            t => {
                let id = tenant(t)?;
                if !from_now {
                    at.insert(id.as_str().to_owned(), after_seq.max(0));
                }
                Some(id)
            }
        };
        Ok(Response::new(role_watch::watch(
            self.store.clone(),
            tenant,
            at,
            from_now,
            self.stopping.clone(),
        )))
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn reconcile(
        &self,
        request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        let pb::ReconcileRequest { tenant_id } = request.into_inner();
        let tenant = tenant(&tenant_id)?;
        let (as_of_seq, users) = reconcile::snapshot(self.identity.clone(), &tenant).await?;
        let (users_checked, users_changed) =
            self.store.reconcile(&tenant, &users, as_of_seq).await?;
        tracing::info!(users_checked, users_changed, "tenant reconciled");
        Ok(Response::new(pb::ReconcileResponse {
            users_checked,
            users_changed,
        }))
    }

    // === Equipment and alerts (in grpc_equipment.rs) ===

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn record_checkout(
        &self,
        request: Request<pb::RecordCheckoutRequest>,
    ) -> Result<Response<pb::RecordCheckoutResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_record_checkout(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn record_return(
        &self,
        request: Request<pb::RecordReturnRequest>,
    ) -> Result<Response<pb::RecordReturnResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_record_return(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_holdings(
        &self,
        request: Request<pb::ListHoldingsRequest>,
    ) -> Result<Response<pb::ListHoldingsResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_list_holdings(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_disabled_with_equipment_report(
        &self,
        request: Request<pb::GetDisabledWithEquipmentReportRequest>,
    ) -> Result<Response<pb::GetDisabledWithEquipmentReportResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_report(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn set_alert_settings(
        &self,
        request: Request<pb::SetAlertSettingsRequest>,
    ) -> Result<Response<pb::SetAlertSettingsResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_set_alert_settings(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn get_alert_settings(
        &self,
        request: Request<pb::GetAlertSettingsRequest>,
    ) -> Result<Response<pb::GetAlertSettingsResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_get_alert_settings(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn delete_alert_settings(
        &self,
        request: Request<pb::DeleteAlertSettingsRequest>,
    ) -> Result<Response<pb::DeleteAlertSettingsResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_delete_alert_settings(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn send_test_alert(
        &self,
        request: Request<pb::SendTestAlertRequest>,
    ) -> Result<Response<pb::SendTestAlertResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_send_test_alert(request.into_inner())
            .await
            .map(Response::new)
    }

    #[instrument(skip_all, fields(tenant_id = %request.get_ref().tenant_id))]
    async fn list_alert_deliveries(
        &self,
        request: Request<pb::ListAlertDeliveriesRequest>,
    ) -> Result<Response<pb::ListAlertDeliveriesResponse>, Status> {
        crate::text::no_nul(request.get_ref())?;
        self.do_list_alert_deliveries(request.into_inner())
            .await
            .map(Response::new)
    }
}
