//! Named actions: Composio-style tools (`GITHUB_CREATE_AN_ISSUE`) that turn a validated
//! JSON input into one HTTP request to the app's API, sent through the proxy with the
//! connection's credential.
//!
//! Actions are data beside the provider catalog (STYLE habit 9): `assets/actions/*.json`,
//! one file per app, embedded in the binary and checked as a whole when the service starts,
//! so a broken definition stops keyport rather than failing on first use. Users add actions
//! with files of the same format in `DATA/actions/` ([`Actions::load`]): each checked the
//! same way, a broken one reported (naming the file and why) and skipped, and none may
//! take the name of an existing action. Each definition
//! says where every input goes — path, query string or JSON body, or into a named
//! [`Transform`] implemented in Rust (Gmail's RFC 2822 message) — and carries its input as
//! a JSON Schema, compiled once with the `jsonschema` crate (no remote `$ref` resolution)
//! and checked before anything is sent. This module does no I/O: [`Action::plan`] builds
//! the request, the service sends it; [`shape`] makes the answer readable.

mod build;
mod definition;
mod gmail;
pub mod shape;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_catalog;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::assets::Assets;
use crate::providers::Catalog;

pub use build::{Outcome, Planned, check_input};
pub use definition::{Definition, Effect, Expand, Hints, Method, Transform};

/// The one version every built-in action has (the SDK wants `version` and
/// `available_versions`).
pub const VERSION: &str = "1.0.0";

/// Where the definitions live inside [`Assets`].
const DIR: &str = "actions/";

/// User action files larger than this are refused unread.
const MAX_USER_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What went wrong with an action: a broken definition file (found when the service
/// starts, naming the file, the action and what is wrong), or a caller's input that the
/// action refuses (naming the input field, never echoing its value).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{file}: {action}: {reason}")]
    Definition {
        file: String,
        action: String,
        reason: String,
    },
    #[error("{0}")]
    Input(String),
}

impl ActionError {
    /// Stable machine-readable code: a broken built-in definition is a bug of this build.
    pub fn code(&self) -> &'static str {
        match self {
            ActionError::Definition { .. } => "internal",
            ActionError::Input(_) => "invalid_input",
        }
    }

    pub(crate) fn definition(
        file: impl Into<String>,
        action: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ActionError::Definition {
            file: file.into(),
            action: action.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn input(message: impl Into<String>) -> Self {
        ActionError::Input(message.into())
    }
}

/// One loaded, checked action.
pub struct Action {
    /// The app's catalog key (lower-case).
    pub app: String,
    pub def: Definition,
    /// The `{placeholders}` of the path, in order.
    path_params: Vec<String>,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Action")
            .field("name", &self.def.name)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl Action {
    pub fn name(&self) -> &str {
        &self.def.name
    }

    pub fn hints(&self) -> Hints {
        self.def.hints
    }

    /// Whether the action only reads (its file's `access`).
    pub fn access(&self) -> crate::domain::api_key::Access {
        match self.def.access {
            Effect::Read => crate::domain::api_key::Access::Read,
            Effect::Write => crate::domain::api_key::Access::Write,
        }
    }

    pub fn path_params(&self) -> &[String] {
        &self.path_params
    }
}

/// Every action, keyed by its upper-case name.
#[derive(Debug, Default)]
pub struct Actions {
    by_name: BTreeMap<String, Action>,
}

impl Actions {
    /// The definitions embedded in the binary, each checked against `catalog`.
    pub fn builtin(catalog: &Catalog) -> Result<Actions, ActionError> {
        let mut files = Vec::new();
        for path in Assets::iter() {
            if path.starts_with(DIR) && path.ends_with(".json") {
                let file = Assets::get(&path).ok_or_else(|| {
                    ActionError::definition(&*path, "-", "listed but not readable")
                })?;
                let text = String::from_utf8(file.data.into_owned())
                    .map_err(|_| ActionError::definition(&*path, "-", "is not UTF-8"))?;
                files.push((path.to_string(), text));
            }
        }
        files.sort();
        Actions::from_files(&files, catalog)
    }

    /// Parses and checks `(file name, JSON text)` pairs; names must be unique across files.
    pub fn from_files(
        files: &[(String, String)],
        catalog: &Catalog,
    ) -> Result<Actions, ActionError> {
        let mut by_name = BTreeMap::new();
        for (file, text) in files {
            for action in definition::parse_file(file, text, catalog)? {
                let name = action.def.name.clone();
                if by_name.insert(name.clone(), action).is_some() {
                    return Err(ActionError::definition(file, name, "is defined twice"));
                }
            }
        }
        Ok(Actions { by_name })
    }

    /// The built-in actions plus the user's: every `*.json` file of `dir`, in file-name
    /// order, in the built-in format and checked the same way against `catalog`. A file
    /// is taken whole or not at all: a broken one — unreadable, invalid, or naming an
    /// action that already exists (a built-in one or one of an earlier file: user actions
    /// add, they never replace) — is skipped and its error returned, and the rest load.
    /// A missing `dir` is no error. A broken built-in file is (a bug of this build).
    pub fn load(dir: &Path, catalog: &Catalog) -> Result<(Actions, Vec<ActionError>), ActionError> {
        let mut actions = Actions::builtin(catalog)?;
        let mut problems = Vec::new();
        for path in user_files(dir, &mut problems) {
            let file = path.display().to_string();
            match read_user_file(&path, &file)
                .and_then(|text| definition::parse_file(&file, &text, catalog))
                .and_then(|parsed| actions.add_user(&file, parsed))
            {
                Ok(added) => tracing::info!(file, added, "user actions loaded"),
                Err(e) => problems.push(e),
            }
        }
        Ok((actions, problems))
    }

    /// Adds one user file's actions, all or none: none may take an existing name.
    fn add_user(&mut self, file: &str, parsed: Vec<Action>) -> Result<usize, ActionError> {
        let mut names = std::collections::BTreeSet::new();
        for action in &parsed {
            let name = action.name();
            if self.by_name.contains_key(name) {
                return Err(ActionError::definition(
                    file,
                    name,
                    "an action of this name already exists; a user action cannot replace one, so give it another name",
                ));
            }
            if !names.insert(name.to_string()) {
                return Err(ActionError::definition(file, name, "is defined twice"));
            }
        }
        let added = parsed.len();
        for action in parsed {
            self.by_name.insert(action.def.name.clone(), action);
        }
        Ok(added)
    }

    /// The action with this name, ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&Action> {
        self.by_name.get(&name.trim().to_ascii_uppercase())
    }

    /// Every action, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Action> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The `*.json` files of `dir`, sorted; problems listing it go to `problems`.
fn user_files(dir: &Path, problems: &mut Vec<ActionError>) -> Vec<std::path::PathBuf> {
    let listed = |reason: String| ActionError::definition(dir.display().to_string(), "-", reason);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(listed(format!("cannot read the folder: {e}")));
            return Vec::new();
        }
    };
    let mut paths = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => paths.push(entry.path()),
            Err(e) => problems.push(listed(format!("cannot read the folder: {e}"))),
        }
    }
    paths.retain(|p| p.extension().is_some_and(|ext| ext == "json"));
    paths.sort();
    paths
}

fn read_user_file(path: &Path, file: &str) -> Result<String, ActionError> {
    let fail = |reason: String| ActionError::definition(file, "-", reason);
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(fail("is not a regular file".into()));
    }
    if meta.len() > MAX_USER_FILE_BYTES {
        return Err(fail(format!("is larger than {MAX_USER_FILE_BYTES} bytes")));
    }
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))
}

/// A one-line description of an unsuccessful upstream answer: the status, and the
/// provider's own message when the body has one in a usual place.
pub fn upstream_error(status: u16, body: &Value) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let message = [
        "/message",
        "/error/message",
        "/error_description",
        "/error",
        "/errors/0/message",
    ]
    .iter()
    .find_map(|p| body.pointer(p).and_then(Value::as_str))
    .map(|m| m.chars().take(500).collect::<String>());
    let mut text = format!("the provider answered HTTP {status}");
    if !reason.is_empty() {
        text.push(' ');
        text.push_str(reason);
    }
    if let Some(m) = message {
        text.push_str(": ");
        text.push_str(&m);
    }
    text
}
