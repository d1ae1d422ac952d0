//! `Vault::unlock` on arbitrary vault records: header, checksum and wrapped key are read
//! from the database before anything is authenticated. The harness recomputes the checksum
//! on most inputs (so the header parser and the KDF-parameter gate are reached, not just the
//! checksum compare), and keeps an accepted parameter set from reaching Argon2 — one
//! derivation costs 64 MiB and ~100 ms, so the fuzzer would only measure Argon2 — by
//! nudging its pass count below the floor, which the gate must then refuse. Every record
//! must therefore come back `Corrupt`, in microseconds, without a panic.
#![no_main]

use keyport::vault::{KdfParams, SecretString, Vault, VaultError, VaultRecord};
use libfuzzer_sys::fuzz_target;

const HEADER_LEN: usize = 54;

fn sha256(header: &[u8], wrapped: &[u8]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(header);
    ctx.update(wrapped);
    ctx.finish().as_ref().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Bit 0: a 54-byte header (the real length) or one of the fuzzer's choosing.
    let cut = if mode & 1 == 0 {
        HEADER_LEN
    } else {
        usize::from(mode >> 1)
    }
    .min(rest.len());
    let (header, tail) = rest.split_at(cut);
    let mut header = header.to_vec();
    // Bit 7: the next 32 bytes are the stored checksum as is, instead of a correct one.
    let (stored_sum, wrapped) = if mode & 0x80 == 0 {
        (None, tail.to_vec())
    } else {
        let n = 32.min(tail.len());
        (Some(tail[..n].to_vec()), tail[n..].to_vec())
    };
    if header.len() == HEADER_LEN {
        let field = |at: usize| {
            u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let params = KdfParams {
            m_kib: field(22),
            t_cost: field(26),
            p_cost: field(30),
        };
        if params.check().is_ok() {
            header[26..30].copy_from_slice(&(KdfParams::FLOOR.t_cost - 1).to_be_bytes());
        }
    }
    let header_sha256 = stored_sum.unwrap_or_else(|| sha256(&header, &wrapped));
    let record = VaultRecord {
        header,
        header_sha256,
        wrapped_dek: wrapped,
    };
    match Vault::unlock(&record, &SecretString::from("p".to_string())) {
        Err(VaultError::Corrupt(_)) => {}
        Err(other) => panic!("refused, but not as corrupt: {other:?}"),
        Ok(_) => panic!("a record with out-of-range KDF parameters unlocked"),
    }
});
