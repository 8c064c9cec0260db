//! The parser never panics, on any text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = grantlog::syntax::parse(0, text);
});
