//! The vault header: its canonical byte encoding and the unkeyed checksum over the stored record.
//!
//! The header names everything needed to rebuild the KEK (KDF id, cost, salt) and which vault and
//! DEK the wrapped key belongs to. Its exact bytes are the AAD of the DEK wrap, so the encoding is
//! fixed-size, fixed-order and big-endian, with exactly one valid encoding per value: any edit
//! to a header makes the unwrap fail. The SHA-256 checksum (KDBX4's idea) runs *before* any of that,
//! so a damaged record reports `Corrupt` instead of sending the user hunting for a passphrase.
//!
//! Layout (54 bytes): `"KPV1"` ‖ format version `0x01` ‖ vault id (16) ‖ KDF id `0x01`
//! (Argon2id v1.3, 32-byte output) ‖ m_kib u32 BE ‖ t_cost u32 BE ‖ p_cost u32 BE ‖ salt (16) ‖
//! DEK id u32 BE.

use ring::digest::{Context, SHA256, SHA256_OUTPUT_LEN};

use super::VaultError;
use super::kdf::{KdfParams, SALT_LEN};

pub(super) const MAGIC: [u8; 4] = *b"KPV1";
pub(super) const FORMAT_VERSION: u8 = 0x01;
/// Argon2id, version 0x13, 32-byte raw output, no secret, no associated data.
pub(super) const KDF_ARGON2ID: u8 = 0x01;
pub(super) const VAULT_ID_LEN: usize = 16;
pub(super) const HEADER_LEN: usize = 4 + 1 + VAULT_ID_LEN + 1 + 3 * 4 + SALT_LEN + 4;

/// The decoded header. Parsing does not judge the KDF parameters; callers run
/// [`KdfParams::check`] next, so the two failure reasons stay distinct in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) vault_id: [u8; VAULT_ID_LEN],
    pub(super) params: KdfParams,
    pub(super) salt: [u8; SALT_LEN],
    pub(super) dek_id: u32,
}

impl Header {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.vault_id);
        out.push(KDF_ARGON2ID);
        out.extend_from_slice(&self.params.m_kib.to_be_bytes());
        out.extend_from_slice(&self.params.t_cost.to_be_bytes());
        out.extend_from_slice(&self.params.p_cost.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.dek_id.to_be_bytes());
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Header, VaultError> {
        if bytes.len() != HEADER_LEN {
            return Err(corrupt(format!(
                "header is {} bytes, expected {HEADER_LEN}",
                bytes.len()
            )));
        }
        let mut r = Reader(bytes);
        if r.take::<4>()? != MAGIC {
            return Err(corrupt("header magic is not KPV1".to_owned()));
        }
        let [version] = r.take::<1>()?;
        if version != FORMAT_VERSION {
            return Err(corrupt(format!("unknown vault format version {version}")));
        }
        let vault_id = r.take::<VAULT_ID_LEN>()?;
        let [kdf_id] = r.take::<1>()?;
        if kdf_id != KDF_ARGON2ID {
            return Err(corrupt(format!("unknown KDF id {kdf_id}")));
        }
        let params = KdfParams {
            m_kib: r.u32()?,
            t_cost: r.u32()?,
            p_cost: r.u32()?,
        };
        let salt = r.take::<SALT_LEN>()?;
        let dek_id = r.u32()?;
        Ok(Header {
            vault_id,
            params,
            salt,
            dek_id,
        })
    }
}

/// Unkeyed SHA-256 over `header ‖ wrapped_dek`. The header is fixed-length, so the concatenation
/// is unambiguous. It detects accidents (bit rot, truncation), not attackers: an attacker can
/// recompute it, and then meets the AEAD instead.
pub(super) fn checksum(header: &[u8], wrapped_dek: &[u8]) -> Vec<u8> {
    let mut ctx = Context::new(&SHA256);
    ctx.update(header);
    ctx.update(wrapped_dek);
    ctx.finish().as_ref().to_vec()
}

/// Refuses a record whose stored checksum does not match its header and wrapped DEK.
pub(super) fn verify_checksum(
    header: &[u8],
    wrapped_dek: &[u8],
    stored: &[u8],
) -> Result<(), VaultError> {
    if stored.len() != SHA256_OUTPUT_LEN || checksum(header, wrapped_dek) != stored {
        return Err(corrupt("header checksum mismatch".to_owned()));
    }
    Ok(())
}

fn corrupt(message: String) -> VaultError {
    VaultError::Corrupt(message)
}

/// A cursor over the header bytes that can only fail, never panic.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], VaultError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| corrupt("header is truncated".to_owned()))?;
        self.0 = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, VaultError> {
        self.take::<4>().map(u32::from_be_bytes)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::vault::fixtures::flipped;

    fn sample() -> Header {
        Header {
            vault_id: *b"0123456789abcdef",
            params: KdfParams {
                m_kib: 0x0001_0000,
                t_cost: 3,
                p_cost: 4,
            },
            salt: [0xA5; SALT_LEN],
            dek_id: 0x0102_0304,
        }
    }

    fn assert_corrupt(bytes: &[u8]) {
        let err = Header::decode(bytes).unwrap_err();
        assert!(matches!(err, VaultError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn encoding_is_pinned_byte_for_byte() {
        let mut expected = Vec::new();
        expected.extend_from_slice(b"KPV1");
        expected.push(0x01);
        expected.extend_from_slice(b"0123456789abcdef");
        expected.push(0x01);
        expected.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 4]);
        expected.extend_from_slice(&[0xA5; 16]);
        expected.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(sample().encode(), expected);
        assert_eq!(expected.len(), HEADER_LEN);
        assert_eq!(HEADER_LEN, 54);
    }

    #[test]
    fn decode_inverts_encode() {
        let h = sample();
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
    }

    #[test]
    fn decode_does_not_judge_params() {
        let h = Header {
            params: KdfParams {
                m_kib: u32::MAX,
                t_cost: u32::MAX,
                p_cost: 1 << 24,
            },
            ..sample()
        };
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
    }

    #[test]
    fn decode_refuses_wrong_lengths() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert_corrupt(&bytes[..len]);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_corrupt(&longer);
    }

    #[test]
    fn decode_refuses_bad_magic_version_and_kdf_id() {
        let bytes = sample().encode();
        for (pos, value) in [
            (0, b'X'),
            (3, b'2'),
            (4, 0x00),
            (4, 0x02),
            (21, 0x00),
            (21, 0x02),
        ] {
            let mut b = bytes.clone();
            b[pos] = value;
            assert_corrupt(&b);
        }
    }

    #[test]
    fn checksum_covers_every_header_and_wrapped_byte() {
        let header = sample().encode();
        let wrapped = vec![0x5A; 61];
        let sum = checksum(&header, &wrapped);
        assert_eq!(sum.len(), 32);
        verify_checksum(&header, &wrapped, &sum).unwrap();
        for (i, h) in flipped(&header, 0x01) {
            assert!(
                verify_checksum(&h, &wrapped, &sum).is_err(),
                "header byte {i}"
            );
        }
        for (i, w) in flipped(&wrapped, 0x80) {
            assert!(
                verify_checksum(&header, &w, &sum).is_err(),
                "wrapped byte {i}"
            );
        }
        // The sum is plain SHA-256 of the concatenation: shifting the boundary keeps it, which is
        // harmless only because a header of any other length never parses.
        let mut joined = header.clone();
        joined.extend_from_slice(&wrapped);
        let (h2, w2) = joined.split_at(HEADER_LEN - 1);
        assert_eq!(checksum(h2, w2), sum);
        assert!(Header::decode(h2).is_err());
    }

    #[test]
    fn verify_refuses_truncated_or_empty_checksums() {
        let header = sample().encode();
        let sum = checksum(&header, b"");
        assert!(verify_checksum(&header, b"", &sum[..31]).is_err());
        assert!(verify_checksum(&header, b"", &[]).is_err());
        let mut long = sum.clone();
        long.push(0);
        assert!(verify_checksum(&header, b"", &long).is_err());
    }
}
