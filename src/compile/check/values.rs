//! Attribute declarations with their values, and the check of every value
//! given to an attribute.

use super::*;

impl Checker {
    /// Records `attribute KEY in VALUE, ...`.
    pub(super) fn declare_values(&mut self, key: &Name, values: &[Name], span: Span) {
        if key.text == "kind" {
            self.errors.push(
                Diagnostic::new(Code::AttributeValue, "`kind` cannot be declared", key.span)
                    .label("built in")
                    .help("a user's kind is `human` or `service`, set with `service user NAME`"),
            );
            return;
        }
        if let Some(first) = self.m.attributes.get(&key.text) {
            let first = first.span;
            self.duplicate("attribute", key, first);
            return;
        }
        let mut list: Vec<String> = Vec::new();
        for v in values {
            if list.contains(&v.text) {
                self.errors.push(
                    Diagnostic::new(
                        Code::AttributeValue,
                        format!("value `{}` is listed twice", short(&v.text)),
                        v.span,
                    )
                    .label("listed again")
                    .help("list each value once"),
                );
            }
            list.push(v.text.clone());
        }
        if key.text == "status" && !list.iter().any(|v| v == "active") {
            self.errors.push(
                Diagnostic::new(
                    Code::AttributeValue,
                    "`status` must allow `active`",
                    key.span,
                )
                .label("`active` is missing")
                .help("a user without `status` is `active`: add it to the values"),
            );
        }
        self.m
            .attributes
            .insert(key.text.clone(), AttributeDef { values: list, span });
    }

    /// A value given to `key` (in a user statement or a condition) must be
    /// one the policy allows for it: `kind` is `human` or `service`, and an
    /// attribute declared with its values takes only those.
    pub(super) fn check_value(&mut self, key: &str, value: &Name) {
        const KINDS: &[&str] = &["human", "service"];
        let allowed: Vec<String> = match (key, self.m.attributes.get(key)) {
            ("kind", _) => KINDS.iter().map(|k| k.to_string()).collect(),
            (_, Some(def)) => def.values.clone(),
            (_, None) => return,
        };
        if allowed.contains(&value.text) {
            return;
        }
        let mut d = Diagnostic::new(
            Code::AttributeValue,
            format!("`{}` is not a value of `{key}`", short(&value.text)),
            value.span,
        )
        .label(format!("not one of `{key}`'s values"));
        let listed = allowed
            .iter()
            .map(|v| format!("`{}`", short(v)))
            .collect::<Vec<_>>()
            .join(", ");
        d = match did_you_mean(&value.text, allowed.iter().map(String::as_str)) {
            Some(hint) => d.help(format!("{hint} (`{key}` is one of {listed})")),
            None => d.help(format!("`{key}` is one of {listed}")),
        };
        self.errors.push(d);
    }
}
