//! Push configurations: what a push session wants to receive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::filter::{Comparator, Filter, Matcher, ParseOptions};
use crate::{AttributeValues, Error, EventType};

/// A push session's configuration, as sent by clients:
/// `{"identities":{"list":["create","delete"]},"filters":{"list":"name == x"},"parameters":{...}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PushConfig {
    /// Identity name -> event types wanted (an empty list means every type). When the map is
    /// empty, every identity is wanted.
    #[serde(default, deserialize_with = "nullable::map_of_lists")]
    pub identities: BTreeMap<String, Vec<EventType>>,
    /// Identity name -> filter the entities must match.
    #[serde(default, rename = "filters", deserialize_with = "nullable::map")]
    pub identity_filters: BTreeMap<String, String>,
    /// Free parameters for the application's dispatch handler.
    #[serde(default, deserialize_with = "nullable::map_of_lists")]
    pub parameters: BTreeMap<String, Vec<String>>,
    #[serde(skip)]
    matchers: BTreeMap<String, Matcher>,
}

impl PushConfig {
    /// Parses the identity filters, allowing only [`Comparator::PUSH`]. Must be called before
    /// [`PushConfig::accepts`]. The error is a 400 `Bad request` whose description starts with
    /// `unable to parse identity filters: `.
    pub fn parse_identity_filters(&mut self) -> Result<(), Error> {
        let options = ParseOptions {
            allowed_comparators: Some(&Comparator::PUSH),
            ..ParseOptions::default()
        };
        let mut matchers = BTreeMap::new();
        for (identity, text) in &self.identity_filters {
            let matcher = Filter::parse_with(text, &options)
                .and_then(|f| Matcher::new(&f))
                .map_err(|e| {
                    Error::new(
                        "Bad request",
                        format!("unable to parse identity filters: {identity}: {e}"),
                        "elemental",
                        400,
                    )
                })?;
            matchers.insert(identity.clone(), matcher);
        }
        self.matchers = matchers;
        Ok(())
    }

    /// True when events of this identity and type are not wanted.
    pub fn is_filtered_out(&self, identity: &str, event_type: EventType) -> bool {
        if self.identities.is_empty() {
            return false;
        }
        match self.identities.get(identity) {
            None => true,
            Some(types) => !types.is_empty() && !types.contains(&event_type),
        }
    }

    /// The parsed filter for an identity.
    pub fn matcher_for_identity(&self, identity: &str) -> Option<&Matcher> {
        self.matchers.get(identity)
    }

    /// True when an event of this identity and type, about `entity`, is wanted.
    pub fn accepts<T: AttributeValues + ?Sized>(
        &self,
        identity: &str,
        event_type: EventType,
        entity: &T,
    ) -> bool {
        !self.is_filtered_out(identity, event_type)
            && self
                .matcher_for_identity(identity)
                .is_none_or(|m| m.matches(entity))
    }
}

/// The Go client sends `null` (msgpack nil) for maps and lists it has not set: `"parameters":
/// null`, `"identities":{"task":null}`. They read as empty, as in Go bahamut.
mod nullable {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer};

    /// A map that may be `null`, whose values may be `null` (then left out).
    pub fn map<'de, D, T>(d: D) -> Result<BTreeMap<String, T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        let map = Option::<BTreeMap<String, Option<T>>>::deserialize(d)?.unwrap_or_default();
        Ok(map
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// A map that may be `null`, of lists that may be `null` (then empty).
    pub fn map_of_lists<'de, D, T>(d: D) -> Result<BTreeMap<String, Vec<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        let map = Option::<BTreeMap<String, Option<Vec<T>>>>::deserialize(d)?.unwrap_or_default();
        Ok(map
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> PushConfig {
        let mut c: PushConfig = serde_json::from_str(json).unwrap();
        c.parse_identity_filters().unwrap();
        c
    }

    #[test]
    fn go_client_nulls_read_as_empty() {
        let c = config(r#"{"filters":null,"identities":{"task":null},"parameters":null}"#);
        assert!(!c.is_filtered_out("task", EventType::Update));
        assert!(c.is_filtered_out("list", EventType::Create));
        assert!(c.parameters.is_empty());
        let c = config(r#"{"filters":{"list":null},"identities":null,"parameters":{"a":null}}"#);
        assert!(c.identity_filters.is_empty());
        assert_eq!(c.parameters.get("a"), Some(&Vec::new()));
        // The recorded msgpack config of the Go client: {"filters":{},"identities":{"task":nil},
        // "parameters":nil}.
        let hex =
            "83a766696c7465727380aa6964656e74697469657381a47461736bc0aa706172616d6574657273c0";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let mut c: PushConfig = rmp_serde::from_slice(&bytes).unwrap();
        c.parse_identity_filters().unwrap();
        assert!(!c.is_filtered_out("task", EventType::Delete));
        assert!(c.is_filtered_out("list", EventType::Delete));
    }

    #[test]
    fn identities_and_types() {
        let c = config(r#"{"identities":{"list":["create","delete"],"task":[]}}"#);
        assert!(!c.is_filtered_out("list", EventType::Create));
        assert!(c.is_filtered_out("list", EventType::Update));
        assert!(!c.is_filtered_out("task", EventType::Update));
        assert!(c.is_filtered_out("user", EventType::Create));
        assert!(!config("{}").is_filtered_out("user", EventType::Create));
    }

    #[test]
    fn filters_apply_to_entities() {
        let c = config(r#"{"filters":{"list":"name == x"}}"#);
        let x: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        let y: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"name":"y"}"#).unwrap();
        assert!(c.accepts("list", EventType::Create, &x));
        assert!(!c.accepts("list", EventType::Create, &y));
        assert!(c.accepts("task", EventType::Create, &y));
    }

    #[test]
    fn only_push_comparators_are_allowed() {
        let mut c: PushConfig =
            serde_json::from_str(r#"{"filters":{"list":"count > 2"}}"#).unwrap();
        let e = c.parse_identity_filters().unwrap_err();
        assert_eq!(e.title, "Bad request");
        assert_eq!(e.code, 400);
        assert_eq!(
            e.description,
            "unable to parse identity filters: list: unsupported comparator: >"
        );
        let mut c: PushConfig = serde_json::from_str(r#"{"filters":{"list":"name = x"}}"#).unwrap();
        assert_eq!(
            c.parse_identity_filters().unwrap_err().description,
            "unable to parse identity filters: list: invalid operator. found = instead of (==, !=, <, <=, >, >=, contains, in, matches, exists)"
        );
    }
}
