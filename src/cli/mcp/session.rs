//! The API key an MCP session's tool calls run under: read from `--key-file`, or minted
//! with the admin key for this session alone (`use`, restricted to the entity, named after
//! the entity and the process) and revoked when the session ends.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::domain::api_key::Restrictions;

use crate::cli::CliError;
use crate::cli::client::{Client, enc};
use crate::config;
use crate::http::dto::{ApiKeyDto, ClientInfoDto, CreateKeyBody, CreatedApiKeyDto};

/// A key minted for the session: revoked through `admin` when the session closes.
pub struct Session {
    minted: Option<(Client, String)>,
}

/// The name of a session key: who it acts for and which process held it (at most 64
/// characters, as key names are).
fn key_name(purpose: &str, entity: &str) -> String {
    let text =
        |s: &str, n: usize| -> String { s.chars().filter(|c| !c.is_control()).take(n).collect() };
    format!(
        "{} for {} (pid {})",
        text(purpose, 20),
        text(entity, 24),
        std::process::id()
    )
}

/// Whether a key may run this session's tools: `use` only, and restricted to `entity`.
fn check_grant(info: &ClientInfoDto, entity: &str) -> Result<(), String> {
    let grant = &info.api_key;
    match crate::mcp::tools_entity(grant.permission.0, grant.entity_id.as_deref())? {
        own if own == entity => Ok(()),
        own => Err(format!("is restricted to {own:?}")),
    }
}

impl Session {
    /// The session and the client its tool calls use.
    pub fn open(
        data_dir: Option<PathBuf>,
        url: Option<String>,
        entity: &str,
        key_file: Option<&Path>,
        purpose: &str,
    ) -> Result<(Session, Client, Restrictions), CliError> {
        if let Some(path) = key_file {
            let key = config::read_trimmed(path)?
                .filter(|k| !k.is_empty())
                .ok_or_else(|| CliError::new(format!("no API key in {}", path.display())))?;
            let client = Client::with_key(data_dir, url, SecretString::from(key))?;
            let info: ClientInfoDto = client.get("/api/v1/client/auth/client_info")?;
            check_grant(&info, entity).map_err(|why| {
                CliError::new(format!(
                    "the key in {} {why}; tools run only under a `use` key restricted to \
                     {entity:?} (make one with `keyport keys create --name NAME --entity {entity}`)",
                    path.display()
                ))
            })?;
            let restrictions = info.api_key.restrictions();
            return Ok((Session { minted: None }, client, restrictions));
        }
        let admin = Client::connect(data_dir, url)?;
        let body = CreateKeyBody {
            name: key_name(purpose, entity),
            permission: Some("use".into()),
            entity_id: Some(entity.to_string()),
            ..CreateKeyBody::default()
        };
        let created: CreatedApiKeyDto = admin.post("/api/v1/keys", &body)?;
        let client = admin.rekeyed(SecretString::from(created.key));
        Ok((
            Session {
                minted: Some((admin, created.record.id)),
            },
            client,
            Restrictions::default(),
        ))
    }

    /// Revokes the session's minted key, if it has one.
    pub fn close(self) -> Result<(), CliError> {
        let Some((admin, id)) = self.minted else {
            return Ok(());
        };
        let _revoked: ApiKeyDto = admin.delete(&format!("/api/v1/keys/{}", enc(&id)))?;
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::panic, clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_session_key_name_says_who_and_fits() {
        let name = key_name("mcp serve", "alice");
        assert!(name.starts_with("mcp serve for alice (pid "), "{name}");
        let long = key_name(&"p".repeat(100), &format!("{}\u{7}", "e".repeat(200)));
        assert!(long.chars().count() <= 64, "{long}");
        assert!(!long.chars().any(char::is_control), "{long}");
    }

    #[test]
    fn only_a_use_key_restricted_to_the_entity_runs_tools() {
        let info = |permission: &str, entity: Option<&str>| -> ClientInfoDto {
            serde_json::from_value(serde_json::json!({
                "client": {"id": "k", "name": "n"},
                "apiKey": {"permission": permission, "entityId": entity},
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(check_grant(&info("use", Some("alice")), "alice").is_ok());
        for (permission, entity, why) in [
            ("admin", Some("alice"), "admin permission"),
            ("reveal", Some("alice"), "reveal permission"),
            ("use", None, "not restricted"),
            ("use", Some("bob"), "restricted to \"bob\""),
        ] {
            let refused = check_grant(&info(permission, entity), "alice").unwrap_err();
            assert!(refused.contains(why), "{refused}");
        }
    }
}
