//! The one canonical form of a name, on every input path.
//!
//! A name reaches grantlog from policy text, JSON facts, SCIM, a request, the
//! REPL or a live update. Every path goes through this module, so that one
//! written name always means one thing:
//!
//! - **Unicode NFC.** `josé` typed with a combining accent and `josé` typed
//!   precomposed are the same name ([`canonical`]).
//! - **No invisible characters.** Control characters, zero-width characters,
//!   bidirectional controls and other format characters are rejected in the
//!   names a policy declares ([`invisible`]).
//! - **One quoting rule.** A written name is either bare (`alice`,
//!   `data/domain1`) or quoted (`"lead scorer"`, with `\"`, `\\`, `\n`, `\t`);
//!   a quoted name means the text between its quotes ([`quote`],
//!   [`written`]). So `app:"secret"` and `app:secret` are one node, and a node
//!   whose name really holds quotes is written `app:"\"secret\""`.
//! - **Lookalikes are one name too many.** Two declared users, groups or
//!   nodes whose names share a Unicode TR39 confusable skeleton, or differ only
//!   by case, are an error unless the policy says `option lookalike_names`
//!   ([`lookalike_key`]).
//!
//! Human-readable output escapes control characters ([`printable`]); JSON
//! output carries names exactly.

use std::borrow::Cow;
use std::fmt;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// `text` in Unicode normalisation form C; borrowed when it already is.
#[inline]
pub fn canonical(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

/// The first character of `name` that a name may not hold: a control
/// character, a zero-width or bidirectional control, or another invisible
/// format character.
pub fn invisible(name: &str) -> Option<char> {
    name.chars().find(|&c| is_invisible(c))
}

fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'                  // soft hyphen
            | '\u{034F}'                // combining grapheme joiner
            | '\u{061C}'                // Arabic letter mark
            | '\u{115F}' | '\u{1160}'   // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'   // Mongolian variation selectors, vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width space, joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'   // separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, bidi isolates
            | '\u{3164}'                // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'   // variation selectors
            | '\u{FEFF}'                // byte order mark
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}' // tags, variation selectors supplement
        )
}

/// A key two names share when a reader could take one for the other: the
/// TR39 confusable skeleton of the name's lowercase form. `Dave` and `dave`,
/// `dave` and `dаve` (Cyrillic а), `paypal` and `pаypаl` share a key.
pub fn lookalike_key(name: &str) -> String {
    let lower: String = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        name.chars().flat_map(char::to_lowercase).collect()
    };
    let skeleton: String = unicode_security::confusable_detection::skeleton(&lower).collect();
    // The skeleton may map a lowercase letter to an uppercase one (`l` and
    // `I`): fold once more so that case never separates two keys.
    skeleton.chars().flat_map(char::to_lowercase).collect()
}

/// Whether `c` may stand in a bare name (after the first character).
pub fn is_bare_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.@/".contains(c)
}

/// A name as it is written in a policy: bare when the language reads it back
/// as the same name, quoted otherwise.
pub fn quote(name: &str) -> String {
    let bare = !name.is_empty()
        && !crate::syntax::is_reserved(name)
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().all(is_bare_char);
    if bare {
        return name.to_string();
    }
    // The policy language's string escapes: `\"`, `\\`, `\n`, `\t`; every
    // other character stands for itself.
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The text of a quoted string literal (`"..."`, quotes included), with its
/// escapes resolved, or `None` when `quoted` is not one whole literal.
pub fn unquote(quoted: &str) -> Option<String> {
    let body = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c @ ('"' | '\\') => out.push(c),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// The name a request, a REPL question or a command line means by `text`:
/// a quoted literal means the text between its quotes; anything else is the
/// name exactly as written. The result is in NFC. `None` for a literal that
/// starts with `"` but is not one whole quoted string.
#[inline]
pub fn written(text: &str) -> Option<Cow<'_, str>> {
    if text.starts_with('"') {
        return unquote(text).map(|s| Cow::Owned(canonical(&s).into_owned()));
    }
    Some(canonical(text))
}

/// How a request writes `name` so that [`written`] reads it back: as it
/// is, unless it starts with a quote.
pub fn as_written(name: &str) -> Cow<'_, str> {
    if name.starts_with('"') {
        Cow::Owned(quote(name))
    } else {
        Cow::Borrowed(name)
    }
}

/// A resource as a request writes it, `type:name`, split into its type and
/// its name by the rule of [`written`]. `None` when there is no `:` or the
/// name is a broken quoted literal.
#[inline]
pub fn written_node(text: &str) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    let (ty, name) = text.split_once(':')?;
    Some((canonical(ty), written(name)?))
}

/// A name for a person to read: control characters (and other invisible
/// ones) are shown as `\u{..}` escapes, so that a name from an identity
/// provider cannot move the cursor, ring the bell or fake a line of output.
pub fn printable(name: &str) -> Printable<'_> {
    Printable(name)
}

/// See [`printable`].
pub struct Printable<'a>(&'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.chars().any(is_invisible) {
            return f.write_str(self.0);
        }
        for c in self.0.chars() {
            if is_invisible(c) {
                write!(f, "\\u{{{:x}}}", c as u32)?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Text for a terminal, line by line: every invisible character but the
/// line breaks is escaped (see [`printable`]).
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_invisible(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(escape_for_terminal)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `text` with every invisible character escaped (see [`printable`]).
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_invisible) {
        Cow::Owned(printable(text).to_string())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_through_the_written_rule() {
        for name in [
            "alice",
            "lead scorer",
            "\"secret\"",
            "group:support",
            "a\\b",
            "data/domain1",
            "user",
        ] {
            assert_eq!(written(&quote(name)).unwrap(), name, "{name}");
        }
        assert_eq!(written("\"secret\"").unwrap(), "secret");
        assert_eq!(written("\"broken").as_deref(), None);
        assert_eq!(written("\"a\"b\"").as_deref(), None);
    }

    #[test]
    fn lookalikes_share_a_key() {
        assert_eq!(lookalike_key("Dave"), lookalike_key("dave"));
        assert_eq!(lookalike_key("dave"), lookalike_key("d\u{0430}ve"));
        assert_ne!(lookalike_key("dave"), lookalike_key("davy"));
        assert_eq!(canonical("jose\u{0301}"), "jos\u{e9}");
        assert_eq!(invisible("da\u{200b}ve"), Some('\u{200b}'));
        assert_eq!(invisible("dave"), None);
        assert_eq!(printable("a\u{1b}[2Jb").to_string(), "a\\u{1b}[2Jb");
    }
}
