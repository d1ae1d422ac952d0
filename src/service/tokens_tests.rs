use super::*;

fn held(token: bool, expires_at: Option<i64>, issued_at: Option<i64>) -> Cached {
    Cached {
        access_token: token.then(|| AccessToken::new("t")),
        expires_at,
        issued_at,
    }
}

#[test]
fn tokens_are_renewed_a_minute_or_half_a_short_lifetime_ahead() {
    assert!(
        fresh(&held(true, None, None), 0).is_some(),
        "no expiry: use it"
    );
    assert!(fresh(&held(false, None, None), 0).is_none());
    assert!(fresh(&held(true, Some(1061), None), 1000).is_some());
    assert!(fresh(&held(true, Some(1060), None), 1000).is_none());
    // A 30-second token is fresh for its first 15 seconds.
    assert!(fresh(&held(true, Some(1030), Some(1000)), 1014).is_some());
    assert!(fresh(&held(true, Some(1030), Some(1000)), 1015).is_none());
    assert!(unexpired(&held(true, Some(1030), Some(1000)), 1029).is_some());
    assert!(unexpired(&held(true, Some(1030), Some(1000)), 1030).is_none());
}

#[test]
fn back_off_doubles_to_a_cap_and_is_forgotten_on_success() {
    let state = TokenState::new(Duration::from_secs(30));
    let id = ConnectionId::new();
    assert_eq!(state.waiting(id, 0), None);
    assert_eq!(state.failed(id, 0), BACKOFF_START);
    assert_eq!(state.waiting(id, 1_000), Some(4));
    assert_eq!(state.waiting(id, 5_000), None);
    assert_eq!(state.failed(id, 5_000), BACKOFF_START * 2);
    for _ in 0..10 {
        state.failed(id, 5_000);
    }
    assert_eq!(state.failed(id, 5_000), BACKOFF_MAX);
    state.forget(id);
    assert_eq!(state.waiting(id, 5_001), None);
}

#[test]
fn the_flight_table_is_pruned_when_idle() {
    let flights = Flights::default();
    let id = ConnectionId::new();
    let first = flights.join(id);
    let second = flights.join(id);
    assert!(
        Arc::ptr_eq(&first.turn, &second.turn),
        "one lock per connection"
    );
    drop(first);
    assert_eq!(flights.len(), 1, "still waited for");
    drop(second);
    assert_eq!(flights.len(), 0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let flight = flights.join(id);
                let _turn = lock(&flight.turn);
            });
        }
    });
    assert_eq!(flights.len(), 0);
}

#[test]
fn a_stopping_server_waits_for_exchanges_under_way_and_refuses_new_ones() {
    let exchanges = Exchanges::default();
    let running = exchanges.begin();
    assert!(running.is_ok());
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let took = crate::clock::Stopwatch::start();
            (exchanges.finish(Duration::from_secs(10)), took.elapsed())
        });
        // Once the waiter has begun stopping (however loaded the machine), no new one.
        while !lock(&exchanges.state).1 {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(exchanges.begin().is_err(), "no new exchange while stopping");
        drop(running);
        let (left, took) = waiter.join().unwrap_or((9, Duration::ZERO));
        assert_eq!(left, 0);
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(10));
    });
    // Bounded: one that never ends is given up on after the limit.
    let stuck = Exchanges::default();
    let _forever = stuck.begin();
    let took = crate::clock::Stopwatch::start();
    assert_eq!(stuck.finish(Duration::from_millis(100)), 1);
    assert!(took.elapsed() >= Duration::from_millis(100));
}
