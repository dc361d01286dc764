//! The bare HTTP-to-gRPC hop: an `identity.v1.IdentityService` that answers
//! from memory with canned messages and does no work, so that the real
//! gateway binary in front of it measures the gateway stack plus one gRPC
//! round trip and nothing else.
//!
//! It is a hand-routed tonic service rather than an implementation of the
//! generated trait, so that RPCs added to `identity.v1` later do not break
//! it: anything it does not know answers an empty (all-default) message.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use proto::identity::v1 as pb;
use tonic::body::Body;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::Error;
use crate::workload::user_body;

/// The tenant every token of the stub belongs to.
pub const TENANT: &str = "hop";

/// A unary handler from a plain function.
struct Unary<F>(F);

impl<Req, Resp, F> UnaryService<Req> for Unary<F>
where
    F: Fn(Req) -> Resp,
{
    type Response = Resp;
    type Future = Ready<Result<Response<Resp>, Status>>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        ready(Ok(Response::new((self.0)(request.into_inner()))))
    }
}

fn canned_user(id: &str) -> pb::User {
    let mut doc = user_body("hop-user@bench.example.com", "hop-e1");
    if let Some(o) = doc.as_object_mut() {
        o.remove("meta");
        o.remove("roles");
    }
    let now = prost_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 0,
    };
    pb::User {
        id: id.to_owned(),
        tenant_id: TENANT.to_owned(),
        user_name: "hop-user@bench.example.com".to_owned(),
        external_id: Some("hop-e1".to_owned()),
        active: true,
        version: 1,
        created: Some(now),
        last_modified: Some(now),
        resource_json: doc.to_string(),
        ..Default::default()
    }
}

const USER_ID: &str = "00000000-0000-4000-8000-000000000001";

#[derive(Clone)]
struct Stub;

impl NamedService for Stub {
    const NAME: &'static str = "identity.v1.IdentityService";
}

async fn unary<Req, Resp, F>(req: http::Request<Body>, f: F) -> http::Response<Body>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Req) -> Resp + Send + 'static,
{
    let mut grpc = Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
    grpc.unary(Unary(f), req).await
}

impl tower::Service<http::Request<Body>> for Stub {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let path = req.uri().path().to_owned();
        Box::pin(async move {
            let method = path.rsplit('/').next().unwrap_or_default().to_owned();
            let resp = match method.as_str() {
                "AuthenticateToken" => {
                    unary(req, |_: pb::AuthenticateTokenRequest| {
                        pb::AuthenticateTokenResponse {
                            tenant_id: TENANT.to_owned(),
                            token_id: "stub".to_owned(),
                            ..Default::default()
                        }
                    })
                    .await
                }
                "GetUser" => {
                    unary(req, |r: pb::GetUserRequest| pb::GetUserResponse {
                        user: Some(canned_user(&r.user_id)),
                        ..Default::default()
                    })
                    .await
                }
                "CreateUser" => {
                    unary(req, |_: pb::CreateUserRequest| pb::CreateUserResponse {
                        user: Some(canned_user(USER_ID)),
                        ..Default::default()
                    })
                    .await
                }
                "PatchUser" => {
                    unary(req, |r: pb::PatchUserRequest| pb::PatchUserResponse {
                        user: Some(canned_user(&r.user_id)),
                        ..Default::default()
                    })
                    .await
                }
                "ListUsers" => {
                    unary(req, |_: pb::ListUsersRequest| pb::ListUsersResponse {
                        total_results: 0,
                        ..Default::default()
                    })
                    .await
                }
                // Anything else (RPCs added later, such as per-tenant settings)
                // answers an empty message: every proto3 response decodes
                // from zero bytes as its defaults.
                _ => unary(req, |(): ()| ()).await,
            };
            Ok(resp)
        })
    }
}

/// Serves the stub on `addr` until the process is killed.
pub async fn serve(addr: SocketAddr) -> Result<(), Error> {
    tonic::transport::Server::builder()
        .add_service(Stub)
        .serve(addr)
        .await?;
    Ok(())
}

/// The id the stub's created users carry.
pub fn user_id() -> &'static str {
    USER_ID
}
