//! SCIM 2.0 import (RFC 7643): the `User` and `Group` resources an identity
//! provider returns, as grantlog [`Facts`].
//!
//! - A `User` becomes a principal named by its `userName`. `active: false`
//!   becomes `status inactive` (a policy denies it with
//!   `deny * to users where status = inactive`). Its `title`, `userType`,
//!   `displayName`, primary email (`email`), the enterprise extension's
//!   `department`, `organization`, `division` and `costCenter`, and every
//!   scalar attribute of any other extension (such as an `is_admin` flag)
//!   become attributes that rules can test, e.g.
//!   `assign admin on org:acme to users where is_admin = true`.
//! - A `Group` becomes a group named by its `displayName`, its `members`
//!   (users or groups, by `value` = the member's `id`) its members.
//! - Every user and group is placed in the `homes` given to the import.
//!
//! Input is a `ListResponse`, a JSON array of resources, or one resource. A
//! member that names no imported user or group is an error, not dropped;
//! so are two resources with one `id`, two Users with one `userName` and two
//! Groups with one `displayName`. Users and groups become typed facts
//! ([`crate::facts`]): no field, not even an extension's field name, is ever
//! read as policy text.

use crate::error::Error;
use crate::facts::AttributeFact;
use crate::facts::{Facts, GroupFact, SubjectFact, UserFact};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Converts SCIM resources into facts, placing users and groups in `homes`
/// (`type:name` nodes). `name` is the file name used in errors.
pub fn import(name: &str, text: &str, homes: &[String]) -> Result<Facts, Error> {
    let bad = |path: &str, what: String| Error::Usage(format!("{name}: at `{path}`: {what}"));
    let doc: Value = serde_json::from_str(text).map_err(|e| bad("", format!("not JSON: {e}")))?;
    let (resources, base) = match &doc {
        Value::Array(items) => (items.clone(), ""),
        Value::Object(o) if o.contains_key("Resources") => match &o["Resources"] {
            Value::Array(items) => (items.clone(), "Resources"),
            _ => return Err(bad("Resources", "expected an array of resources".into())),
        },
        Value::Object(_) => (vec![doc.clone()], ""),
        _ => {
            return Err(bad(
                "",
                "expected a ListResponse, an array or a resource".into(),
            ))
        }
    };
    let at = |i: usize, field: &str| {
        let mut p = if base.is_empty() {
            format!("[{i}]")
        } else {
            format!("{base}[{i}]")
        };
        if !field.is_empty() {
            p.push('.');
            p.push_str(field);
        }
        p
    };
    // First pass: ids of users and groups.
    let mut names: HashMap<String, (bool, String)> = HashMap::new();
    let mut seen: HashSet<(bool, String)> = HashSet::new();
    let mut facts = Facts::default();
    let mut groups = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let schemas: Vec<&str> = r["schemas"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let (is_group, field, kind) = if schemas.contains(&USER) {
            (false, "userName", "User")
        } else if schemas.contains(&GROUP) {
            (true, "displayName", "Group")
        } else {
            return Err(bad(
                &at(i, "schemas"),
                format!("neither a User ({USER}) nor a Group ({GROUP})"),
            ));
        };
        let name = r[field]
            .as_str()
            .ok_or_else(|| bad(&at(i, field), format!("a {kind} needs a `{field}` string")))?;
        // One resource per id, and per name within its kind: a duplicate
        // would put members on the wrong principal.
        if let Some(id) = r["id"].as_str() {
            if names
                .insert(id.to_string(), (is_group, name.to_string()))
                .is_some()
            {
                return Err(bad(
                    &at(i, "id"),
                    format!("a second resource with id `{id}`: ids must be unique"),
                ));
            }
        }
        // Compared in canonical form, as the policy will compare them.
        let canonical = crate::syntax::names::canonical(name).into_owned();
        if !seen.insert((is_group, canonical)) {
            return Err(bad(
                &at(i, field),
                format!("a second {kind} with {field} `{name}`: each must be unique"),
            ));
        }
        if is_group {
            groups.push((i, name.to_string()));
        } else {
            facts.users.push(
                user_fact(r, name, homes).map_err(|(field, what)| bad(&at(i, &field), what))?,
            );
        }
    }
    // Second pass: group members, by id.
    for (i, group) in groups {
        let mut members = Vec::new();
        for (j, m) in resources[i]["members"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = at(i, &format!("members[{j}].value"));
            let value = m["value"]
                .as_str()
                .ok_or_else(|| bad(&path, "a member needs a `value` (the member's id)".into()))?;
            let (is_group, member) = names.get(value).ok_or_else(|| {
                bad(
                    &path,
                    format!(
                        "member `{value}` of group `{group}` is not a User or Group in this import"
                    ),
                )
            })?;
            let declared = m["type"].as_str();
            if declared.is_some_and(|t| (t == "Group") != *is_group) {
                return Err(bad(
                    &path,
                    format!(
                        "member `{value}` is declared a {} but is a {}",
                        declared.unwrap_or(""),
                        if *is_group { "Group" } else { "User" }
                    ),
                ));
            }
            members.push(if *is_group {
                SubjectFact::Group(member.clone())
            } else {
                SubjectFact::User(member.clone())
            });
        }
        facts.groups.push(GroupFact {
            name: group,
            homes: homes.to_vec(),
            members,
        });
    }
    Ok(facts)
}

/// A SCIM value as an attribute: strings as they are, booleans and numbers
/// in their JSON spelling (`"True"`/`"False"`, as some providers send
/// booleans, become `true`/`false`).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some("true".into()),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some("false".into()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn user_fact(r: &Value, user: &str, homes: &[String]) -> Result<UserFact, (String, String)> {
    let active = match r.get("active") {
        None | Some(Value::Null) => true,
        Some(v) => match scalar(v).as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => return Err(("active".into(), format!("expected true or false, got {v}"))),
        },
    };
    let mut attributes = BTreeMap::new();
    for key in ["title", "userType", "displayName"] {
        if let Some(v) = r.get(key).and_then(scalar) {
            attributes.insert(key.to_string(), AttributeFact::from(v.as_str()));
        }
    }
    let emails = r["emails"].as_array();
    let email = emails
        .and_then(|e| {
            e.iter()
                .find(|x| x["primary"].as_bool() == Some(true))
                .or(e.first())
        })
        .and_then(|e| e["value"].as_str());
    if let Some(e) = email {
        attributes.insert("email".into(), AttributeFact::from(e));
    }
    if let Some(obj) = r.as_object() {
        for (key, ext) in obj
            .iter()
            .filter(|(k, _)| k.starts_with("urn:") && k.as_str() != USER)
        {
            for (field, v) in ext.as_object().into_iter().flatten() {
                if key == ENTERPRISE && field == "manager" {
                    if let Some(m) = v["value"].as_str() {
                        attributes.insert("manager".into(), AttributeFact::from(m));
                    }
                } else if let Some(s) = scalar(v) {
                    attributes.insert(field.clone(), AttributeFact::from(s.as_str()));
                }
            }
        }
    }
    Ok(UserFact {
        name: user.to_string(),
        kind: None,
        status: (!active).then(|| "inactive".to_string()),
        homes: homes.to_vec(),
        attributes,
    })
}
