//! The shipped policies load and pass their own `test` blocks.

use grantlog::Snapshot;

fn run(path: &str) -> grantlog::policy_test::Report {
    let s = Snapshot::from_paths(&[path]).unwrap_or_else(|e| panic!("{e}"));
    let report = s.run_tests();
    assert_eq!(report.failed(), 0, "{}", report.render());
    report
}

#[test]
fn dify() {
    assert!(run("policies/dify.policy").passed() > 0);
}
