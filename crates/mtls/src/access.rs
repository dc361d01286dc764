//! Who may call what: the caller's certificate names map to a role, and a
//! role to the methods it may call.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::Peer;

const IDENTITY: &str = "identity.v1.IdentityService";
const POLICY: &str = "policy.v1.PolicyService";
const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Methods by service: `(service, [method])`.
type Grants = &'static [(&'static str, &'static [&'static str])];

/// Every method of identity and policy, by service.
const METHODS: Grants = &[
    (
        IDENTITY,
        &[
            "CreateTenant",
            "GetTenant",
            "ListTenants",
            "SetTenantLimits",
            "GetTenantLimits",
            "SetTenantProfile",
            "GetTenantProfile",
            "PutTenantSchema",
            "ListTenantSchemas",
            "DeleteTenantSchema",
            "IssueToken",
            "ListTokens",
            "RevokeToken",
            "AuthenticateToken",
            "CreateUser",
            "ImportAccounts",
            "SetAdoptionPolicy",
            "GetAdoptionPolicy",
            "GetUser",
            "ReplaceUser",
            "PatchUser",
            "DeleteUser",
            "ListUsers",
            "CreateGroup",
            "GetGroup",
            "ReplaceGroup",
            "PatchGroup",
            "DeleteGroup",
            "ListGroups",
            "Watch",
            "ListStreamHeads",
            "ReadChanges",
            "Snapshot",
            "IssueConsoleLink",
            "RedeemConsoleLink",
            "InspectConsoleLink",
            "GetConsoleSessionEpoch",
            "EndConsoleSessions",
            "RecordRequests",
            "ListRequestLog",
            "GetTenantHealth",
        ],
    ),
    (
        POLICY,
        &[
            "CreateRole",
            "ListRoles",
            "DeleteRole",
            "SetAssignment",
            "RemoveAssignment",
            "ListAssignments",
            "SetDefaultRole",
            "GetDefaultRole",
            "LockUser",
            "UnlockUser",
            "GetEffectiveRole",
            "ListUsersByRole",
            "Explain",
            "DryRun",
            "ListRoleHistory",
            "WatchRoleChanges",
            "Reconcile",
            "RecordCheckout",
            "RecordReturn",
            "ListHoldings",
            "GetDisabledWithEquipmentReport",
            "SetAlertSettings",
            "GetAlertSettings",
            "DeleteAlertSettings",
            "SendTestAlert",
            "ListAlertDeliveries",
        ],
    ),
];

/// A caller's job, and with it the methods it may call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(pub String);

/// The role that may call everything, reflection included.
pub const OPERATOR: &str = "operator";

/// The default roles: each the methods its job needs and no more.
const DEFAULT_ROLES: &[(&str, Grants)] = &[
    (
        "gateway",
        &[(
            IDENTITY,
            &[
                "AuthenticateToken",
                "ListTenantSchemas",
                "CreateUser",
                "GetUser",
                "ReplaceUser",
                "PatchUser",
                "DeleteUser",
                "ListUsers",
                "CreateGroup",
                "GetGroup",
                "ReplaceGroup",
                "PatchGroup",
                "DeleteGroup",
                "ListGroups",
                "RecordRequests",
            ],
        )],
    ),
    (
        "console",
        &[
            (
                IDENTITY,
                &[
                    "RedeemConsoleLink",
                    "InspectConsoleLink",
                    "GetConsoleSessionEpoch",
                    "EndConsoleSessions",
                    "GetTenant",
                    "IssueToken",
                    "ListTokens",
                    "RevokeToken",
                    "GetUser",
                    "ListUsers",
                    "GetGroup",
                    "ListGroups",
                    "ListRequestLog",
                    "GetTenantHealth",
                    "SetTenantProfile",
                    "GetTenantProfile",
                ],
            ),
            (
                POLICY,
                &[
                    "CreateRole",
                    "ListRoles",
                    "DeleteRole",
                    "SetAssignment",
                    "RemoveAssignment",
                    "ListAssignments",
                    "SetDefaultRole",
                    "GetDefaultRole",
                    "LockUser",
                    "UnlockUser",
                    "GetEffectiveRole",
                    "ListUsersByRole",
                    "Explain",
                    "DryRun",
                    "ListRoleHistory",
                    "ListHoldings",
                    "GetDisabledWithEquipmentReport",
                    "SetAlertSettings",
                    "GetAlertSettings",
                    "DeleteAlertSettings",
                    "SendTestAlert",
                    "ListAlertDeliveries",
                ],
            ),
        ],
    ),
    (
        "policy",
        &[(
            IDENTITY,
            &[
                "GetTenant",
                "GetUser",
                "ListUsers",
                "GetGroup",
                "ListGroups",
                "Watch",
                "ListStreamHeads",
                "ReadChanges",
                "Snapshot",
            ],
        )],
    ),
    (
        "product",
        &[
            (
                IDENTITY,
                &[
                    "CreateTenant",
                    "GetTenant",
                    "ListTenants",
                    "IssueConsoleLink",
                    "ImportAccounts",
                    "GetUser",
                    "ListUsers",
                    "GetGroup",
                    "ListGroups",
                ],
            ),
            (
                POLICY,
                &[
                    "ListRoles",
                    "GetEffectiveRole",
                    "ListUsersByRole",
                    "Explain",
                    "ListRoleHistory",
                    "WatchRoleChanges",
                    "ListHoldings",
                    "GetDisabledWithEquipmentReport",
                ],
            ),
        ],
    ),
    (
        "asset-service",
        &[(POLICY, &["RecordCheckout", "RecordReturn", "ListHoldings"])],
    ),
];

/// Why the settings of an [`Access`] table were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessError(pub String);

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AccessError {}

/// The table: certificate name → role, role → methods (`Service/Method`).
#[derive(Debug, Clone)]
pub struct Access {
    clients: HashMap<String, Role>,
    roles: HashMap<Role, BTreeSet<String>>,
}

/// What a call is refused with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unauthenticated,
    PermissionDenied(String),
}

fn full(service: &str, method: &str) -> String {
    format!("{service}/{method}")
}

/// `Service/Method` of a method named either way; `None` for a method no
/// service has.
fn resolve(name: &str) -> Option<String> {
    for (service, methods) in METHODS {
        for m in *methods {
            if name == *m || name == full(service, m) {
                return Some(full(service, m));
            }
        }
    }
    None
}

impl Default for Access {
    fn default() -> Self {
        let mut roles: HashMap<Role, BTreeSet<String>> = DEFAULT_ROLES
            .iter()
            .map(|(role, grants)| {
                let methods = grants
                    .iter()
                    .flat_map(|(service, ms)| ms.iter().map(move |m| full(service, m)))
                    .collect();
                (Role((*role).to_owned()), methods)
            })
            .collect();
        roles.insert(Role(OPERATOR.to_owned()), BTreeSet::new());
        let clients = roles
            .keys()
            .map(|role| (role.0.clone(), role.clone()))
            .collect();
        Self { clients, roles }
    }
}

impl Access {
    /// The default table, with `clients` (`name=role,…`: certificate names
    /// and their roles, replacing the default of each role's own name) and
    /// `grants` (`role=Method|Method;…`: methods added to a role, which may
    /// be a new one) when given.
    pub fn configure(clients: Option<&str>, grants: Option<&str>) -> Result<Self, AccessError> {
        let mut access = Self::default();
        if let Some(grants) = grants.filter(|g| !g.trim().is_empty()) {
            for grant in grants.split(';').map(str::trim).filter(|g| !g.is_empty()) {
                let (role, methods) = grant.split_once('=').ok_or_else(|| {
                    AccessError(format!("GRPC_GRANTS: '{grant}' is not role=Method|Method"))
                })?;
                let role = Role(role.trim().to_owned());
                if role.0.is_empty() {
                    return Err(AccessError(format!("GRPC_GRANTS: '{grant}' names no role")));
                }
                let set = access.roles.entry(role).or_default();
                for m in methods.split('|').map(str::trim).filter(|m| !m.is_empty()) {
                    let m = resolve(m).ok_or_else(|| {
                        AccessError(format!("GRPC_GRANTS: no service has a method '{m}'"))
                    })?;
                    set.insert(m);
                }
            }
        }
        if let Some(clients) = clients.filter(|c| !c.trim().is_empty()) {
            access.clients.clear();
            for pair in clients.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (name, role) = pair.split_once('=').ok_or_else(|| {
                    AccessError(format!(
                        "GRPC_CLIENTS: '{pair}' is not certificate-name=role"
                    ))
                })?;
                let role = Role(role.trim().to_owned());
                if !access.roles.contains_key(&role) {
                    return Err(AccessError(format!(
                        "GRPC_CLIENTS: '{}' is not a role (known: {})",
                        role.0,
                        access.role_names().join(", ")
                    )));
                }
                access.clients.insert(name.trim().to_owned(), role);
            }
        }
        Ok(access)
    }

    fn role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.roles.keys().map(|r| r.0.clone()).collect();
        names.sort();
        names
    }

    /// The role of a caller with these certificate names (the first name
    /// that is known).
    pub fn role_of(&self, names: &[String]) -> Option<&Role> {
        names.iter().find_map(|n| self.clients.get(n))
    }

    /// Whether a caller (`None`: no certificate) may call `path`
    /// (`/package.Service/Method`).
    pub fn decide(&self, peer: Option<&Peer>, path: &str) -> Result<Option<&Role>, Refusal> {
        let target = path.trim_start_matches('/');
        let service = target.split('/').next().unwrap_or_default();
        if service == HEALTH {
            return Ok(None);
        }
        let names = match peer {
            Some(p) if !p.names.is_empty() => &p.names,
            _ => return Err(Refusal::Unauthenticated),
        };
        let Some(role) = self.role_of(names) else {
            return Err(Refusal::PermissionDenied(format!(
                "the client certificate ({}) names no known client",
                names.join(", ")
            )));
        };
        if role.0 == OPERATOR {
            return Ok(Some(role));
        }
        if REFLECTION.contains(&service) {
            return Err(Refusal::PermissionDenied(format!(
                "reflection is for operators, not '{}'",
                role.0
            )));
        }
        if self.roles.get(role).is_some_and(|m| m.contains(target)) {
            Ok(Some(role))
        } else {
            Err(Refusal::PermissionDenied(format!(
                "'{}' may not call {target}",
                role.0
            )))
        }
    }
}

/// The tower layer that applies an [`Access`] table to every call.
#[derive(Clone)]
pub struct Authorize {
    access: Arc<Access>,
}

impl Authorize {
    pub fn new(access: Access) -> Self {
        Self {
            access: Arc::new(access),
        }
    }
}

impl<S> tower::Layer<S> for Authorize {
    type Service = AuthorizeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeService {
            inner,
            access: self.access.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthorizeService<S> {
    inner: S,
    access: Arc<Access>,
}

impl<S, B, R> tower::Service<http::Request<B>> for AuthorizeService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let peer = req.extensions().get::<Peer>();
        let path = req.uri().path();
        let status = match self.access.decide(peer, path) {
            Ok(_) => return Box::pin(self.inner.call(req)),
            Err(refusal) => refuse(peer, path, refusal),
        };
        Box::pin(std::future::ready(Ok(status.into_http())))
    }
}

fn refuse(peer: Option<&Peer>, path: &str, refusal: Refusal) -> tonic::Status {
    let addr = peer.map(|p| p.addr.to_string()).unwrap_or_default();
    let names = peer.map(|p| p.names.join(",")).unwrap_or_default();
    // The path is the client's: logged, not used as a label.
    let method: String = path.chars().take(120).collect();
    match refusal {
        Refusal::Unauthenticated => {
            metrics::counter!("grpc_server_auth_refusals_total", "reason" => "unauthenticated")
                .increment(1);
            tracing::warn!(%addr, %method, "gRPC call without a client certificate refused");
            tonic::Status::unauthenticated("a client certificate is required")
        }
        Refusal::PermissionDenied(why) => {
            metrics::counter!("grpc_server_auth_refusals_total", "reason" => "permission_denied")
                .increment(1);
            tracing::warn!(%addr, caller = %names, %method, "gRPC call refused: {why}");
            tonic::Status::permission_denied(why)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn peer(names: &[&str]) -> Peer {
        Peer {
            addr: "127.0.0.1:1".parse().unwrap(),
            names: names.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn every_default_grant_names_a_real_method() {
        for (role, grants) in DEFAULT_ROLES {
            for (service, methods) in *grants {
                for m in *methods {
                    assert_eq!(
                        resolve(&full(service, m)),
                        Some(full(service, m)),
                        "{role}: {service}/{m}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_method_list_is_the_protos() {
        for (service, proto) in [
            (
                IDENTITY,
                include_str!("../../../proto/proto/identity/v1/identity.proto"),
            ),
            (
                POLICY,
                include_str!("../../../proto/proto/policy/v1/policy.proto"),
            ),
        ] {
            let mut declared: Vec<&str> = proto
                .lines()
                .filter_map(|l| l.trim().strip_prefix("rpc "))
                .filter_map(|l| l.split('(').next())
                .map(str::trim)
                .collect();
            let mut listed: Vec<&str> = METHODS
                .iter()
                .find(|(s, _)| *s == service)
                .map(|(_, m)| m.to_vec())
                .unwrap();
            declared.sort_unstable();
            listed.sort_unstable();
            assert_eq!(listed, declared, "{service}");
        }
    }

    #[test]
    fn roles_get_their_jobs_and_no_more() {
        let a = Access::default();
        let gw = peer(&["gateway"]);
        assert!(
            a.decide(Some(&gw), "/identity.v1.IdentityService/CreateUser")
                .is_ok()
        );
        assert!(matches!(
            a.decide(Some(&gw), "/identity.v1.IdentityService/IssueToken"),
            Err(Refusal::PermissionDenied(_))
        ));
        assert!(matches!(
            a.decide(Some(&gw), "/policy.v1.PolicyService/SetAlertSettings"),
            Err(Refusal::PermissionDenied(_))
        ));
        // The console reads and advances the session epoch; the gateway does not.
        let console = peer(&["console"]);
        for m in [
            "GetConsoleSessionEpoch",
            "EndConsoleSessions",
            "InspectConsoleLink",
        ] {
            let path = format!("/identity.v1.IdentityService/{m}");
            assert!(a.decide(Some(&console), &path).is_ok(), "{m}");
            assert!(a.decide(Some(&gw), &path).is_err(), "{m}");
        }
        let asset = peer(&["asset-service"]);
        assert!(
            a.decide(Some(&asset), "/policy.v1.PolicyService/RecordCheckout")
                .is_ok()
        );
        assert!(
            a.decide(Some(&asset), "/policy.v1.PolicyService/Reconcile")
                .is_err()
        );
        let op = peer(&["operator"]);
        assert!(
            a.decide(Some(&op), "/policy.v1.PolicyService/Reconcile")
                .is_ok()
        );
        assert!(
            a.decide(
                Some(&op),
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
            )
            .is_ok()
        );
        assert!(
            a.decide(
                Some(&gw),
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
            )
            .is_err()
        );
        // Health is open, even without a certificate.
        assert!(a.decide(None, "/grpc.health.v1.Health/Check").is_ok());
        assert_eq!(
            a.decide(None, "/identity.v1.IdentityService/GetUser"),
            Err(Refusal::Unauthenticated)
        );
        assert!(matches!(
            a.decide(
                Some(&peer(&["mallory"])),
                "/identity.v1.IdentityService/GetUser"
            ),
            Err(Refusal::PermissionDenied(_))
        ));
        // A method name that merely starts like an allowed one is not it.
        assert!(
            a.decide(Some(&gw), "/identity.v1.IdentityService/CreateUser/x")
                .is_err()
        );
    }

    #[test]
    fn deployments_name_their_clients_and_grant_more() {
        let a = Access::configure(
            Some("spiffe://acme/ns/assets/sa/assets=asset-service, scim-gw.internal=gateway"),
            Some("reports=GetDisabledWithEquipmentReport|policy.v1.PolicyService/ListHoldings"),
        )
        .unwrap();
        let assets = peer(&["spiffe://acme/ns/assets/sa/assets"]);
        assert!(
            a.decide(Some(&assets), "/policy.v1.PolicyService/RecordReturn")
                .is_ok()
        );
        // The default names are replaced.
        assert!(
            a.decide(
                Some(&peer(&["gateway"])),
                "/identity.v1.IdentityService/GetUser"
            )
            .is_err()
        );
        assert!(Access::configure(Some("x=nope"), None).is_err());
        assert!(Access::configure(None, Some("r=NoSuchMethod")).is_err());
        assert!(Access::configure(Some("no-role"), None).is_err());
        let with_new_role = Access::configure(Some("rep=reports"), Some("reports=ListHoldings"));
        let with_new_role = with_new_role.unwrap();
        assert!(
            with_new_role
                .decide(
                    Some(&peer(&["rep"])),
                    "/policy.v1.PolicyService/ListHoldings"
                )
                .is_ok()
        );
    }
}
