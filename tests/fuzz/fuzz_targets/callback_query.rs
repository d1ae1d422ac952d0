//! The query string a browser brings to `/callback/{app}` (code, state, iss, error…): parsed
//! by the same extractor the handler uses, from any bytes a redirect can carry.
#![no_main]

use actix_web::web::Query;
use keyport::http::wire::CallbackParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Query::<CallbackParams>::from_query(&text);
});
