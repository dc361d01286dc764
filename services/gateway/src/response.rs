//! The SCIM boundary, owned once: the extractor for SCIM JSON request bodies
//! and the responder that sets `application/scim+json`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim::ScimType;
use serde_json::Value;

use crate::error::ApiError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A JSON request body: content type checked (SCIM or plain JSON, or none),
/// size limited (413), syntax checked (400 `invalidSyntax`: not UTF-8, too
/// deep, duplicate keys), operation and member counts checked (400
/// `invalidValue`).
pub struct ScimJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = scim_body_bytes(req, state).await?;
        // Strict JSON: UTF-8, bounded depth, no duplicate keys, and bounded
        // counts of PATCH operations and members (scim::strict).
        let value = scim::strict::parse_body(&bytes).map_err(ApiError)?;
        Ok(Self(value))
    }
}

/// The raw body of a SCIM request: content type checked (SCIM or plain
/// JSON, or none; 415 otherwise), size limited (413).
pub async fn scim_body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.contains("json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "send application/scim+json",
            ));
        }
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "request body is too large",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Some(ScimType::InvalidSyntax),
                "could not read the request body",
            )
        }
    })
}

/// A SCIM success response.
pub struct ScimResponse {
    status: StatusCode,
    body: Option<Value>,
    headers: HeaderMap,
}

impl ScimResponse {
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
            headers: HeaderMap::new(),
        }
    }

    pub fn created(body: Value, location: &str) -> Self {
        let mut r = Self {
            status: StatusCode::CREATED,
            ..Self::ok(body)
        };
        if let Ok(v) = HeaderValue::from_str(location) {
            r.headers.insert(header::LOCATION, v);
        }
        r
    }

    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
            headers: HeaderMap::new(),
        }
    }

    pub fn not_modified(etag: &str) -> Self {
        Self {
            status: StatusCode::NOT_MODIFIED,
            body: None,
            headers: HeaderMap::new(),
        }
        .etag(etag)
    }

    /// The status to send.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// A response header set so far (`Location`, `ETag`).
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(mut self, etag: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(etag) {
            self.headers.insert(header::ETAG, v);
        }
        self
    }
}

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, body.to_string()).into_response(),
            None => self.status.into_response(),
        };
        if response.status() != StatusCode::NO_CONTENT
            && response.status() != StatusCode::NOT_MODIFIED
        {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_CONTENT_TYPE),
            );
        }
        response.headers_mut().extend(self.headers);
        response
    }
}
