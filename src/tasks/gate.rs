//! First contact's guard against a wrong admin password.
//!
//! A mistyped `exchange.password` must not reach every PC of the range: each refusal is a failed
//! login in the PC's logs, and where `pam_faillock` runs, a few of them lock the admin out. So,
//! until one PC has accepted the password in this run, first contacts go one at a time; after
//! [`REFUSALS`] PCs in a row refused it, first contact stops for the rest of the run (the PCs
//! already known, reached with rdplay's key, go on). Once a PC has accepted it, first contacts run
//! side by side, and the count starts again at each acceptance.

use crate::ssh::SshError;
use std::future::Future;
use std::sync::Mutex;

/// How many PCs in a row may refuse the admin password before first contact stops.
pub const REFUSALS: u32 = 3;

/// Whether first contact may go on, and one at a time or not.
#[derive(Debug)]
pub struct FirstContactGate {
    state: Mutex<State>,
    /// One permit: the one first contact in flight while the password is unproven.
    turn: tokio::sync::Semaphore,
}

#[derive(Debug, Default)]
struct State {
    /// A PC accepted the password in this run.
    proven: bool,
    /// PCs that refused it since the last acceptance.
    refusals: u32,
}

/// How the reason of a PC whose first contact was not tried begins.
pub const NOT_TRIED: &str = "not tried: ";

/// First contact was not tried: the password was refused by [`REFUSALS`] PCs in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// How many PCs refused it.
    pub refusals: u32,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{NOT_TRIED}first contact stopped after {} PCs in a row refused the admin password \
             (check `exchange.password`; no other PC was sent it)",
            self.refusals
        )
    }
}

impl Default for FirstContactGate {
    fn default() -> Self {
        FirstContactGate {
            state: Mutex::new(State::default()),
            turn: tokio::sync::Semaphore::new(1),
        }
    }
}

impl FirstContactGate {
    /// Runs the first contact `attempt` when the gate allows it, and counts its result.
    pub async fn contact<T>(
        &self,
        attempt: impl Future<Output = Result<T, SshError>>,
    ) -> Result<Result<T, SshError>, Stopped> {
        self.stopped()?;
        let turn = if self.state().proven {
            None
        } else {
            // Never closed, so acquiring fails only if it were; then go on without the turn.
            self.turn.acquire().await.ok()
        };
        self.stopped()?;
        // Proven while this one waited: no need to hold the others back.
        let turn = turn.filter(|_| !self.state().proven);
        let result = attempt.await;
        {
            let mut state = self.state();
            match &result {
                Ok(_) => {
                    state.proven = true;
                    state.refusals = 0;
                }
                Err(e) if refused_the_password(e) => state.refusals += 1,
                Err(_) => {}
            }
        }
        drop(turn);
        Ok(result)
    }

    fn stopped(&self) -> Result<(), Stopped> {
        let refusals = self.state().refusals;
        if refusals >= REFUSALS {
            return Err(Stopped { refusals });
        }
        Ok(())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the two counters inconsistent: use them as they are.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether first contact failed because the password was refused (by sshd or by sudo), as opposed
/// to a PC that could not be reached or that allows no password login at all.
fn refused_the_password(e: &SshError) -> bool {
    matches!(e, SshError::Auth { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn refused() -> SshError {
        SshError::Auth {
            ip: Ipv4Addr::LOCALHOST,
            user: "tech".into(),
            detail: "Permission denied".into(),
        }
    }

    /// Eight PCs at once with a wrong password: three are tried, one after the other; five never.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_wrong_password_is_tried_on_three_pcs_then_never() {
        let gate = Arc::new(FirstContactGate::default());
        let (tried, in_flight, most) = (
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
        );
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (gate, tried, in_flight, most) = (
                    Arc::clone(&gate),
                    Arc::clone(&tried),
                    Arc::clone(&in_flight),
                    Arc::clone(&most),
                );
                tokio::spawn(async move {
                    gate.contact(async {
                        tried.fetch_add(1, Ordering::SeqCst);
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Err::<(), _>(refused())
                    })
                    .await
                })
            })
            .collect();
        let mut stopped = 0;
        for t in tasks {
            if let Err(s) = t.await.unwrap() {
                assert_eq!(s.refusals, REFUSALS);
                stopped += 1;
            }
        }
        assert_eq!(tried.load(Ordering::SeqCst), REFUSALS);
        assert_eq!(stopped, 8 - REFUSALS);
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "one at a time while unproven"
        );
    }

    /// Once a PC accepted the password, first contacts run side by side, and a refusal or two (a
    /// PC with another admin password) does not stop the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_proven_password_goes_side_by_side() {
        let gate = Arc::new(FirstContactGate::default());
        gate.contact(async { Ok::<_, SshError>(()) })
            .await
            .unwrap()
            .unwrap();
        for _ in 0..REFUSALS - 1 {
            assert!(
                gate.contact(async { Err::<(), _>(refused()) })
                    .await
                    .is_ok()
            );
        }
        gate.contact(async { Ok::<_, SshError>(()) })
            .await
            .unwrap()
            .unwrap();
        let in_flight = Arc::new(AtomicU32::new(0));
        let most = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (gate, in_flight, most) =
                    (Arc::clone(&gate), Arc::clone(&in_flight), Arc::clone(&most));
                tokio::spawn(async move {
                    gate.contact(async {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, SshError>(())
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) > 1, "side by side once proven");
    }

    /// A PC that cannot be reached says nothing of the password.
    #[tokio::test]
    async fn an_unreachable_pc_is_not_a_refusal() {
        let gate = FirstContactGate::default();
        for _ in 0..5 {
            let r = gate
                .contact(async {
                    Err::<(), _>(SshError::Connect {
                        ip: Ipv4Addr::LOCALHOST,
                        detail: "No route to host".into(),
                    })
                })
                .await;
            assert!(r.is_ok(), "still tried");
        }
    }
}
