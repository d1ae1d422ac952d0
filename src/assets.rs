//! Files embedded in the binary from `assets/`: the connect and callback pages and the
//! provider catalog. One type, so every embedded read goes through the same place.

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
pub struct Assets;
