//! `Vault::open` on arbitrary blobs: a stored ciphertext is read from disk, so it is
//! untrusted. Any input must be refused or opened, never panic; and what this vault seals
//! must open again to the same bytes, only at the same place.
#![no_main]

use std::sync::LazyLock;

use keyport::vault::{Aad, KdfParams, SecretString, Vault};
use libfuzzer_sys::fuzz_target;

/// One vault per process: creating it costs one Argon2 run at the floor parameters.
static VAULT: LazyLock<Vault> = LazyLock::new(|| {
    let pass = SecretString::from("fuzz passphrase".to_string());
    match Vault::create(&pass, KdfParams::FLOOR) {
        Ok((vault, _)) => vault,
        Err(e) => panic!("vault creation failed: {e}"),
    }
});

const HERE: Aad<'static> = Aad {
    table: "connections",
    row: "00000000-0000-4000-8000-000000000000",
    column: "secrets",
};
const ELSEWHERE: Aad<'static> = Aad {
    table: "connections",
    row: "00000000-0000-4000-8000-000000000001",
    column: "secrets",
};

fuzz_target!(|data: &[u8]| {
    let vault = &*VAULT;
    let _ = vault.open(&HERE, data);
    if let Ok(sealed) = vault.seal(&HERE, data) {
        match vault.open(&HERE, &sealed) {
            Ok(plain) => assert_eq!(plain.as_slice(), data),
            Err(e) => panic!("a fresh seal did not open: {e}"),
        }
        assert!(vault.open(&ELSEWHERE, &sealed).is_err());
    }
});
