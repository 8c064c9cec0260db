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

/// The language tour in the README loads and its tests pass.
#[test]
fn readme_language_tour() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let section = readme.split("## The language").nth(1).unwrap();
    let block = section
        .split("```text\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let s = Snapshot::from_text("README.md", block).unwrap_or_else(|e| panic!("{e}"));
    let report = s.run_tests();
    assert_eq!(
        (report.passed(), report.failed()),
        (2, 0),
        "{}",
        report.render()
    );
}
