//! Quick timing of load, warm-up and check on a generated workload.
use grantlog::workload::{Size, Workload};
use std::time::Instant;

fn main() {
    let size = std::env::args().nth(1).unwrap_or("S".into());
    let t = Instant::now();
    let w = Workload::generate(Size::named(&size).unwrap(), 7, false);
    let text = w.policy_text();
    println!("generate: {:?}, {} bytes", t.elapsed(), text.len());
    let t = Instant::now();
    let s = grantlog::Snapshot::from_text("m.policy", &text)
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    println!("load: {:?}", t.elapsed());
    let t = Instant::now();
    s.warm();
    println!("warm: {:?}", t.elapsed());
    let reqs = w.request_strings();
    let t = Instant::now();
    let mut allowed = 0;
    for _ in 0..10 {
        for (p, a, r) in &reqs {
            allowed += s.check(p, a, r).is_allowed() as usize;
        }
    }
    println!(
        "check: {:?} per request, {} allowed of {}",
        t.elapsed() / (10 * reqs.len() as u32),
        allowed / 10,
        reqs.len()
    );
}
