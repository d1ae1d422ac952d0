//! Secret values as types. Every credential keyport holds in memory — tokens, client
//! secrets, passwords, keys — lives in one of these wrappers: `Debug` prints
//! `[redacted]`, there is no `Display` and no `Serialize`, the value is zeroized on drop
//! (the wrappers hold a `secrecy::SecretString`), and it is read only through an explicit
//! `expose_secret()` at the one place that sends or seals it (oauth2-rs and age do the
//! same).
//!
//! They deserialize from the JSON strings keyport has always sealed, so a scheme's typed
//! credential opens existing vaults unchanged. [`SecretFields`] is a whole sealed JSON
//! object with every value held as a secret; writing one back is explicit
//! ([`SecretFields::to_json`], [`SecretFields::reveal`]) and keeps the stored keys.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// What every reader sees in place of a secret value.
pub const REDACTED: &str = "********";

macro_rules! secret_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(SecretString::from(value.into()))
            }

            /// The value, for the one place that sends, seals or reveals it.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }

            /// Compares with `other` in constant time.
            pub fn is(&self, other: &str) -> bool {
                bool::from(self.expose_secret().as_bytes().ct_eq(other.as_bytes()))
            }

            pub fn is_empty(&self) -> bool {
                self.expose_secret().is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name::new(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name::new)
            }
        }
    };
}

secret_text!(
    /// An access token, issued by an OAuth 2.0 authorization server or another token
    /// endpoint (BASIC_WITH_JWT, service accounts).
    AccessToken
);
secret_text!(
    /// An OAuth 2.0 refresh token.
    RefreshToken
);
secret_text!(
    /// An OAuth client secret (OAuth 2.0 `client_secret`, OAuth 1.0a `consumer_secret`).
    ClientSecret
);
secret_text!(
    /// Any other secret text: an API key, a password, an OAuth 1.0a token or its secret, an
    /// RSA private key in PEM.
    Secret
);

/// A secret JSON value (a service account's key file, an integration's secret connection
/// defaults), kept as its JSON text.
#[derive(Clone)]
pub struct SecretJson(SecretString);

impl SecretJson {
    pub fn new(value: &Value) -> Self {
        SecretJson(SecretString::from(value.to_string()))
    }

    /// The value, parsed again from its text; for the one place that uses it.
    pub fn expose_value(&self) -> Value {
        serde_json::from_str(self.0.expose_secret()).unwrap_or(Value::Null)
    }
}

impl fmt::Debug for SecretJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretJson([redacted])")
    }
}

impl<'de> Deserialize<'de> for SecretJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|v| SecretJson::new(&v))
    }
}

/// One value of a sealed object: text (nearly all of them) or structured JSON.
#[derive(Clone, Debug)]
pub enum SecretValue {
    Text(Secret),
    Json(SecretJson),
}

impl SecretValue {
    fn from_value(value: Value) -> Self {
        match value {
            Value::String(text) => SecretValue::Text(Secret::new(text)),
            other => SecretValue::Json(SecretJson::new(&other)),
        }
    }

    fn expose_value(&self) -> Value {
        match self {
            SecretValue::Text(text) => Value::String(text.expose_secret().to_string()),
            SecretValue::Json(json) => json.expose_value(),
        }
    }
}

/// A sealed JSON object opened: its keys as stored, every value a secret. `Debug` shows
/// the keys only.
#[derive(Clone, Default)]
pub struct SecretFields(BTreeMap<String, SecretValue>);

impl SecretFields {
    /// Caller input about to be sealed (already validated against the scheme's fields).
    pub fn from_input(input: Map<String, Value>) -> Self {
        SecretFields(
            input
                .into_iter()
                .map(|(k, v)| (k, SecretValue::from_value(v)))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn keys(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&SecretValue> {
        self.0.get(key)
    }

    /// A text value; `None` when absent or structured.
    pub fn text(&self, key: &str) -> Option<&Secret> {
        match self.0.get(key) {
            Some(SecretValue::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// A value as JSON, opened; for the one place that uses it.
    pub fn expose_value(&self, key: &str) -> Option<Value> {
        self.0.get(key).map(SecretValue::expose_value)
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.0
            .insert(key.to_string(), SecretValue::Text(Secret::new(value)));
    }

    pub fn remove(&mut self, key: &str) -> Option<SecretValue> {
        self.0.remove(key)
    }

    /// The sealed form: the JSON object with every key as stored.
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
        serde_json::to_vec(&Wire(self)).map(Zeroizing::new)
    }

    /// The explicit, authorized reveal: every field as plain JSON.
    pub fn reveal(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.expose_value()))
            .collect()
    }
}

impl fmt::Debug for SecretFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl<'de> Deserialize<'de> for SecretFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = SecretFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of secret fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretFields, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    out.insert(key, SecretValue::from_value(value));
                }
                Ok(SecretFields(out))
            }
        }
        d.deserialize_map(Fields)
    }
}

/// `Debug` for a JSON map that may hold secrets (caller input, auth configs): its keys,
/// never its values.
pub struct KeysOnly<'a>(pub &'a Map<String, Value>);

impl fmt::Debug for KeysOnly<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Writes the sealed form; private so that no other code can serialize a secret.
struct Wire<'a>(&'a SecretFields);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.0.len()))?;
        for (key, value) in &self.0.0 {
            match value {
                SecretValue::Text(text) => map.serialize_entry(key, text.expose_secret())?,
                SecretValue::Json(json) => map.serialize_entry(key, &json.expose_value())?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn debug_never_shows_a_value() {
        let canary = "CANARY-3f9a";
        let fields: SecretFields = serde_json::from_value(json!({
            "access_token": canary, "credentials_json": {"private_key": canary}
        }))
        .unwrap();
        let shown = format!(
            "{:?} {:?} {:?} {:?} {:?} {fields:?}",
            AccessToken::new(canary),
            RefreshToken::new(canary),
            ClientSecret::new(canary),
            Secret::new(canary),
            SecretJson::new(&json!({ "k": canary })),
        );
        assert!(!shown.contains(canary), "{shown}");
        assert!(shown.contains("access_token") && shown.contains("AccessToken([redacted])"));
    }

    #[test]
    fn sealed_objects_round_trip_with_their_keys() {
        let stored = json!({
            "access_token": "at", "refresh_token": "rt", "n": 5,
            "credentials_json": {"client_email": "a@b", "private_key": "k"}
        });
        let bytes = serde_json::to_vec(&stored).unwrap();
        let fields: SecretFields = serde_json::from_slice(&bytes).unwrap();
        let again: Value = serde_json::from_slice(&fields.to_json().unwrap()).unwrap();
        assert_eq!(again, stored);
        assert_eq!(Value::Object(fields.reveal()), stored);
        assert_eq!(fields.text("access_token").unwrap().expose_secret(), "at");
        assert!(fields.text("credentials_json").is_none());
        assert_eq!(
            fields.expose_value("credentials_json").unwrap()["client_email"],
            "a@b"
        );
    }

    #[test]
    fn tokens_compare_by_value() {
        let token = AccessToken::new("abc");
        assert!(token.is("abc"));
        assert!(!token.is("abd") && !token.is("ab"));
    }
}
