//! The README shows real runs: every `cargo run -q -- ...` block followed by
//! a `text` block must print exactly that text.

use assert_cmd::Command;

/// Splits a shell command line on spaces, honouring single quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn readme_examples_print_what_the_readme_shows() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let blocks = crate::common::readme_blocks(&readme);
    let mut checked = 0;
    for pair in blocks.windows(2) {
        let [(lang, cmd), (out_lang, expected)] = pair else {
            continue;
        };
        let Some(args) = cmd.trim().strip_prefix("cargo run -q -- ") else {
            continue;
        };
        if *lang != "sh" || *out_lang != "text" || cmd.trim().contains('\n') {
            continue;
        }
        let out = Command::cargo_bin("grantlog")
            .unwrap()
            .env("NO_COLOR", "1")
            .args(words(args))
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            stdout, *expected,
            "README example `{args}` prints something else"
        );
        checked += 1;
    }
    assert!(checked >= 2, "README examples found: {checked}");
}

/// The facts example in the README is valid facts JSON.
#[test]
fn readme_facts_example_parses() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let block = readme
        .split("```json\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let facts = grantlog::facts::Facts::from_json("README.md", block).unwrap();
    assert_eq!(
        (facts.nodes.len(), facts.users.len(), facts.groups.len()),
        (1, 1, 1)
    );
}

/// The language example in the README loads and its tests pass.
#[test]
fn readme_language_example_loads_and_passes_its_tests() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find("# Scopes: typed nodes that contain each other.")
        .unwrap();
    let block = readme[start..].split("```").next().unwrap();
    let s = grantlog::Snapshot::from_text("README.md", block)
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let report = s.run_tests();
    assert_eq!(
        (report.outcomes.len(), report.failed()),
        (4, 0),
        "{}",
        report.render()
    );
    assert!(grantlog::compile::lint(s.model()).is_empty());
}
