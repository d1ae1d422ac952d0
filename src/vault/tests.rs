//! Tests of the vault as a whole: unlock outcomes (and how many KDF runs each costs), tamper and
//! move detection, nonce uniqueness, passphrase change, and a frozen fixture that proves data
//! written by this format keeps opening.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use super::fixtures::{absurd_params, flipped};
use super::header::{HEADER_LEN, checksum};
use super::kdf::test_counter;
use super::*;

const PASS: &str = "correct horse battery staple";

fn pass(s: &str) -> SecretString {
    SecretString::from(s)
}

fn at<'a>(table: &'a str, row: &'a str, column: &'a str) -> Aad<'a> {
    Aad { table, row, column }
}

const HERE: Aad<'static> = Aad {
    table: "credentials",
    row: "conn_1",
    column: "access_token",
};

/// One vault for the tests that only seal and open, so they do not each pay for a KDF run.
fn shared() -> &'static (Vault, VaultRecord) {
    static SHARED: OnceLock<(Vault, VaultRecord)> = OnceLock::new();
    SHARED.get_or_init(|| Vault::create(&pass(PASS), KdfParams::FLOOR).unwrap())
}

/// `record` with its header replaced and the checksum recomputed, as an attacker (or a bug in
/// the storage layer) could produce.
fn with_header(record: &VaultRecord, header: Vec<u8>) -> VaultRecord {
    VaultRecord {
        header_sha256: checksum(&header, &record.wrapped_dek),
        header,
        wrapped_dek: record.wrapped_dek.clone(),
    }
}

fn with_wrapped(record: &VaultRecord, wrapped_dek: Vec<u8>) -> VaultRecord {
    VaultRecord {
        header_sha256: checksum(&record.header, &wrapped_dek),
        header: record.header.clone(),
        wrapped_dek,
    }
}

/// Unlocks and returns the error together with the number of KDF runs it cost.
fn unlock_err(record: &VaultRecord, passphrase: &str) -> (VaultError, u64) {
    let before = test_counter::runs();
    let err = Vault::unlock(record, &pass(passphrase)).unwrap_err();
    (err, test_counter::runs() - before)
}

fn assert_corrupt_without_kdf(record: &VaultRecord, what: &str) {
    let (err, runs) = unlock_err(record, PASS);
    assert!(matches!(err, VaultError::Corrupt(_)), "{what}: {err:?}");
    assert_eq!(runs, 0, "{what}: KDF must not run");
}

/// `record` with each byte of one of its parts flipped by `mask`, in turn: every one is
/// corrupt, found without a KDF run.
fn each_flip_is_corrupt(
    record: &VaultRecord,
    mask: u8,
    what: &str,
    part: fn(&mut VaultRecord) -> &mut Vec<u8>,
) {
    let mut bad = record.clone();
    let original = part(&mut bad).clone();
    for (i, bytes) in flipped(&original, mask) {
        *part(&mut bad) = bytes;
        assert_corrupt_without_kdf(&bad, &format!("{what} byte {i} ^ {mask:#x}"));
    }
}

// ---- unlock ----------------------------------------------------------------------------------

#[test]
fn create_then_unlock_round_trip() {
    let (vault, record) = Vault::create(&pass(PASS), KdfParams::FLOOR).unwrap();
    let blob = vault.seal(&HERE, b"hunter2").unwrap();
    let before = test_counter::runs();
    let reopened = Vault::unlock(&record, &pass(PASS)).unwrap();
    assert_eq!(test_counter::runs() - before, 1);
    assert_eq!(reopened.open(&HERE, &blob).unwrap().as_slice(), b"hunter2");
    assert_eq!(reopened.params(), KdfParams::FLOOR);
    assert_eq!(reopened.vault_id(), vault.vault_id());
    assert_eq!(reopened.dek_id(), FIRST_DEK_ID);
    assert_eq!(record.header.len(), HEADER_LEN);
    assert_eq!(record.header_sha256.len(), 32);
    assert_eq!(record.wrapped_dek.len(), aead::WRAPPED_DEK_LEN);
}

#[test]
fn two_creates_share_nothing() {
    let (a, ra) = Vault::create(&pass(PASS), KdfParams::FLOOR).unwrap();
    let (b, rb) = shared();
    assert_ne!(a.vault_id(), b.vault_id());
    assert_ne!(ra.header, rb.header, "vault id and salt are random");
    assert_ne!(*a.dek, *b.dek);
}

#[test]
fn wrong_passphrase_is_wrong_passphrase_after_exactly_one_kdf() {
    let (_, record) = shared();
    for wrong in [
        "",
        "correct horse battery stapl",
        "Correct horse battery staple",
    ] {
        let (err, runs) = unlock_err(record, wrong);
        assert!(matches!(err, VaultError::WrongPassphrase), "{err:?}");
        assert_eq!(err.code(), "wrong_passphrase");
        assert_eq!(runs, 1);
    }
}

#[test]
fn create_refuses_params_outside_the_range_without_kdf() {
    let before = test_counter::runs();
    let weak = KdfParams {
        t_cost: 1,
        ..KdfParams::FLOOR
    };
    let err = Vault::create(&pass(PASS), weak).unwrap_err();
    assert!(matches!(err, VaultError::Corrupt(_)));
    assert_eq!(test_counter::runs(), before);
}

// ---- corruption versus wrong passphrase -------------------------------------------------------

#[test]
fn flipping_any_header_byte_is_corrupt() {
    let (_, record) = shared();
    for mask in [0x01, 0x80, 0xFF] {
        each_flip_is_corrupt(record, mask, "header", |r| &mut r.header);
    }
}

#[test]
fn flipping_any_checksum_byte_or_truncating_it_is_corrupt() {
    let (_, record) = shared();
    each_flip_is_corrupt(record, 0x01, "checksum", |r| &mut r.header_sha256);
    let mut short = record.clone();
    short.header_sha256.pop();
    assert_corrupt_without_kdf(&short, "short checksum");
    let mut empty = record.clone();
    empty.header_sha256.clear();
    assert_corrupt_without_kdf(&empty, "empty checksum");
}

/// The checksum covers the wrapped DEK as well as the header, so bit rot in the wrapped key is
/// reported as `Corrupt` (the user's passphrase is fine; the file is not) and costs no KDF run.
#[test]
fn flipping_any_wrapped_dek_byte_is_corrupt() {
    let (_, record) = shared();
    each_flip_is_corrupt(record, 0x01, "wrapped", |r| &mut r.wrapped_dek);
}

/// If the checksum is recomputed over an altered wrapped DEK (tampering, not bit rot), only the
/// AEAD can notice, and an AEAD failure on a well-formed record reads as a wrong passphrase.
#[test]
fn altered_wrapped_dek_with_recomputed_checksum_is_wrong_passphrase() {
    let (_, record) = shared();
    // One byte each in the nonce, the encrypted key and the tag.
    for i in [1, 13, aead::WRAPPED_DEK_LEN - 1] {
        let mut wrapped = record.wrapped_dek.clone();
        wrapped[i] ^= 0x01;
        let (err, runs) = unlock_err(&with_wrapped(record, wrapped), PASS);
        assert!(
            matches!(err, VaultError::WrongPassphrase),
            "byte {i}: {err:?}"
        );
        assert_eq!(runs, 1);
    }
}

#[test]
fn misshapen_wrapped_dek_with_recomputed_checksum_is_corrupt_without_kdf() {
    let (_, record) = shared();
    let mut longer = record.wrapped_dek.clone();
    longer.push(0);
    let mut version = record.wrapped_dek.clone();
    version[0] = 0x02;
    let shorter = record.wrapped_dek[..record.wrapped_dek.len() - 1].to_vec();
    for wrapped in [Vec::new(), shorter, longer, version] {
        assert_corrupt_without_kdf(&with_wrapped(record, wrapped), "wrapped shape");
    }
}

/// Header fields that do not feed the KDF (vault id, DEK id) are still bound to the DEK through
/// the wrap's AAD: changing them with a valid checksum makes the unwrap fail.
#[test]
fn header_is_bound_to_the_wrapped_dek() {
    let (_, record) = shared();
    let header = Header::decode(&record.header).unwrap();
    let other_id = Header {
        vault_id: [0; 16],
        ..header
    };
    let other_dek = Header {
        dek_id: 2,
        ..header
    };
    for changed in [other_id, other_dek] {
        let (err, runs) = unlock_err(&with_header(record, changed.encode()), PASS);
        assert!(matches!(err, VaultError::WrongPassphrase), "{err:?}");
        assert_eq!(runs, 1);
    }
}

#[test]
fn unparsable_header_with_valid_checksum_is_corrupt_without_kdf() {
    let (_, record) = shared();
    let good = record.header.clone();
    let mut cases = vec![Vec::new(), good[..HEADER_LEN - 1].to_vec()];
    let mut longer = good.clone();
    longer.push(0);
    cases.push(longer);
    for (pos, value) in [(0, b'X'), (4, 0x02), (4, 0x00), (21, 0x02)] {
        let mut h = good.clone();
        h[pos] = value;
        cases.push(h);
    }
    for header in cases {
        assert_corrupt_without_kdf(&with_header(record, header), "unparsable header");
    }
}

#[test]
fn absurd_kdf_params_are_refused_fast_and_without_kdf() {
    let (_, record) = shared();
    let header = Header::decode(&record.header).unwrap();
    let absurd = absurd_params().into_iter().chain([
        KdfParams {
            m_kib: u32::MAX,
            t_cost: u32::MAX,
            p_cost: 1 << 24,
        },
        KdfParams {
            m_kib: 8,
            t_cost: 1,
            p_cost: 1,
        },
    ]);
    for params in absurd {
        let bad = with_header(record, Header { params, ..header }.encode());
        let start = crate::clock::Stopwatch::start();
        let (err, runs) = unlock_err(&bad, PASS);
        let took = start.elapsed();
        assert!(matches!(err, VaultError::Corrupt(_)), "{params:?}: {err:?}");
        assert_eq!(runs, 0);
        assert!(took < Duration::from_millis(10), "{params:?} took {took:?}");
    }
}

// ---- passphrase change -----------------------------------------------------------------------

#[test]
fn rewrap_changes_the_passphrase_and_keeps_every_value() {
    let (vault, old_record) = Vault::create(&pass(PASS), KdfParams::FLOOR).unwrap();
    let blobs: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            let row = format!("row-{i}");
            vault
                .seal(&at("t", &row, "c"), format!("value {i}").as_bytes())
                .unwrap()
        })
        .collect();
    let stronger = KdfParams {
        t_cost: 4,
        ..KdfParams::FLOOR
    };
    let new_record = vault.rewrap(&pass("new passphrase"), stronger).unwrap();
    assert_ne!(new_record.header, old_record.header);
    let old_header = Header::decode(&old_record.header).unwrap();
    let new_header = Header::decode(&new_record.header).unwrap();
    assert_ne!(new_header.salt, old_header.salt, "fresh salt");
    assert_eq!(new_header.vault_id, old_header.vault_id);
    assert_eq!(new_header.dek_id, old_header.dek_id);
    assert_eq!(new_header.params, stronger);

    let (err, _) = unlock_err(&new_record, PASS);
    assert!(matches!(err, VaultError::WrongPassphrase), "{err:?}");
    let reopened = Vault::unlock(&new_record, &pass("new passphrase")).unwrap();
    assert_eq!(reopened.params(), stronger);
    for (i, blob) in blobs.iter().enumerate() {
        let row = format!("row-{i}");
        let plain = reopened.open(&at("t", &row, "c"), blob).unwrap();
        assert_eq!(plain.as_slice(), format!("value {i}").as_bytes());
    }
    // The old record is untouched by a rewrap; until the storage layer replaces it, it still
    // opens with the old passphrase, and the new passphrase does not open it.
    Vault::unlock(&old_record, &pass(PASS)).unwrap();
    let (err, _) = unlock_err(&old_record, "new passphrase");
    assert!(matches!(err, VaultError::WrongPassphrase));
}

#[test]
fn rewrap_refuses_weak_params_without_kdf() {
    let (vault, _) = shared();
    let before = test_counter::runs();
    let weak = KdfParams {
        m_kib: 1024,
        ..KdfParams::FLOOR
    };
    assert!(matches!(
        vault.rewrap(&pass("x"), weak),
        Err(VaultError::Corrupt(_))
    ));
    assert_eq!(test_counter::runs(), before);
}

// ---- seal and open ---------------------------------------------------------------------------

#[test]
fn seal_open_round_trip() {
    let (vault, _) = shared();
    let big = vec![0x5C; 1 << 20];
    for plaintext in [&b""[..], b"a", b"a refresh token", &big] {
        let blob = vault.seal(&HERE, plaintext).unwrap();
        assert_eq!(blob[0], 0x01);
        assert_eq!(blob.len(), 1 + 12 + plaintext.len() + 16);
        assert_eq!(vault.open(&HERE, &blob).unwrap().as_slice(), plaintext);
    }
}

#[test]
fn blob_moved_to_another_place_does_not_open() {
    let (vault, _) = shared();
    let blob = vault.seal(&HERE, b"secret").unwrap();
    for elsewhere in [
        at("credentials_old", "conn_1", "access_token"),
        at("credentials", "conn_2", "access_token"),
        at("credentials", "conn_1", "refresh_token"),
        at("credentials", "conn_1|access_token", ""),
        at("", "", ""),
    ] {
        let err = vault.open(&elsewhere, &blob).unwrap_err();
        assert!(matches!(err, VaultError::Open), "{elsewhere:?}");
        assert_eq!(err.code(), "seal_open_failed");
    }
}

#[test]
fn blob_from_another_vault_does_not_open() {
    let (other, _) = Vault::create(&pass(PASS), KdfParams::FLOOR).unwrap();
    let (vault, _) = shared();
    assert_eq!(other.dek_id(), vault.dek_id(), "same AAD, different DEK");
    let blob = other.seal(&HERE, b"secret").unwrap();
    assert!(matches!(vault.open(&HERE, &blob), Err(VaultError::Open)));
    let blob = vault.seal(&HERE, b"secret").unwrap();
    assert!(matches!(other.open(&HERE, &blob), Err(VaultError::Open)));
}

#[test]
fn altering_any_blob_byte_is_refused() {
    let (vault, _) = shared();
    let blob = vault.seal(&HERE, b"a value worth stealing").unwrap();
    for i in 0..blob.len() {
        for mask in [0x01, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= mask;
            assert!(
                matches!(vault.open(&HERE, &bad), Err(VaultError::Open)),
                "byte {i}"
            );
        }
    }
    for len in 0..blob.len() {
        assert!(
            matches!(vault.open(&HERE, &blob[..len]), Err(VaultError::Open)),
            "len {len}"
        );
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert!(matches!(vault.open(&HERE, &longer), Err(VaultError::Open)));
}

#[test]
fn same_plaintext_sealed_twice_differs() {
    let (vault, _) = shared();
    let a = vault.seal(&HERE, b"same").unwrap();
    let b = vault.seal(&HERE, b"same").unwrap();
    assert_ne!(a, b);
    assert_ne!(a[1..13], b[1..13], "nonces differ");
}

#[test]
fn hundred_thousand_seals_have_no_duplicate_nonce() {
    let (vault, _) = Vault::create(&pass(PASS), KdfParams::FLOOR).unwrap();
    let mut nonces = HashSet::with_capacity(100_000);
    for _ in 0..100_000 {
        let blob = vault.seal(&HERE, b"").unwrap();
        let nonce: [u8; 12] = blob[1..13].try_into().unwrap();
        assert!(nonces.insert(nonce), "duplicate nonce");
    }
    assert_eq!(vault.seal_count(), 100_000);
}

#[test]
fn seal_refuses_past_the_limit_and_open_still_works() {
    let (vault, _) = Vault::create(&pass(PASS), KdfParams::FLOOR).unwrap();
    vault.seals.store(SEAL_LIMIT - 1, Ordering::Relaxed);
    let last = vault.seal(&HERE, b"last").unwrap();
    assert_eq!(vault.seal_count(), SEAL_LIMIT);
    let err = vault.seal(&HERE, b"one too many").unwrap_err();
    assert!(matches!(err, VaultError::Seal(_)));
    assert_eq!(err.code(), "seal_failed");
    assert_eq!(vault.seal_count(), SEAL_LIMIT);
    assert_eq!(vault.open(&HERE, &last).unwrap().as_slice(), b"last");
}

// ---- hygiene ---------------------------------------------------------------------------------

#[test]
fn debug_output_holds_no_key_material() {
    let (vault, _) = shared();
    let shown = format!("{vault:?}");
    let dek_hex: String = vault.dek.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!shown.contains(&dek_hex));
    assert!(!shown.contains(&format!("{:?}", *vault.dek)));
    assert!(shown.contains("[redacted]"));
    assert!(shown.contains("dek_id"));
}

#[test]
fn error_codes_are_stable() {
    let cases = [
        (VaultError::WrongPassphrase, "wrong_passphrase"),
        (VaultError::Corrupt("x".into()), "vault_corrupt"),
        (VaultError::Open, "seal_open_failed"),
        (VaultError::Kdf("x".into()), "kdf_failed"),
        (VaultError::Seal("x".into()), "seal_failed"),
    ];
    for (err, code) in cases {
        assert_eq!(err.code(), code);
    }
    assert_eq!(VaultError::WrongPassphrase.to_string(), "wrong passphrase");
}

#[test]
fn vault_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Vault>();
}

// ---- frozen fixture --------------------------------------------------------------------------
// Generated once by this code with FLOOR params and the passphrase `PASS`; never regenerate it.
// If this test fails, existing vaults no longer open: fix the code, not the fixture.

const GOLDEN_HEADER: &str = "4b5056310167bba0242769abd7f272b08d4a5019be01000100000000000300000004\
                             e1aa656c8a2a99ca1fb0060438f95a0800000001";
const GOLDEN_SHA256: &str = "ec72da18de23668468f5355e6fedbf23f7adbe1ecfe81f05c0c70229167d2374";
const GOLDEN_WRAPPED: &str = "01d1e6da3916cd99b35c002c7ad6c0975d8a5c7c4e8ddc3e650c90dfee371c0626\
                              d12c41c9208e59590b39c92ccc3845be2939a6bc2648fd4d80710382";
const GOLDEN_BLOB: &str = "01c489178c43d8ab6f2d64a3fc7b4051a5b21bebb7a1945b9a13c2d196d64c7410c5\
                           b5ec8ce1707c99ea154373ec12c939b418ec7414b398";
const GOLDEN_AAD: Aad<'static> = Aad {
    table: "credentials",
    row: "golden-row-1",
    column: "secret",
};
const GOLDEN_PLAINTEXT: &[u8] = b"keyport golden plaintext v1";

fn golden_record() -> VaultRecord {
    let unhex = |s: &str| hex::decode(s).unwrap();
    VaultRecord {
        header: unhex(GOLDEN_HEADER),
        header_sha256: unhex(GOLDEN_SHA256),
        wrapped_dek: unhex(GOLDEN_WRAPPED),
    }
}

#[test]
fn golden_fixture_still_opens() {
    let record = golden_record();
    let vault = Vault::unlock(&record, &pass(PASS)).unwrap();
    assert_eq!(vault.params(), KdfParams::FLOOR);
    assert_eq!(vault.dek_id(), 1);
    let blob = hex::decode(GOLDEN_BLOB).unwrap();
    let plain = vault.open(&GOLDEN_AAD, &blob).unwrap();
    assert_eq!(plain.as_slice(), GOLDEN_PLAINTEXT);
    // The header still has exactly one encoding, and that is the stored one.
    let header = Header::decode(&record.header).unwrap();
    assert_eq!(header.encode(), record.header);
    assert_eq!(
        checksum(&record.header, &record.wrapped_dek),
        record.header_sha256
    );
}

#[test]
fn golden_fixture_refuses_the_wrong_passphrase_and_a_moved_blob() {
    let record = golden_record();
    let (err, runs) = unlock_err(&record, "correct horse battery staple ");
    assert!(matches!(err, VaultError::WrongPassphrase));
    assert_eq!(runs, 1);
    let (vault, _) = shared();
    let blob = hex::decode(GOLDEN_BLOB).unwrap();
    assert!(matches!(
        vault.open(&GOLDEN_AAD, &blob),
        Err(VaultError::Open)
    ));
}
