//! Every JSON body and query string the API deserializes from clients
//! (`keyport::http::wire`). The first byte picks the shape; the rest is the body or query.
#![no_main]

#[macro_use]
mod bodies;

use actix_web::error::QueryPayloadError;
use actix_web::web::Query;
use keyport::http::wire::*;
use libfuzzer_sys::fuzz_target;

/// actix-web's own query reader, as the v1 routes use it.
fn from_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<Query<T>, QueryPayloadError> {
    Query::<T>::from_query(query)
}

fuzz_target!(|data: &[u8]| {
    pick_and_parse!(data;
        json: CreateIntegrationBody, UpdateIntegrationBody, CreateConnectionBody, CreateKeyBody,
            ProxyBody, ExecuteBody;
        query with from_query: IntegrationListQuery, ConnectionListQuery, WaitQuery,
            AppListQuery, ActionListQuery, CallbackParams);
});
