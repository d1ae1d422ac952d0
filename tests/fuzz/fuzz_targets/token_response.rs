//! A token endpoint's answer, as keyport parses it (RFC 6749 §5.1 plus what providers really
//! send): any body is parsed or refused, never a panic, and what parses reads back cleanly.
#![no_main]

use keyport::auth::oauth2::KeyportTokenResponse;
use libfuzzer_sys::fuzz_target;
use oauth2::TokenResponse as _;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = serde_json::from_slice::<KeyportTokenResponse>(data) {
        let _ = response.token_type_name();
        let _ = response.expires_in();
        let _ = response.scopes().map(Vec::len);
        let _ = response.refresh_token().is_some();
        let _ = format!("{response:?}");
    }
});
