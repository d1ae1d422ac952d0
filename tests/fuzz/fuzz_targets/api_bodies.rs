//! Every JSON body and query string the API deserializes from clients
//! (`keyport::http::wire`). The first byte picks the shape; the rest is the body or query.
#![no_main]

use actix_web::web::Query;
use keyport::http::wire::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let query = String::from_utf8_lossy(body);
    match pick % 12 {
        0 => drop(serde_json::from_slice::<CreateIntegrationBody>(body)),
        1 => drop(serde_json::from_slice::<UpdateIntegrationBody>(body)),
        2 => drop(serde_json::from_slice::<CreateConnectionBody>(body)),
        3 => drop(serde_json::from_slice::<CreateKeyBody>(body)),
        4 => drop(serde_json::from_slice::<ProxyBody>(body)),
        5 => drop(serde_json::from_slice::<ExecuteBody>(body)),
        6 => drop(Query::<IntegrationListQuery>::from_query(&query)),
        7 => drop(Query::<ConnectionListQuery>::from_query(&query)),
        8 => drop(Query::<WaitQuery>::from_query(&query)),
        9 => drop(Query::<AppListQuery>::from_query(&query)),
        10 => drop(Query::<ActionListQuery>::from_query(&query)),
        _ => drop(Query::<CallbackParams>::from_query(&query)),
    }
});
