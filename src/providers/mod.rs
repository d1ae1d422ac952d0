//! The provider catalog: which apps keyport knows, how each authenticates, and what an
//! integration or a connection for it must supply.
//!
//! The catalog is data, not code (STYLE habit 9): the `assets/providers/*.json` files are
//! embedded in the binary and parsed into typed structs ([`catalog`], checked by `parse`,
//! and the built-in entries also by `domains`); they are one catalog split for editing, so
//! a key may appear in only one of them. Users add or replace apps
//! with `*.json` files of the same shape in a directory ([`Catalog::load`]). A broken user
//! file is reported and skipped as a whole, so a typo never takes the built-in apps down.
//! [`expected`] derives the Composio-style field lists from an entry and [`fields`] validates
//! caller input against them.

pub mod catalog;
mod details;
mod domains;
pub mod expected;
pub mod fields;
mod parse;
mod setup;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use uuid::Uuid;

use crate::assets::Assets;
use crate::domain::auth_scheme::AuthScheme;

pub use catalog::{
    ApiKeySpec, App, BasicSpec, Endpoint, ExtraKey, GsaSpec, HttpMethod, JwtSpec, KeyLocation,
    Lookup, OAuth1Spec, OAuth2Spec, SchemeDetails, SchemeSpec, SignatureMethod, TokenAuth,
    TokenRequest, UrlTemplate, UserScopes, ValueSource, Variable, json_path,
};
pub use fields::{FieldError, FieldKind, FieldSpec, Validated, render_template, validate};

/// Folder of the built-in catalog files inside [`Assets`].
const BUILTIN_DIR: &str = "providers/";

/// User catalog files larger than this are refused unread.
const MAX_USER_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Namespace of [`App::app_id`]: the bytes of the ASCII text "keyport-provider". Changing it
/// changes every app id clients may have stored.
const APP_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6b65_7970_6f72_742d_7072_6f76_6964_6572);

/// A problem with a catalog file. Messages name the file, and for a bad entry the app and
/// the field.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the embedded provider catalog ({BUILTIN_DIR}*.json) is missing")]
    MissingBuiltin,
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {reason}")]
    Unusable { file: String, reason: String },
    #[error("{file}: not a valid catalog file: {source}")]
    Syntax {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file}: app {app}: {field}: {reason}")]
    Invalid {
        file: String,
        /// The entry's key as written (quoted), or `#index` when it has none.
        app: String,
        field: String,
        reason: String,
    },
}

/// All known apps, keyed by their lower-case key.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    apps: BTreeMap<String, App>,
}

impl Catalog {
    /// The catalog embedded in the binary: every `providers/*.json` asset, in name order.
    /// The files are one catalog, so a key in two of them is an error, not an override.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let mut paths: Vec<String> = Assets::iter()
            .filter(|p| p.starts_with(BUILTIN_DIR) && p.ends_with(".json"))
            .map(|p| p.into_owned())
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(CatalogError::MissingBuiltin);
        }
        let mut files = Vec::with_capacity(paths.len());
        for path in &paths {
            let file = Assets::get(path).ok_or(CatalogError::MissingBuiltin)?;
            let text = std::str::from_utf8(&file.data).map_err(|_| CatalogError::Unusable {
                file: path.clone(),
                reason: "is not UTF-8".to_string(),
            })?;
            files.push((path.clone(), text.to_string()));
        }
        Catalog::from_builtin_files(&files)
    }

    /// The built-in catalog from its files' `(name, text)`; a key in two files is refused.
    fn from_builtin_files(files: &[(String, String)]) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::default();
        let mut origin_of: BTreeMap<String, &str> = BTreeMap::new();
        for (file, text) in files {
            for app in parse::parse_file(file, text, parse::Origin::Builtin)? {
                if let Some(first) = origin_of.insert(app.key.clone(), file) {
                    return Err(CatalogError::Invalid {
                        file: file.clone(),
                        app: format!("{:?}", app.key),
                        field: "key".to_string(),
                        reason: format!("is already an app of {first}"),
                    });
                }
                catalog.apps.insert(app.key.clone(), app);
            }
        }
        Ok(catalog)
    }

    /// The built-in catalog plus every `*.json` file in `dir`, applied in file-name order: an
    /// entry whose key exists replaces that app whole, a new key adds an app. A broken file is
    /// skipped and its error returned; a missing `dir` is not an error.
    pub fn load(dir: &Path) -> (Catalog, Vec<CatalogError>) {
        let mut errors = Vec::new();
        let mut catalog = Catalog::builtin().unwrap_or_else(|e| {
            errors.push(e);
            Catalog::default()
        });
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (catalog, errors),
            Err(source) => {
                let file = dir.display().to_string();
                errors.push(CatalogError::Read { file, source });
                return (catalog, errors);
            }
        };
        let mut paths = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => paths.push(entry.path()),
                Err(source) => errors.push(CatalogError::Read {
                    file: dir.display().to_string(),
                    source,
                }),
            }
        }
        paths.retain(|p| p.extension().is_some_and(|ext| ext == "json"));
        paths.sort();
        for path in paths {
            match read_user_file(&path) {
                Ok(user) => catalog.apps.extend(user.apps),
                Err(e) => errors.push(e),
            }
        }
        (catalog, errors)
    }

    /// Parses the text of one user catalog file exactly as [`Catalog::load`] does for each
    /// file, without the built-in apps and without touching the disk: the entry point for
    /// fuzzing untrusted catalog input.
    pub fn parse_user_file(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse(file, text, parse::Origin::User)
    }

    fn parse(file: &str, text: &str, origin: parse::Origin) -> Result<Catalog, CatalogError> {
        let apps = parse::parse_file(file, text, origin)?;
        Ok(Catalog {
            apps: apps.into_iter().map(|app| (app.key.clone(), app)).collect(),
        })
    }

    /// The app with this key, ignoring ASCII case (`"GITHUB"` finds `github`).
    pub fn get(&self, key: &str) -> Option<&App> {
        self.apps.get(&key.to_ascii_lowercase())
    }

    /// Every app, sorted by key.
    pub fn apps(&self) -> impl Iterator<Item = &App> {
        self.apps.values()
    }

    pub fn len(&self) -> usize {
        self.apps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }
}

fn read_user_file(path: &Path) -> Result<Catalog, CatalogError> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| CatalogError::Read {
        file: file.clone(),
        source,
    })?;
    if !meta.is_file() {
        return Err(CatalogError::Unusable {
            file,
            reason: "is not a regular file".to_string(),
        });
    }
    if meta.len() > MAX_USER_FILE_BYTES {
        return Err(CatalogError::Unusable {
            file,
            reason: format!("is larger than {MAX_USER_FILE_BYTES} bytes"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        file: file.clone(),
        source,
    })?;
    Catalog::parse(&file, &text, parse::Origin::User)
}

impl App {
    /// A stable id: UUIDv5 of the key in keyport's namespace, the same on every install.
    pub fn app_id(&self) -> Uuid {
        Uuid::new_v5(&APP_ID_NAMESPACE, self.key.as_bytes())
    }

    pub fn scheme(&self, scheme: AuthScheme) -> Option<&SchemeSpec> {
        self.schemes.iter().find(|s| s.mode == scheme)
    }

    /// The first listed scheme (parsing guarantees there is one).
    pub fn default_scheme(&self) -> AuthScheme {
        self.schemes
            .first()
            .map_or(AuthScheme::NoAuth, |scheme| scheme.mode)
    }
}
