//! Many threads checking while another thread replaces and updates the
//! policy: no panics, no torn decisions, every answer that of some snapshot.

use grantlog::{Batch, Engine, Snapshot};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn engine_and_snapshot_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Snapshot>();
    assert_send_sync::<Engine>();
}

/// Two versions of one policy that disagree on every probed request: in
/// version A, `u{i}` may read `doc:d{i}`; in version B, nobody may.
fn version(grant: bool) -> String {
    let mut text = String::from(
        "type folder\ntype doc in folder\naction read\nrole reader on doc { read }\nfolder f\n",
    );
    for i in 0..50 {
        text.push_str(&format!("doc d{i} in folder:f\nuser u{i}\n"));
        if grant {
            text.push_str(&format!("assign reader on doc:d{i} to u{i}\n"));
        }
    }
    text
}

/// Starts `n` threads that, until `stop` (and for at least 20 rounds),
/// take one snapshot at a time and assert that it lets `u{i}` read
/// `doc:d{i}` for every `i` or for none: never part of a change. `also`
/// runs once a round with the engine. Each thread returns its rounds.
fn readers(
    engine: &Arc<Engine>,
    stop: &Arc<AtomicBool>,
    n: usize,
    also: fn(&Engine),
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..n)
        .map(|t| {
            let engine = Arc::clone(engine);
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) || rounds < 20 {
                    // Threads ask in different orders, so that they evaluate
                    // tables while the writer shares and replaces them.
                    let s = engine.snapshot();
                    let answers: Vec<bool> = (0..50)
                        .map(|k| (k * 7 + t) % 50)
                        .map(|i| {
                            s.check(&format!("u{i}"), "read", &format!("doc:d{i}"))
                                .is_allowed()
                        })
                        .collect();
                    assert!(
                        answers.iter().all(|&x| x == answers[0]),
                        "part of a change seen in thread {t}: {answers:?}"
                    );
                    also(&engine);
                    rounds += 1;
                }
                rounds
            })
        })
        .collect()
}

#[test]
fn readers_see_whole_snapshots_while_a_writer_swaps_them() {
    let a = version(true);
    let b = version(false);
    let engine = Arc::new(Engine::new(Snapshot::from_text("a.policy", &a).unwrap()));
    let stop = Arc::new(AtomicBool::new(false));
    // A single check through the engine is some version's answer.
    let readers = readers(&engine, &stop, 6, |engine| {
        assert!(engine.check("u1", "read", "doc:d1").error.is_none());
    });
    for i in 0..40 {
        let text = if i % 2 == 0 { &b } else { &a };
        engine.replace(Snapshot::from_text("v.policy", text).unwrap());
        // Updates too: a good batch applies, a bad one changes nothing.
        engine
            .apply("user extra-{i}".replace("{i}", &i.to_string()).as_str())
            .unwrap();
        assert!(engine.apply("assign nonsense on doc:d1 to u1").is_err());
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader panicked") >= 20);
    }
}

#[test]
fn readers_never_see_half_a_batch_of_live_updates() {
    let engine = Arc::new(Engine::new(
        Snapshot::from_text("a.policy", &version(true)).unwrap(),
    ));
    let all: String = (0..50)
        .map(|i| format!("assign reader on doc:d{i} to u{i}\n"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let readers = readers(&engine, &stop, 4, |_| {});
    for i in 0..200 {
        let batch = if i % 2 == 0 {
            Batch::new().remove(&all)
        } else {
            Batch::new().add(&all)
        };
        let update = engine.apply(batch).unwrap();
        assert_eq!(update.principals_affected, Some(50));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader panicked") >= 20);
    }
    assert!(engine.check("u7", "read", "doc:d7").is_allowed());
}
