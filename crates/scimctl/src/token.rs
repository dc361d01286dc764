//! `scimctl token`: issue, list and revoke SCIM bearer tokens. A secret is
//! printed only by `issue`, once; listings show the hint, never the secret.

use std::io::Write;

use proto::identity::v1 as pb;
use serde::Serialize;

use crate::output::{self, Format};
use crate::table::Table;
use crate::{CliError, Client, TokenCommand};

/// A token's metadata as printed with `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenView {
    id: String,
    tenant_id: String,
    description: String,
    hint: String,
    created: Option<String>,
    last_used: Option<String>,
    revoked: Option<String>,
    expires: Option<String>,
}

/// `token issue --json`: the only output that carries a secret.
#[derive(Debug, Serialize)]
struct Issued {
    token: TokenView,
    secret: String,
}

/// `token list --json`.
#[derive(Debug, Serialize)]
struct TokenList {
    tokens: Vec<TokenView>,
}

impl From<pb::TokenInfo> for TokenView {
    fn from(token: pb::TokenInfo) -> Self {
        let pb::TokenInfo {
            id,
            tenant_id,
            description,
            hint,
            created,
            last_used,
            revoked,
            expires,
        } = token;
        Self {
            id,
            tenant_id,
            description,
            hint,
            created: output::rfc3339(created.as_ref()),
            last_used: output::rfc3339(last_used.as_ref()),
            revoked: output::rfc3339(revoked.as_ref()),
            expires: output::rfc3339(expires.as_ref()),
        }
    }
}

/// Runs one `token` subcommand.
pub async fn run(
    mut client: Client,
    command: TokenCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        TokenCommand::Issue {
            tenant,
            description,
            ttl_seconds,
        } => {
            let request = pb::IssueTokenRequest {
                tenant_id: tenant,
                description,
                ttl_seconds,
                secret: String::new(),
            };
            let response = client.issue_token(request).await?.into_inner();
            let token = response.token.ok_or(CliError::Missing("token"))?;
            issued(token, response.secret, format, out)
        }
        TokenCommand::List { tenant } => {
            let request = pb::ListTokensRequest { tenant_id: tenant };
            let tokens = client.list_tokens(request).await?.into_inner().tokens;
            match format {
                Format::Json => {
                    let tokens = tokens.into_iter().map(TokenView::from).collect();
                    output::json(out, &TokenList { tokens })
                }
                Format::Human => table(&tokens, out),
            }
        }
        TokenCommand::Revoke { tenant, token_id } => {
            let request = pb::RevokeTokenRequest {
                tenant_id: tenant,
                token_id,
            };
            let response = client.revoke_token(request).await?.into_inner();
            let token = response.token.ok_or(CliError::Missing("token"))?;
            match format {
                Format::Json => output::json(out, &TokenView::from(token)),
                Format::Human => table(std::slice::from_ref(&token), out),
            }
        }
    }
}

fn issued(
    token: pb::TokenInfo,
    secret: String,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    if format == Format::Json {
        let token = TokenView::from(token);
        return output::json(out, &Issued { token, secret });
    }
    table(std::slice::from_ref(&token), out)?;
    writeln!(out)?;
    writeln!(out, "secret: {secret}")?;
    writeln!(
        out,
        "This secret will not be shown again: store it now (only its hash is kept)."
    )?;
    Ok(())
}

fn table(tokens: &[pb::TokenInfo], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&[
        "ID",
        "DESCRIPTION",
        "HINT",
        "CREATED",
        "LAST USED",
        "REVOKED",
        "EXPIRES",
    ]);
    for t in tokens {
        table.row(vec![
            t.id.clone(),
            t.description.clone(),
            t.hint.clone(),
            output::short(t.created.as_ref()),
            output::short(t.last_used.as_ref()),
            output::short(t.revoked.as_ref()),
            output::short(t.expires.as_ref()),
        ]);
    }
    Ok(table.write(out)?)
}
