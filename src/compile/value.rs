//! Typed attribute values: what `attribute KEY: TYPE` declares, and the one
//! reading of a value's text (from policy text, JSON facts or a request's
//! context) for each type.

use ipnet::IpNet;
use serde_json::Value as Json;
use std::fmt;
use std::net::IpAddr;

/// The type of one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Bool,
    /// An instant, written in RFC 3339 (`2026-12-02T09:00:00Z`).
    Timestamp,
    /// A length of time (`90s`, `15m`, `8h`, `7d`).
    Duration,
    /// An IP address or a network in CIDR form (`10.0.0.0/8`).
    Ip,
    /// A user, by name.
    User,
}

impl Scalar {
    /// Every type, as written in a declaration.
    pub const NAMES: &'static [&'static str] = &[
        "string",
        "integer",
        "bool",
        "timestamp",
        "duration",
        "ip",
        "user",
    ];

    /// The type a declaration names.
    pub fn named(name: &str) -> Option<Scalar> {
        Some(match name {
            "string" => Scalar::String,
            "integer" => Scalar::Integer,
            "bool" => Scalar::Bool,
            "timestamp" => Scalar::Timestamp,
            "duration" => Scalar::Duration,
            "ip" => Scalar::Ip,
            "user" => Scalar::User,
            _ => return None,
        })
    }

    /// Whether values of this type are ordered (`<`, `>=` ...).
    pub fn ordered(self) -> bool {
        matches!(self, Scalar::Integer | Scalar::Timestamp | Scalar::Duration)
    }

    fn example(self) -> &'static str {
        match self {
            Scalar::String => "any text",
            Scalar::Integer => "a whole number such as `42`",
            Scalar::Bool => "`true` or `false`",
            Scalar::Timestamp => "an RFC 3339 time such as \"2026-12-02T09:00:00Z\"",
            Scalar::Duration => "a duration such as `90s`, `15m`, `8h` or `7d`",
            Scalar::Ip => "an IP address or a CIDR range such as `10.0.0.0/8`",
            Scalar::User => "a user's name",
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = [
            Scalar::String,
            Scalar::Integer,
            Scalar::Bool,
            Scalar::Timestamp,
            Scalar::Duration,
            Scalar::Ip,
            Scalar::User,
        ]
        .iter()
        .position(|s| s == self)
        .unwrap_or(0);
        f.write_str(Scalar::NAMES[i])
    }
}

/// A declared attribute type: a scalar, or a set of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Type {
    /// The values' type.
    pub scalar: Scalar,
    /// `set of ...`.
    pub set: bool,
}

impl Type {
    /// One value of `scalar`.
    pub const fn one(scalar: Scalar) -> Type {
        Type { scalar, set: false }
    }
}

impl Type {
    /// The type with its article, as a sentence says it: "an integer",
    /// "a set of string".
    pub fn article(self) -> String {
        let an = !self.set && matches!(self.scalar, Scalar::Integer | Scalar::Ip);
        format!("{} {self}", if an { "an" } else { "a" })
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.set {
            write!(f, "set of {}", self.scalar)
        } else {
            write!(f, "{}", self.scalar)
        }
    }
}

/// One typed value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// Text (also a user's name).
    Str(String),
    /// A whole number.
    Int(i64),
    /// A truth value.
    Bool(bool),
    /// Seconds since the Unix epoch.
    Time(i64),
    /// Seconds.
    Duration(i64),
    /// An address (a /32 or /128 network) or a network.
    Ip(IpNet),
    /// Several values of one type.
    Set(Vec<Value>),
}

impl Value {
    /// Reads `text` as a value of `scalar`, or says what was expected.
    pub fn parse(scalar: Scalar, text: &str) -> Result<Value, String> {
        let wrong = || format!("`{text}` is not {}", scalar.example());
        Ok(match scalar {
            // Text and names in their one canonical form, whatever path
            // they came by (policy text, JSON facts, a request's context).
            Scalar::String | Scalar::User => {
                Value::Str(crate::syntax::names::canonical(text).into_owned())
            }
            Scalar::Integer => Value::Int(text.parse().map_err(|_| wrong())?),
            Scalar::Bool => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(wrong()),
            },
            Scalar::Timestamp => {
                let t = humantime::parse_rfc3339(text).map_err(|_| wrong())?;
                let secs = match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_secs()).map_err(|_| wrong())?,
                    Err(e) => -i64::try_from(e.duration().as_secs()).map_err(|_| wrong())?,
                };
                Value::Time(secs)
            }
            Scalar::Duration => {
                let d = humantime::parse_duration(text).map_err(|_| wrong())?;
                Value::Duration(i64::try_from(d.as_secs()).map_err(|_| wrong())?)
            }
            Scalar::Ip if text.contains('/') => {
                Value::Ip(text.parse::<IpNet>().map_err(|_| wrong())?.trunc())
            }
            Scalar::Ip => Value::Ip(IpNet::from(text.parse::<IpAddr>().map_err(|_| wrong())?)),
        })
    }

    /// Reads a JSON value (facts, a request's context) as a value of `ty`:
    /// strings are read as [`Value::parse`] reads text, numbers and
    /// booleans as themselves, arrays as sets.
    pub fn from_json(ty: Type, json: &Json) -> Result<Value, String> {
        match (json, ty.set) {
            (Json::Array(items), true) => items
                .iter()
                .map(|x| Value::from_json(Type::one(ty.scalar), x))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Set),
            (_, true) => Err(format!("expected a list of {}", ty.scalar.example())),
            (Json::String(s), false) => Value::parse(ty.scalar, s),
            (Json::Number(n), false) if ty.scalar == Scalar::Integer => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| format!("`{n}` is not a whole number")),
            (Json::Number(n), false) if ty.scalar == Scalar::Duration => n
                .as_i64()
                .map(Value::Duration)
                .ok_or_else(|| format!("`{n}` is not a whole number of seconds")),
            (Json::Bool(b), false) if ty.scalar == Scalar::Bool => Ok(Value::Bool(*b)),
            (other, false) => Err(format!(
                "expected {}, found `{}`",
                ty.scalar.example(),
                crate::error::short(&other.to_string())
            )),
        }
    }

    /// The value as a condition's explanation shows it.
    pub fn shown(&self) -> String {
        match self {
            Value::Str(s) => format!("{s:?}"),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Time(t) => {
                let at = std::time::UNIX_EPOCH
                    .checked_add(std::time::Duration::from_secs(t.unsigned_abs()))
                    .filter(|_| *t >= 0);
                match at {
                    Some(at) => format!("\"{}\"", humantime::format_rfc3339_seconds(at)),
                    None => t.to_string(),
                }
            }
            Value::Duration(d) => {
                humantime::format_duration(std::time::Duration::from_secs(d.unsigned_abs()))
                    .to_string()
            }
            Value::Ip(net) if net.prefix_len() == net.max_prefix_len() => net.addr().to_string(),
            Value::Ip(net) => net.to_string(),
            Value::Set(items) => {
                let items: Vec<String> = items.iter().map(Value::shown).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}
