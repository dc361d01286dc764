//! Index pagination (RFC 7644 §3.4.2.4, the default) and cursor pagination
//! (RFC 9865) of `/Users` and `/Groups` lists. A request with a `cursor`
//! parameter (empty for the first page) gets keyset pages with
//! `nextCursor`/`previousCursor`; any other request is paged by
//! `startIndex`, so clients that know nothing of cursors never see one.

use proto::identity::v1 as pb;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::cursor::Binding;
use crate::error::ApiError;
use crate::listing::ListParams;
use crate::render;

/// A page as identity returned it, resources already rendered.
#[derive(Debug, Default)]
pub struct Listed {
    pub total: u64,
    pub resources: Vec<Value>,
    /// Keyset pagination only.
    pub first_key: Option<pb::ListKey>,
    pub last_key: Option<pb::ListKey>,
    pub more: bool,
}

/// A list request's pagination, ready for identity.
pub struct Paging<'a> {
    state: &'a AppState,
    tenant: &'a str,
    resource: &'static str,
    filter: String,
    sort_by: String,
    sort_order: i32,
    /// `None` for index pagination.
    pub keyset: Option<pb::Keyset>,
}

impl<'a> Paging<'a> {
    /// Opens the request's cursor, if any (400 `invalidCursor` or
    /// `expiredCursor` when it is not good here).
    pub fn new(
        state: &'a AppState,
        caller: &'a Caller,
        resource: &'static str,
        params: &ListParams,
    ) -> Result<Self, ApiError> {
        let (filter, sort_by, sort_order) = params.wire();
        let mut paging = Self {
            state,
            tenant: &caller.tenant_id,
            resource,
            filter,
            sort_by,
            sort_order,
            keyset: None,
        };
        paging.keyset = match params.cursor.as_deref() {
            None => None,
            Some("") => Some(pb::Keyset::default()),
            Some(cursor) => Some(state.cursors.open(&paging.binding(), cursor)?),
        };
        Ok(paging)
    }

    fn binding(&self) -> Binding<'_> {
        Binding {
            tenant: self.tenant,
            resource: self.resource,
            filter: &self.filter,
            sort_by: &self.sort_by,
            sort_order: self.sort_order,
        }
    }

    /// Filter, sortBy and sortOrder as sent to identity.
    pub fn wire(&self) -> (String, String, i32) {
        (self.filter.clone(), self.sort_by.clone(), self.sort_order)
    }

    /// The ListResponse of a page.
    pub fn response(&self, params: &ListParams, listed: Listed) -> Value {
        let Some(keyset) = &self.keyset else {
            return render::list(listed.total, params.start_index, listed.resources);
        };
        let items = listed.resources.len();
        let from_a_row = keyset.after.is_some();
        // Read forwards: more rows means a next page; a start after some row
        // means a previous one. Read backwards: the other way round.
        let (has_next, has_previous) = if keyset.backwards {
            (from_a_row, listed.more)
        } else {
            (listed.more, from_a_row)
        };
        let mut body = json!({
            "schemas": [scim::schema::LIST_RESPONSE_SCHEMA],
            "totalResults": listed.total,
            "itemsPerPage": items,
            "Resources": listed.resources,
        });
        let binding = self.binding();
        if let (true, Some(last)) = (has_next, &listed.last_key) {
            body["nextCursor"] = self.state.cursors.seal(&binding, last, false).into();
        }
        if let (true, Some(first)) = (has_previous, &listed.first_key) {
            body["previousCursor"] = self.state.cursors.seal(&binding, first, true).into();
        }
        body
    }
}
