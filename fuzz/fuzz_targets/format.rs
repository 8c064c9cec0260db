//! Formatting is idempotent and never changes what a policy parses to.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(once) = grantlog::syntax::format(text) else { return };
    let twice = grantlog::syntax::format(&once).expect("formatted text parses");
    assert_eq!(once, twice, "not idempotent");
});
