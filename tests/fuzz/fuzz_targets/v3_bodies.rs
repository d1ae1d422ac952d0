//! Every JSON body and query string the v3.1 API deserializes from clients
//! (`keyport::http::wire::v3`), queries through the v3 reader that folds repeated keys. The
//! first byte picks the shape; the rest is the body or query.
#![no_main]

use keyport::http::wire::v3::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let query = String::from_utf8_lossy(body);
    match pick % 12 {
        0 => drop(serde_json::from_slice::<CreateAuthConfigBody>(body)),
        1 => drop(serde_json::from_slice::<UpdateAuthConfigBody>(body)),
        2 => drop(serde_json::from_slice::<CreateConnectedAccountBody>(body)),
        3 => drop(serde_json::from_slice::<CreateLinkBody>(body)),
        4 => drop(serde_json::from_slice::<StatusChangeBody>(body)),
        5 => drop(serde_json::from_slice::<ExecuteToolBody>(body)),
        6 => drop(serde_json::from_slice::<ProxyToolBody>(body)),
        7 => drop(parse_query::<AuthConfigListQuery>(&query)),
        8 => drop(parse_query::<ConnectedAccountListQuery>(&query)),
        9 => drop(parse_query::<ToolkitListQuery>(&query)),
        10 => drop(parse_query::<ToolListQuery>(&query)),
        _ => drop(parse_query::<ToolGetQuery>(&query)),
    }
});
