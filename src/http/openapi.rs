//! `GET /api/openapi.json`: the OpenAPI 3.0 description of keyport's API, embedded from
//! `assets/openapi.json` and served as is. A test keeps it true: every `/api/` route of
//! [`super::routes`] is in it and nothing else, and real responses validate against it.
//!
//! It sits under `/api/`, so it needs an API key like every other `/api/` route: nothing in
//! it is secret, but one rule with no exceptions ("everything under /api needs a key") is
//! simpler to audit than an allow-list, and the route-walking auth test stays exhaustive.
//! Tools load it with the same key they test with (`schemathesis run URL -H 'x-api-key: …'`).

use actix_web::HttpResponse;

use super::ApiResult;
use crate::assets::Assets;
use crate::service::Caller;
use crate::service::Error;

/// Path of the document inside [`Assets`].
pub const DOCUMENT: &str = "openapi.json";

pub async fn document(_caller: Caller) -> ApiResult {
    let file = Assets::get(DOCUMENT)
        .ok_or_else(|| Error::Internal("the embedded OpenAPI document is missing".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(file.data.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_embedded_and_is_openapi_3_0() {
        let file = Assets::get(DOCUMENT)
            .map(|f| f.data.into_owned())
            .unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_slice(&file).unwrap_or_default();
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.0."))
        );
        assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
    }
}
