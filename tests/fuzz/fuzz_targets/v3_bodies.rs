//! Every JSON body and query string the v3.1 API deserializes from clients
//! (`keyport::http::wire::v3`), queries through the v3 reader that folds repeated keys. The
//! first byte picks the shape; the rest is the body or query.
#![no_main]

#[macro_use]
mod bodies;

use keyport::http::wire::v3::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pick_and_parse!(data;
        json: CreateAuthConfigBody, UpdateAuthConfigBody, CreateConnectedAccountBody,
            CreateLinkBody, StatusChangeBody, ExecuteToolBody, ProxyToolBody;
        query with parse_query: AuthConfigListQuery, ConnectedAccountListQuery,
            ToolkitListQuery, ToolListQuery, ToolGetQuery);
});
