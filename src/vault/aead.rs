//! AES-256-GCM over `ring`: the sealed-blob format, the record AAD, and wrapping the DEK.
//!
//! One blob format serves both uses: `0x01` (format version) ‖ 12-byte random nonce ‖
//! ciphertext ‖ 16-byte tag. Parsing is length-checked with no indexing, so hostile input can
//! only produce an error. Records are bound to where they live by an AAD naming table, row,
//! column and DEK id; the DEK wrap is bound to the exact header bytes. Random 96-bit nonces are
//! safe well below 2^32 seals per key (NIST SP 800-38D §8.3), which the vault counts and caps.
//! Plaintext only ever sits in buffers that zeroize on drop or are overwritten in place by
//! ciphertext; `ring`'s expanded key schedule is a library-internal copy we cannot wipe
//! (briansmith/ring#15).

use std::fmt::Write as _;

use ring::aead::{AES_256_GCM, Aad as RingAad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use super::{Aad, VaultError};

/// Version byte that opens every blob.
pub(super) const BLOB_VERSION: u8 = 0x01;
const TAG_LEN: usize = 16;
const PREFIX_LEN: usize = 1 + NONCE_LEN;
/// Shortest well-formed blob: version, nonce, empty ciphertext, tag.
pub(super) const MIN_BLOB_LEN: usize = PREFIX_LEN + TAG_LEN;
/// Length of the DEK and of the KEK: both are AES-256 keys.
pub(super) const KEY_LEN: usize = 32;
/// Length of a wrapped DEK: a blob holding the 32 DEK bytes.
pub(super) const WRAPPED_DEK_LEN: usize = MIN_BLOB_LEN + KEY_LEN;

/// Builds a `ring` AES-256-GCM key from 32 bytes.
pub(super) fn aead_key(bytes: &[u8; KEY_LEN]) -> Result<LessSafeKey, VaultError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| VaultError::Seal("cannot build AES-256-GCM key".to_owned()))
}

/// Fills `N` bytes from the operating system's CSPRNG.
pub(super) fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut out = [0u8; N];
    fill_random(&mut out)?;
    Ok(out)
}

pub(super) fn fill_random(out: &mut [u8]) -> Result<(), VaultError> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| VaultError::Seal("system random generator failed".to_owned()))
}

/// The record AAD: `keyport/v1|<table>|<row>|<column>|<dek id>`. A `\` or `|` inside a name is
/// escaped with `\`, so distinct locations can never produce the same AAD (`a|b` + `c` versus
/// `a` + `b|c`); names without those characters appear verbatim.
pub(super) fn record_aad(aad: &Aad<'_>, dek_id: u32) -> Vec<u8> {
    let mut out = String::with_capacity(32 + aad.table.len() + aad.row.len() + aad.column.len());
    out.push_str("keyport/v1");
    for part in [aad.table, aad.row, aad.column] {
        out.push('|');
        if !part.contains(['|', '\\']) {
            out.push_str(part);
            continue;
        }
        for c in part.chars() {
            if c == '|' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    let _ = write!(out, "|{dek_id}");
    out.into_bytes()
}

/// Encrypts `plaintext` under `key` with a fresh random nonce; returns the whole blob.
pub(super) fn seal_blob(
    key: &LessSafeKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let nonce = random::<NONCE_LEN>()?;
    let mut blob = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    blob.push(BLOB_VERSION);
    blob.extend_from_slice(&nonce);
    // Exact capacity: the plaintext copied here is never reallocated elsewhere, and is
    // overwritten in place by the ciphertext (or wiped on failure).
    blob.extend_from_slice(plaintext);
    let sealed = match blob.get_mut(PREFIX_LEN..) {
        Some(body) => key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            RingAad::from(aad),
            body,
        ),
        None => Err(ring::error::Unspecified),
    };
    match sealed {
        Ok(tag) => {
            blob.extend_from_slice(tag.as_ref());
            Ok(blob)
        }
        Err(_) => {
            blob.zeroize();
            Err(VaultError::Seal("AES-256-GCM refused the input".to_owned()))
        }
    }
}

/// Decrypts a blob made by [`seal_blob`] under the same key and AAD. `None` on any failure:
/// wrong length, unknown version, wrong key, wrong AAD or altered bytes are indistinguishable
/// by design.
pub(super) fn open_blob(key: &LessSafeKey, aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (&version, rest) = blob.split_first()?;
    if version != BLOB_VERSION {
        return None;
    }
    let (nonce, sealed) = rest.split_first_chunk::<NONCE_LEN>()?;
    if sealed.len() < TAG_LEN {
        return None;
    }
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain_len = key
        .open_in_place(
            Nonce::assume_unique_for_key(*nonce),
            RingAad::from(aad),
            buf.as_mut_slice(),
        )
        .ok()?
        .len();
    buf.truncate(plain_len);
    Some(buf)
}

/// Wraps the DEK under the KEK, bound to the exact header bytes.
pub(super) fn wrap_dek(
    kek: &[u8; KEY_LEN],
    header: &[u8],
    dek: &[u8; KEY_LEN],
) -> Result<Vec<u8>, VaultError> {
    seal_blob(&aead_key(kek)?, header, dek)
}

/// Refuses a wrapped DEK of the wrong shape before any KDF work is spent on it.
pub(super) fn check_wrapped_shape(wrapped: &[u8]) -> Result<(), VaultError> {
    if wrapped.len() != WRAPPED_DEK_LEN || wrapped.first() != Some(&BLOB_VERSION) {
        return Err(VaultError::Corrupt(format!(
            "wrapped key is malformed ({} bytes, expected {WRAPPED_DEK_LEN})",
            wrapped.len()
        )));
    }
    Ok(())
}

/// Unwraps the DEK. With a well-formed record, an AEAD failure means the KEK is wrong, i.e. the
/// passphrase is wrong; that is the only thing the tag can tell us.
pub(super) fn unwrap_dek(
    kek: &[u8; KEY_LEN],
    header: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
    check_wrapped_shape(wrapped)?;
    let plain = open_blob(&aead_key(kek)?, header, wrapped).ok_or(VaultError::WrongPassphrase)?;
    let bytes: &[u8; KEY_LEN] = plain
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Corrupt("wrapped key has the wrong length".to_owned()))?;
    Ok(Zeroizing::new(*bytes))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn key(byte: u8) -> LessSafeKey {
        aead_key(&[byte; KEY_LEN]).unwrap()
    }

    fn at<'a>(table: &'a str, row: &'a str, column: &'a str) -> Aad<'a> {
        Aad { table, row, column }
    }

    #[test]
    fn record_aad_has_the_documented_spelling() {
        let aad = record_aad(&at("credentials", "conn_123", "access_token"), 7);
        assert_eq!(aad, b"keyport/v1|credentials|conn_123|access_token|7");
    }

    #[test]
    fn record_aad_separates_every_location() {
        let cases = [
            record_aad(&at("a|b", "c", "d"), 1),
            record_aad(&at("a", "b|c", "d"), 1),
            record_aad(&at("a", "b", "c|d"), 1),
            record_aad(&at("a\\", "|b", "d"), 1),
            record_aad(&at("a\\|b", "", "d"), 1),
            record_aad(&at("a", "b", "d"), 1),
            record_aad(&at("a", "b", "d"), 2),
            record_aad(&at("", "", ""), 1),
        ];
        for (i, x) in cases.iter().enumerate() {
            for y in &cases[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn blob_round_trip_and_layout() {
        let k = key(1);
        for plaintext in [&b""[..], b"x", &[0xEE; 1000]] {
            let blob = seal_blob(&k, b"aad", plaintext).unwrap();
            assert_eq!(blob[0], BLOB_VERSION);
            assert_eq!(blob.len(), MIN_BLOB_LEN + plaintext.len());
            if plaintext.len() > 8 {
                assert!(!blob.windows(8).any(|w| w == &plaintext[..8]));
            }
            assert_eq!(open_blob(&k, b"aad", &blob).unwrap().as_slice(), plaintext);
        }
    }

    #[test]
    fn open_blob_refuses_wrong_key_aad_and_shape() {
        let blob = seal_blob(&key(1), b"aad", b"secret").unwrap();
        assert!(open_blob(&key(2), b"aad", &blob).is_none());
        assert!(open_blob(&key(1), b"aaD", &blob).is_none());
        assert!(open_blob(&key(1), b"", &blob).is_none());
        for len in 0..blob.len() {
            assert!(
                open_blob(&key(1), b"aad", &blob[..len]).is_none(),
                "len {len}"
            );
        }
        for version in [0x00, 0x02, 0xFF] {
            let mut b = blob.clone();
            b[0] = version;
            assert!(open_blob(&key(1), b"aad", &b).is_none());
        }
    }

    #[test]
    fn wrap_round_trip() {
        let header = b"header bytes";
        let dek = [0x42; KEY_LEN];
        let wrapped = wrap_dek(&[9; KEY_LEN], header, &dek).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_DEK_LEN);
        assert_eq!(*unwrap_dek(&[9; KEY_LEN], header, &wrapped).unwrap(), dek);
    }

    #[test]
    fn unwrap_with_wrong_kek_or_header_is_wrong_passphrase() {
        let wrapped = wrap_dek(&[9; KEY_LEN], b"header", &[0x42; KEY_LEN]).unwrap();
        let wrong_kek = unwrap_dek(&[8; KEY_LEN], b"header", &wrapped).unwrap_err();
        assert!(matches!(wrong_kek, VaultError::WrongPassphrase));
        let wrong_header = unwrap_dek(&[9; KEY_LEN], b"headeR", &wrapped).unwrap_err();
        assert!(matches!(wrong_header, VaultError::WrongPassphrase));
    }

    #[test]
    fn unwrap_of_a_misshapen_wrap_is_corrupt() {
        let wrapped = wrap_dek(&[9; KEY_LEN], b"header", &[0x42; KEY_LEN]).unwrap();
        let mut cases = vec![Vec::new(), wrapped[..wrapped.len() - 1].to_vec()];
        let mut longer = wrapped.clone();
        longer.push(0);
        cases.push(longer);
        let mut version = wrapped.clone();
        version[0] = 0x02;
        cases.push(version);
        // A well-formed blob around a key of the wrong size.
        cases.push(seal_blob(&aead_key(&[9; KEY_LEN]).unwrap(), b"header", &[1; 31]).unwrap());
        for case in cases {
            let err = unwrap_dek(&[9; KEY_LEN], b"header", &case).unwrap_err();
            assert!(
                matches!(err, VaultError::Corrupt(_)),
                "{} bytes",
                case.len()
            );
        }
    }

    #[test]
    fn random_is_not_constant() {
        let a = random::<16>().unwrap();
        let b = random::<16>().unwrap();
        assert_ne!(a, b);
    }
}
