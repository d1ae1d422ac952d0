//! The vault: envelope encryption for every secret keyport stores.
//!
//! A random 256-bit data-encryption key (DEK) encrypts records; a key-encryption key (KEK) derived
//! from the passphrase with Argon2id wraps the DEK. What is persisted is one [`VaultRecord`]
//! (header, checksum, wrapped DEK), so changing the passphrase rewrites one row and no record
//! ([`Vault::rewrap`]). The API is deliberately tiny: unlock, then `seal`/`open` bytes at a named
//! place ([`Aad`]); a blob moved to another row, column or vault fails to open. Errors keep
//! "corrupt" and "wrong passphrase" apart, and never carry secret bytes. Submodules: `kdf`
//! (Argon2id and its clamped parameters), `header` (canonical header bytes and the checksum),
//! `aead` (blob format, AAD, DEK wrap).

mod aead;
mod header;
mod kdf;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::aead::LessSafeKey;
use zeroize::Zeroizing;

pub use kdf::KdfParams;
pub use secrecy::SecretString;

use aead::KEY_LEN;
use header::{Header, VAULT_ID_LEN};

/// Seals allowed under one DEK in one process: NIST SP 800-38D's bound for random 96-bit nonces.
/// The service rotates the DEK long before this; reaching it makes [`Vault::seal`] refuse.
pub const SEAL_LIMIT: u64 = 1 << 32;

/// Id of the first DEK of a new vault; a DEK rotation would issue the next one.
const FIRST_DEK_ID: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The record is intact but the DEK did not unwrap: the passphrase is wrong.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The stored record is damaged, unparsable, of an unknown version, or asks for KDF
    /// parameters outside the accepted range.
    #[error("vault header is corrupt: {0}")]
    Corrupt(String),
    /// A sealed value did not open.
    #[error("sealed value failed to open (tampered, moved or from another vault)")]
    Open,
    /// Argon2 itself failed (for example, out of memory).
    #[error("key derivation failed: {0}")]
    Kdf(String),
    /// Encryption could not run: the system random generator failed, the input was too long for
    /// AES-GCM, or [`SEAL_LIMIT`] was reached.
    #[error("encryption failed: {0}")]
    Seal(String),
}

impl VaultError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::WrongPassphrase => "wrong_passphrase",
            VaultError::Corrupt(_) => "vault_corrupt",
            VaultError::Open => "seal_open_failed",
            VaultError::Kdf(_) => "kdf_failed",
            VaultError::Seal(_) => "seal_failed",
        }
    }
}

/// What gets persisted (by the storage layer, in one SQLite row). Plain bytes, none secret.
///
/// `header_sha256` is SHA-256 over `header ‖ wrapped_dek`, so damage to either part is reported
/// as [`VaultError::Corrupt`] rather than as a wrong passphrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultRecord {
    pub header: Vec<u8>,
    pub header_sha256: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
}

/// Names the place a sealed value lives, so a ciphertext moved elsewhere fails to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub column: &'a str,
}

/// An unlocked vault. Dropping it wipes the DEK (lock = drop).
pub struct Vault {
    dek: Zeroizing<[u8; KEY_LEN]>,
    key: LessSafeKey,
    dek_id: u32,
    vault_id: [u8; VAULT_ID_LEN],
    params: KdfParams,
    seals: AtomicU64,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vault_id: String = self.vault_id.iter().map(|b| format!("{b:02x}")).collect();
        f.debug_struct("Vault")
            .field("vault_id", &vault_id)
            .field("dek_id", &self.dek_id)
            .field("params", &self.params)
            .field("seal_count", &self.seal_count())
            .field("dek", &"[redacted]")
            .finish()
    }
}

impl Vault {
    /// Creates a new vault: random vault id, DEK and salt; the DEK wrapped under the KEK derived
    /// from `passphrase` with `params` (which must pass [`KdfParams::check`]). Costs one KDF run.
    pub fn create(
        passphrase: &SecretString,
        params: KdfParams,
    ) -> Result<(Vault, VaultRecord), VaultError> {
        params.check()?;
        let mut dek = Zeroizing::new([0u8; KEY_LEN]);
        aead::fill_random(dek.as_mut_slice())?;
        let header = Header {
            vault_id: aead::random()?,
            params,
            salt: aead::random()?,
            dek_id: FIRST_DEK_ID,
        };
        let record = wrap(&dek, &header, passphrase)?;
        Ok((Vault::from_parts(dek, &header)?, record))
    }

    /// Opens a stored vault. Checks run cheapest first, and everything that can be judged
    /// without the passphrase is judged before the one KDF run: checksum, header syntax, KDF
    /// parameter range and wrapped-key shape all fail as [`VaultError::Corrupt`]; only an AEAD
    /// failure on the intact record is [`VaultError::WrongPassphrase`].
    pub fn unlock(record: &VaultRecord, passphrase: &SecretString) -> Result<Vault, VaultError> {
        header::verify_checksum(&record.header, &record.wrapped_dek, &record.header_sha256)?;
        let header = Header::decode(&record.header)?;
        header.params.check()?;
        aead::check_wrapped_shape(&record.wrapped_dek)?;
        let kek = kdf::derive_kek(passphrase, &header.salt, header.params)?;
        let dek = aead::unwrap_dek(&kek, &record.header, &record.wrapped_dek)?;
        Vault::from_parts(dek, &header)
    }

    /// Wraps the same DEK (same vault id and DEK id, so every sealed value still opens) under a
    /// new passphrase, with a fresh salt and `params`. Costs one KDF run. Persisting the returned
    /// record in one write is the whole passphrase change; this `Vault` keeps reporting the
    /// parameters it was opened with.
    pub fn rewrap(
        &self,
        new_passphrase: &SecretString,
        params: KdfParams,
    ) -> Result<VaultRecord, VaultError> {
        params.check()?;
        let header = Header {
            vault_id: self.vault_id,
            params,
            salt: aead::random()?,
            dek_id: self.dek_id,
        };
        wrap(&self.dek, &header, new_passphrase)
    }

    /// Encrypts `plaintext` for the place named by `aad`. Fails only if the system random
    /// generator fails, the input exceeds AES-GCM's limit (about 64 GiB), or this process has
    /// already made [`SEAL_LIMIT`] seals under this DEK.
    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.seals
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < SEAL_LIMIT).then_some(n + 1)
            })
            .map_err(|_| VaultError::Seal("seal limit for this data key reached".to_owned()))?;
        aead::seal_blob(&self.key, &aead::record_aad(aad, self.dek_id), plaintext)
    }

    /// Decrypts a blob sealed by this vault for the same place. Any failure is
    /// [`VaultError::Open`]; the plaintext comes back in a buffer that is wiped on drop.
    pub fn open(&self, aad: &Aad<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        aead::open_blob(&self.key, &aead::record_aad(aad, self.dek_id), blob)
            .ok_or(VaultError::Open)
    }

    /// The KDF parameters of the record this vault was created or unlocked from.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// Seals attempted under this DEK by this process (refused ones past the limit excluded).
    pub fn seal_count(&self) -> u64 {
        self.seals.load(Ordering::Relaxed)
    }

    /// The random id of this vault (not secret).
    pub fn vault_id(&self) -> [u8; 16] {
        self.vault_id
    }

    /// The id of the current DEK, as written into every record AAD.
    pub fn dek_id(&self) -> u32 {
        self.dek_id
    }

    /// A MAC key for one `purpose`, derived from the DEK (HKDF-SHA256, salted with the vault
    /// id): whoever lacks the passphrase cannot compute it, and no two purposes share a key.
    pub fn mac_key(&self, purpose: &str) -> Result<ring::hmac::Key, VaultError> {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &self.vault_id);
        let info = [b"keyport mac key: ".as_slice(), purpose.as_bytes()];
        let prk = salt.extract(self.dek.as_slice());
        let okm = prk
            .expand(&info, ring::hmac::HMAC_SHA256)
            .map_err(|_| VaultError::Kdf("HKDF expansion of the MAC key".to_owned()))?;
        Ok(ring::hmac::Key::from(okm))
    }

    fn from_parts(dek: Zeroizing<[u8; KEY_LEN]>, header: &Header) -> Result<Vault, VaultError> {
        Ok(Vault {
            key: aead::aead_key(&dek)?,
            dek,
            dek_id: header.dek_id,
            vault_id: header.vault_id,
            params: header.params,
            seals: AtomicU64::new(0),
        })
    }
}

/// Derives the KEK for `header` and wraps `dek` into a complete record.
fn wrap(
    dek: &[u8; KEY_LEN],
    header: &Header,
    passphrase: &SecretString,
) -> Result<VaultRecord, VaultError> {
    let header_bytes = header.encode();
    let kek = kdf::derive_kek(passphrase, &header.salt, header.params)?;
    let wrapped_dek = aead::wrap_dek(&kek, &header_bytes, dek)?;
    Ok(VaultRecord {
        header_sha256: header::checksum(&header_bytes, &wrapped_dek),
        header: header_bytes,
        wrapped_dek,
    })
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
