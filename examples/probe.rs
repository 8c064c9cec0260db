use grantlog::workload::{Size, Workload};
use std::time::Instant;
fn main() {
    let w = Workload::generate(
        Size::named(&std::env::args().nth(1).unwrap()).unwrap(),
        7,
        false,
    );
    let s = grantlog::Snapshot::from_text("m.policy", &w.policy_text()).unwrap();
    let m = s.model();
    let ix = grantlog::eval::index::Index::new(m).unwrap();
    let t = Instant::now();
    for p in 0..3000u32 {
        let _ = grantlog::eval::universe::evaluate(
            m,
            &ix,
            &[grantlog::compile::ids::PrincipalId(p)],
            grantlog::eval::universe::Scope::Table,
        );
    }
    println!("{:?} per principal", t.elapsed() / 3000);
}
