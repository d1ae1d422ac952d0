//! What the vault's test modules share: byte-flipping, to prove that every byte of a header,
//! checksum or wrapped key is covered, and the KDF parameters absurd enough that running
//! them would hang or exhaust memory, to prove they are refused before anything runs.

use super::KdfParams;

/// `bytes` with byte `i` xor-ed with `mask`, for every `i`.
pub(super) fn flipped(bytes: &[u8], mask: u8) -> impl Iterator<Item = (usize, Vec<u8>)> + '_ {
    (0..bytes.len()).map(move |i| {
        let mut bad = bytes.to_vec();
        bad[i] ^= mask;
        (i, bad)
    })
}

/// The floor with one field pushed far past the maximum: 4 TiB of memory, 2^32 passes,
/// 2^24 lanes.
pub(super) fn absurd_params() -> [KdfParams; 3] {
    let f = KdfParams::FLOOR;
    [
        KdfParams {
            m_kib: u32::MAX,
            ..f
        },
        KdfParams {
            t_cost: u32::MAX,
            ..f
        },
        KdfParams {
            p_cost: 1 << 24,
            ..f
        },
    ]
}
