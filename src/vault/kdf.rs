//! Passphrase → key-encryption key (KEK) with Argon2id, and the bounds on its cost parameters.
//!
//! The parameters are stored in the vault header and read back *before* anything on disk is
//! authenticated, so a damaged or hostile header could ask for terabytes of memory or billions of
//! passes. [`KdfParams::check`] is therefore the gate in front of every derivation: it refuses
//! anything below RFC 9106's second recommended option (our floor) or above fixed maxima, and
//! [`derive_kek`] calls it itself so no code path can run Argon2 on unchecked numbers. We use
//! argon2's raw `hash_password_into` (a 32-byte key, no PHC string) and keep the output in
//! zeroizing storage. Argon2's own 64 MiB+ working memory is a library-internal buffer this module
//! cannot wipe; with glibc such large blocks are `mmap`-backed and go back to the kernel on free.

use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::VaultError;

/// Length of the derived key-encryption key (AES-256).
pub(super) const KEK_LEN: usize = 32;
/// Length of the random per-header salt.
pub(super) const SALT_LEN: usize = 16;

/// Calibration never asks for more than this much memory (256 MiB), so a vault created on a large
/// machine still opens on a small one; beyond it, calibration raises the pass count instead.
const CALIBRATE_MAX_M_KIB: u32 = 256 * 1024;

/// Argon2id cost parameters, as stored in the vault header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism (lanes).
    pub p_cost: u32,
}

impl KdfParams {
    /// RFC 9106 §4, second recommended option: 64 MiB, 3 passes, 4 lanes. Nothing weaker is
    /// accepted, neither when creating a vault nor when reading a header.
    pub const FLOOR: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 4,
    };

    /// The most a header may ask for: 4 GiB, 64 passes, 16 lanes. Anything larger is treated as
    /// corruption (age's "max work factor" idea), never attempted.
    pub const MAX: KdfParams = KdfParams {
        m_kib: 4 * 1024 * 1024,
        t_cost: 64,
        p_cost: 16,
    };

    /// Refuses parameters outside `FLOOR..=MAX` (field by field) with [`VaultError::Corrupt`].
    /// Pure arithmetic: it runs in nanoseconds, before any memory is allocated.
    pub fn check(&self) -> Result<(), VaultError> {
        let fields = [
            (
                "memory (KiB)",
                self.m_kib,
                Self::FLOOR.m_kib,
                Self::MAX.m_kib,
            ),
            ("passes", self.t_cost, Self::FLOOR.t_cost, Self::MAX.t_cost),
            ("lanes", self.p_cost, Self::FLOOR.p_cost, Self::MAX.p_cost),
        ];
        for (name, value, min, max) in fields {
            if !(min..=max).contains(&value) {
                return Err(VaultError::Corrupt(format!(
                    "KDF {name} = {value} is outside the accepted range {min}..={max}"
                )));
            }
        }
        Ok(())
    }

    /// Picks parameters for a new vault so one derivation takes about `target` on this machine.
    ///
    /// Starts at [`FLOOR`](Self::FLOOR) and never goes below it. Memory is raised first (RFC 9106:
    /// use as much memory as affordable), doubling up to 256 MiB, then the pass count is scaled to
    /// fill the rest of the budget and corrected once by a confirming measurement. `target == 0`
    /// returns `FLOOR` without measuring. If a measurement fails, the best known parameters
    /// (at worst `FLOOR`) are returned: calibration only ever makes a vault stronger.
    pub fn calibrate(target: Duration) -> KdfParams {
        let floor = Self::FLOOR;
        if target.is_zero() {
            return floor;
        }
        let Some(at_floor) = time_one_derivation(floor) else {
            return floor;
        };
        if at_floor >= target {
            return floor;
        }
        let mut params = floor;
        let mut ratio = budget_ratio(target, at_floor);
        while ratio >= 2.0 && params.m_kib <= CALIBRATE_MAX_M_KIB / 2 {
            params.m_kib *= 2;
            ratio /= 2.0;
        }
        params.t_cost = scale_passes(params.t_cost, ratio);
        if let Some(measured) = time_one_derivation(params) {
            params.t_cost = scale_passes(params.t_cost, budget_ratio(target, measured));
        }
        params
    }

    fn to_argon2(self) -> Result<Params, VaultError> {
        Params::new(self.m_kib, self.t_cost, self.p_cost, Some(KEK_LEN))
            .map_err(|e| VaultError::Kdf(e.to_string()))
    }
}

/// `target / measured`, guarded against a zero measurement.
fn budget_ratio(target: Duration, measured: Duration) -> f64 {
    target.as_secs_f64() / measured.as_secs_f64().max(1e-6)
}

/// Scales a pass count by `ratio`, kept within `FLOOR.t_cost..=MAX.t_cost`.
fn scale_passes(t_cost: u32, ratio: f64) -> u32 {
    let scaled = (f64::from(t_cost) * ratio).round();
    // `as` saturates (and maps NaN to 0); the clamp then restores the accepted range.
    (scaled as u32).clamp(KdfParams::FLOOR.t_cost, KdfParams::MAX.t_cost)
}

/// Times one derivation with throwaway inputs (Argon2id's running time does not depend on them).
fn time_one_derivation(params: KdfParams) -> Option<Duration> {
    let start = crate::clock::Stopwatch::start();
    argon2id(b"keyport calibration", &[0u8; SALT_LEN], params).ok()?;
    Some(start.elapsed())
}

/// Derives the KEK that wraps the DEK. Checks `params` first; never runs Argon2 on unchecked
/// parameters.
pub(super) fn derive_kek(
    passphrase: &SecretString,
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEK_LEN]>, VaultError> {
    argon2id(passphrase.expose_secret().as_bytes(), salt, params)
}

fn argon2id(
    password: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEK_LEN]>, VaultError> {
    params.check()?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
    #[cfg(test)]
    test_counter::bump();
    let mut kek = Zeroizing::new([0u8; KEK_LEN]);
    argon
        .hash_password_into(password, salt, kek.as_mut_slice())
        .map_err(|e| VaultError::Kdf(e.to_string()))?;
    Ok(kek)
}

/// Counts Argon2 runs on the current thread, so tests can prove how many derivations an
/// operation performed (one per unlock, none for a refused header).
#[cfg(test)]
pub(super) mod test_counter {
    use std::cell::Cell;

    thread_local! {
        static RUNS: Cell<u64> = const { Cell::new(0) };
    }

    pub(in crate::vault) fn bump() {
        RUNS.with(|r| r.set(r.get() + 1));
    }

    /// Argon2 runs started on this thread so far.
    pub(in crate::vault) fn runs() -> u64 {
        RUNS.with(Cell::get)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::vault::fixtures::absurd_params;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    #[test]
    fn floor_is_rfc9106_second_recommendation_and_passes_check() {
        assert_eq!(KdfParams::FLOOR.m_kib, 65_536);
        assert_eq!(KdfParams::FLOOR.t_cost, 3);
        assert_eq!(KdfParams::FLOOR.p_cost, 4);
        KdfParams::FLOOR.check().unwrap();
        KdfParams::MAX.check().unwrap();
    }

    #[test]
    fn check_refuses_each_field_just_outside_the_range() {
        let f = KdfParams::FLOOR;
        let m = KdfParams::MAX;
        let bad = [
            KdfParams {
                m_kib: f.m_kib - 1,
                ..f
            },
            KdfParams {
                t_cost: f.t_cost - 1,
                ..f
            },
            KdfParams {
                p_cost: f.p_cost - 1,
                ..f
            },
            KdfParams {
                m_kib: m.m_kib + 1,
                ..f
            },
            KdfParams {
                t_cost: m.t_cost + 1,
                ..f
            },
            KdfParams {
                p_cost: m.p_cost + 1,
                ..f
            },
            KdfParams {
                m_kib: 0,
                t_cost: 0,
                p_cost: 0,
            },
        ];
        for p in bad.into_iter().chain(absurd_params()) {
            let err = p.check().unwrap_err();
            assert!(matches!(err, VaultError::Corrupt(_)), "{p:?} gave {err:?}");
            assert_eq!(err.code(), "vault_corrupt");
        }
    }

    #[test]
    fn check_accepts_the_range_edges() {
        let f = KdfParams::FLOOR;
        for p in [
            KdfParams {
                m_kib: KdfParams::MAX.m_kib,
                ..f
            },
            KdfParams {
                t_cost: KdfParams::MAX.t_cost,
                ..f
            },
            KdfParams {
                p_cost: KdfParams::MAX.p_cost,
                ..f
            },
        ] {
            p.check().unwrap();
        }
    }

    #[test]
    fn derivation_is_deterministic_and_depends_on_every_input() {
        let salt = [7u8; SALT_LEN];
        let base = derive_kek(&secret("pass"), &salt, KdfParams::FLOOR).unwrap();
        let again = derive_kek(&secret("pass"), &salt, KdfParams::FLOOR).unwrap();
        assert_eq!(*base, *again);
        let other_pass = derive_kek(&secret("pasS"), &salt, KdfParams::FLOOR).unwrap();
        let other_salt = derive_kek(&secret("pass"), &[8u8; SALT_LEN], KdfParams::FLOOR).unwrap();
        let more_passes = KdfParams {
            t_cost: 4,
            ..KdfParams::FLOOR
        };
        let other_params = derive_kek(&secret("pass"), &salt, more_passes).unwrap();
        for other in [&other_pass, &other_salt, &other_params] {
            assert_ne!(*base, **other);
        }
        assert_ne!(*base, [0u8; KEK_LEN]);
    }

    #[test]
    fn derivation_refuses_unchecked_params_without_running_argon2() {
        let before = test_counter::runs();
        let huge = KdfParams {
            m_kib: u32::MAX,
            t_cost: u32::MAX,
            p_cost: 1 << 24,
        };
        let err = derive_kek(&secret("pass"), &[0u8; SALT_LEN], huge).unwrap_err();
        assert!(matches!(err, VaultError::Corrupt(_)));
        assert_eq!(test_counter::runs(), before);
    }

    #[test]
    fn calibrate_zero_returns_floor_without_measuring() {
        let before = test_counter::runs();
        assert_eq!(KdfParams::calibrate(Duration::ZERO), KdfParams::FLOOR);
        assert_eq!(test_counter::runs(), before);
    }

    #[test]
    fn calibrate_below_floor_cost_returns_floor_after_one_measurement() {
        let before = test_counter::runs();
        assert_eq!(
            KdfParams::calibrate(Duration::from_nanos(1)),
            KdfParams::FLOOR
        );
        assert_eq!(test_counter::runs(), before + 1);
    }

    #[test]
    fn calibrate_raises_work_toward_a_larger_target() {
        let at_floor = time_one_derivation(KdfParams::FLOOR).unwrap();
        let params = KdfParams::calibrate(at_floor * 8);
        params.check().unwrap();
        assert!(params.m_kib >= KdfParams::FLOOR.m_kib);
        assert!(params.m_kib <= CALIBRATE_MAX_M_KIB);
        assert!(params.t_cost >= KdfParams::FLOOR.t_cost);
        assert_eq!(params.p_cost, KdfParams::FLOOR.p_cost);
        let work = |p: KdfParams| u64::from(p.m_kib) * u64::from(p.t_cost);
        assert!(work(params) > work(KdfParams::FLOOR), "{params:?}");
    }

    #[test]
    fn scale_passes_stays_in_range() {
        assert_eq!(scale_passes(3, 0.0), KdfParams::FLOOR.t_cost);
        assert_eq!(scale_passes(3, f64::NAN), KdfParams::FLOOR.t_cost);
        assert_eq!(scale_passes(3, 1e12), KdfParams::MAX.t_cost);
        assert_eq!(scale_passes(3, f64::INFINITY), KdfParams::MAX.t_cost);
        assert_eq!(scale_passes(3, 2.0), 6);
    }
}
