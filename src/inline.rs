//! Synchronous service work run inline on an async worker, when it will not block.
//!
//! The service is synchronous; handlers send its work to the blocking pool. For the hot
//! reads — a connection whose rows are in the row cache and whose token is still fresh —
//! that hop (two context switches and a queue) costs more than the work itself. [`attempt`]
//! runs the work on the calling thread with a thread-local mark set, and every point that
//! could block calls [`check`] first: a SQLite checkout (`Store::read`, `snapshot`,
//! `write`), a request from the blocking HTTP client, waiting on a connection's
//! single-flight turn. Inside the mark they refuse with [`WouldBlock`] before doing
//! anything, and the caller runs the same work again on the blocking pool.
//!
//! So only work that may safely be started twice is attempted inline: reads, and
//! operations whose first effect is a store write or an outbound request (both refused
//! before they begin). Nothing here changes what the work computes — one code path, one
//! set of rules — only where it runs.

use std::cell::Cell;

thread_local! {
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// The work reached a point that would block the async worker it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this work would block an async worker")]
pub struct WouldBlock;

/// Called before anything that may block: refuses inside [`attempt`].
pub fn check() -> Result<(), WouldBlock> {
    if INLINE.get() {
        Err(WouldBlock)
    } else {
        Ok(())
    }
}

/// Runs `work` on this thread with blocking refused (see [`check`]).
pub fn attempt<T>(work: impl FnOnce() -> T) -> T {
    /// Restores the mark even if `work` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            INLINE.set(self.0);
        }
    }
    let _restore = Restore(INLINE.replace(true));
    work()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(clippy::panic, reason = "the mark must survive a panicking attempt")]
    fn blocking_is_refused_only_inside_an_attempt() {
        assert_eq!(check(), Ok(()));
        assert_eq!(attempt(check), Err(WouldBlock));
        assert_eq!(attempt(|| attempt(check)), Err(WouldBlock));
        assert_eq!(check(), Ok(()));
        let panicked = std::panic::catch_unwind(|| attempt(|| panic!("inside")));
        assert!(panicked.is_err());
        assert_eq!(check(), Ok(()), "the mark is cleared after a panic");
    }
}
