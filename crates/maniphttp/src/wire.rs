//! What a [`StoreContext`] becomes on the wire: the path (with the parent), the query
//! (filter, pagination, order, recursion, declared parameters, override) and the headers
//! (namespace, fields, idempotency key, consistency, tracking).

use elemental::ParameterValue;
use elemental::export::time::format_description::well_known::Rfc3339;
use elemental::{CountMode, Identity};
use manipulate::{ReadConsistency, StoreContext, WriteConsistency};

/// The path of an identity's collection (under the context's parent, if any), or of one object.
pub(crate) fn path(identity: Identity, id: Option<&str>, ctx: &StoreContext) -> String {
    let mut path = String::new();
    if let (Some((parent, parent_id)), None) = (&ctx.parent, id) {
        path.push('/');
        path.push_str(parent.category);
        path.push('/');
        push_encoded(&mut path, parent_id);
    }
    path.push('/');
    path.push_str(identity.category);
    if let Some(id) = id {
        path.push('/');
        push_encoded(&mut path, id);
    }
    path
}

/// The query string (without `?`, empty when there is nothing to ask).
pub(crate) fn query(ctx: &StoreContext) -> String {
    let mut query = Query::default();
    if let Some(filter) = &ctx.filter {
        query.add("q", &filter.to_string());
    }
    if ctx.recursive {
        query.add("recursive", "true");
    }
    if ctx.propagated {
        query.add("propagated", "true");
    }
    if ctx.override_protection {
        query.add("override", "true");
    }
    if ctx.page > 0 || ctx.page_size > 0 {
        query.add("page", &ctx.page.max(1).to_string());
        query.add("pagesize", &ctx.page_size.to_string());
    }
    if let Some(after) = &ctx.after {
        query.add("after", after);
    }
    if ctx.limit > 0 {
        query.add("limit", &ctx.limit.to_string());
    }
    for order in &ctx.order {
        query.add("order", order);
    }
    for (name, parameter) in &ctx.parameters.0 {
        // The filter and the propagation flag are sent once, above.
        let sent =
            (name == "q" && ctx.filter.is_some()) || (name == "propagated" && ctx.propagated);
        if !sent {
            for value in &parameter.values {
                query.add(name, &parameter_text(value));
            }
        }
    }
    query.0
}

/// The headers of the context, as (name, value).
pub(crate) fn headers(ctx: &StoreContext) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if !ctx.namespace.is_empty() {
        headers.push(("x-namespace", ctx.namespace.clone()));
    }
    if !ctx.fields.is_empty() {
        headers.push(("x-fields", ctx.fields.join(", ")));
    }
    if let Some(key) = &ctx.idempotency_key {
        headers.push(("idempotency-key", key.clone()));
    }
    let read = match ctx.read_consistency {
        ReadConsistency::Default => None,
        ReadConsistency::Eventual => Some("eventual"),
        ReadConsistency::Monotonic => Some("monotonic"),
        ReadConsistency::Strong => Some("strong"),
    };
    if let Some(read) = read {
        headers.push(("x-read-consistency", read.to_string()));
    }
    let write = match ctx.write_consistency {
        WriteConsistency::Default => None,
        WriteConsistency::None => Some("none"),
        WriteConsistency::Strong => Some("strong"),
    };
    if let Some(write) = write {
        headers.push(("x-write-consistency", write.to_string()));
    }
    if !ctx.external_tracking_id.is_empty() {
        headers.push(("x-external-tracking-id", ctx.external_tracking_id.clone()));
    }
    if !ctx.external_tracking_type.is_empty() {
        headers.push((
            "x-external-tracking-type",
            ctx.external_tracking_type.clone(),
        ));
    }
    if ctx.count_mode == CountMode::Estimated {
        headers.push(("x-count-mode", CountMode::Estimated.to_string()));
    }
    headers
}

/// A parameter value as the server parses it back.
fn parameter_text(value: &ParameterValue) -> String {
    match value {
        ParameterValue::String(s) => s.clone(),
        ParameterValue::Boolean(b) => b.to_string(),
        ParameterValue::Integer(i) => i.to_string(),
        ParameterValue::Float(f) => f.to_string(),
        ParameterValue::Time(t) => t.format(&Rfc3339).unwrap_or_default(),
        ParameterValue::Duration(d) => d.to_string(),
    }
}

/// A query string being built, `name=value` pairs percent-encoded.
#[derive(Default)]
struct Query(String);

impl Query {
    fn add(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        push_encoded(&mut self.0, name);
        self.0.push('=');
        push_encoded(&mut self.0, value);
    }
}

/// Appends `text` percent-encoded: every byte but the unreserved ones of RFC 3986.
pub(crate) fn push_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use elemental::filter::Filter;
    use elemental::{Parameter, ParameterType};

    use super::*;

    const LIST: Identity = Identity::new("list", "lists");
    const TASK: Identity = Identity::new("task", "tasks");

    #[test]
    fn paths_name_the_parent_and_encode_ids() {
        let mut ctx = StoreContext::in_namespace("/a");
        assert_eq!(path(TASK, None, &ctx), "/tasks");
        assert_eq!(path(TASK, Some("x/y z"), &ctx), "/tasks/x%2Fy%20z");
        ctx.parent = Some((LIST, "l1".into()));
        assert_eq!(path(TASK, None, &ctx), "/lists/l1/tasks");
        assert_eq!(path(TASK, Some("t1"), &ctx), "/tasks/t1");
    }

    #[test]
    fn every_context_option_reaches_the_query_or_a_header() {
        let mut ctx = StoreContext::in_namespace("/acme/prod")
            .with_filter(Filter::parse("name == \"a b\" and n > 3").unwrap());
        ctx.recursive = true;
        ctx.propagated = true;
        ctx.override_protection = true;
        ctx.page = 2;
        ctx.page_size = 10;
        ctx.order = vec!["-name".into(), "ID".into()];
        ctx.fields = vec!["ID".into(), "name".into()];
        ctx.idempotency_key = Some("k1".into());
        ctx.read_consistency = ReadConsistency::Strong;
        ctx.write_consistency = WriteConsistency::None;
        ctx.external_tracking_id = "t-1".into();
        ctx.external_tracking_type = "ci".into();
        ctx.count_mode = CountMode::Estimated;
        ctx.parameters.insert(
            "archived",
            Parameter {
                parameter_type: ParameterType::Boolean,
                values: vec![ParameterValue::Boolean(true)],
            },
        );
        assert_eq!(
            query(&ctx),
            "q=%28%28name%20%3D%3D%20%22a%20b%22%29%20and%20%28n%20%3E%203%29%29&recursive=true\
             &propagated=true\
             &override=true&page=2&pagesize=10&order=-name&order=ID&archived=true"
        );
        assert_eq!(
            headers(&ctx),
            [
                ("x-namespace", "/acme/prod".to_string()),
                ("x-fields", "ID, name".to_string()),
                ("idempotency-key", "k1".to_string()),
                ("x-read-consistency", "strong".to_string()),
                ("x-write-consistency", "none".to_string()),
                ("x-external-tracking-id", "t-1".to_string()),
                ("x-external-tracking-type", "ci".to_string()),
                ("x-count-mode", "estimated".to_string()),
            ]
        );
        let mut cursor = StoreContext::in_namespace("/");
        cursor.after = Some("c 1".into());
        cursor.limit = 5;
        assert_eq!(query(&cursor), "after=c%201&limit=5");
    }
}
