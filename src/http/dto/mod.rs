//! The wire model: every body keyport's API reads or writes, in Composio's spelling
//! (camelCase v1/v2 resources, snake_case inside apps and actions, `{"items":[…]}` lists).
//! The domain derives no `Serialize`; these types are the only JSON the API speaks. They
//! derive `Deserialize` too, so the CLI reads answers into the same types, and `ToSchema`,
//! so `/api/openapi.json` is generated from them (see `super::openapi`). Golden tests
//! (`tests/it/golden/`) pin the shapes the Composio SDK reads.
//!
//! One file per resource; each converts from the service's views, never from storage.

pub mod action;
pub mod app;
pub mod approval;
pub mod audit;
pub mod connection;
pub mod error;
pub mod event;
pub mod integration;
pub mod key;
pub mod remote_mcp;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::service::Error;

pub use action::*;
pub use app::*;
pub use approval::*;
pub use audit::*;
pub use connection::*;
pub use error::*;
pub use event::*;
pub use integration::*;
pub use key::*;
pub use remote_mcp::*;

/// A string enum on the wire whose values are a domain enum's `as_str()` spellings: it
/// serializes as that string, parses with the domain's `FromStr`, and documents its values
/// from the domain's `ALL`, so the wire and the document cannot drift from the domain.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident($inner:ty), $schema_name:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse::<$inner>()
                    .map($name)
                    .map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(<$inner>::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($schema_name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

/// A list in Composio's envelope. keyport answers every list in one page unless the query
/// names a page size (`pageSize` on connected accounts), so `totalPages` is worked out from
/// the number of matches and that size.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many pages of the query's page size hold every match (at least 1).
    pub total_pages: u64,
}

impl<T> Page<T> {
    /// Every match, on one page.
    pub fn whole(items: Vec<T>) -> Page<T> {
        Page {
            items,
            total_pages: 1,
        }
    }
}

/// A count in a query (page, page size, seconds, limit): any integer a u64 holds. No
/// `format`: an `int64` would promise a bound the server does not keep.
pub fn count_param() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(0))
        .maximum(Some(u64::MAX))
        .build()
}

/// A whole list of views as one page of their wire type.
impl<'a, T, D: From<&'a T>> From<&'a Vec<T>> for Page<D> {
    fn from(views: &'a Vec<T>) -> Page<D> {
        Page::whole(views.iter().map(D::from).collect())
    }
}

/// Pages of `page_size` needed for `total` matches; `0` means one page of everything. An
/// empty result is still one (empty) page.
pub fn total_pages(total: u64, page_size: u64) -> u64 {
    if page_size == 0 {
        return 1;
    }
    total.div_ceil(page_size).max(1)
}

/// A comma-separated query value as a list; empty parts dropped.
pub fn csv(raw: Option<String>) -> Vec<String> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// A comma-separated query value's parts (ids), each parsed.
pub fn csv_parsed<I: std::str::FromStr>(raw: Option<String>) -> Result<Vec<I>, Error>
where
    Error: From<I::Err>,
{
    csv(raw).iter().map(|s| Ok(s.parse::<I>()?)).collect()
}

/// The id in a resource's path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The resource's id.
    pub id: String,
}

/// The name in an app's or an action's path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NamePath {
    /// The app key (any case, e.g. `github`) or the action name (e.g. `GITHUB_GET_THE_AUTHENTICATED_USER`).
    pub name: String,
}

/// `{"status": "success"}`: what Composio answers to a delete.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Status)]
pub struct StatusDto {
    pub status: String,
}

impl StatusDto {
    pub fn success() -> StatusDto {
        StatusDto {
            status: "success".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_pages_follows_the_page_size() {
        assert_eq!(total_pages(0, 0), 1);
        assert_eq!(total_pages(7, 0), 1);
        assert_eq!(total_pages(0, 5), 1);
        assert_eq!(total_pages(5, 5), 1);
        assert_eq!(total_pages(6, 5), 2);
        assert_eq!(total_pages(11, 5), 3);
        assert_eq!(total_pages(3, 99_999_999), 1);
    }

    #[test]
    fn csv_drops_blanks() {
        assert_eq!(csv(Some(" a, ,b,".into())), vec!["a", "b"]);
        assert!(csv(None).is_empty());
    }
}
