//! Query semantics shared by every backend: which documents a context sees, in which order,
//! and which page of them.

use std::cmp::Ordering;

use elemental::filter::Matcher;
use elemental::namespace::{is_namespace_child_of, is_namespace_in_subtree};
use serde_json::Value;

use crate::{Document, ManipulateError, Page, StoreContext};

/// The attribute holding object ids.
pub const ID: &str = "ID";

fn text<'a>(document: &'a Document, attribute: &str) -> Option<&'a str> {
    document.get(attribute).and_then(Value::as_str)
}

/// True when the context may see the document: same namespace (or below when recursive, or a
/// propagating object above when propagated), and under the context's parent if any.
/// Documents without a namespace are visible to every context.
pub fn visible(document: &Document, ctx: &StoreContext) -> bool {
    let namespace_ok = match text(document, "namespace") {
        None => true,
        Some(_) if ctx.namespace.is_empty() => true,
        Some(ns) if ns == ctx.namespace => true,
        Some(ns) if ctx.recursive && is_namespace_in_subtree(&ctx.namespace, ns) => true,
        Some(ns) => {
            ctx.propagated
                && is_namespace_child_of(ns, &ctx.namespace)
                && document.get("propagate") == Some(&Value::Bool(true))
        }
    };
    let parent_ok = match (&ctx.parent, text(document, "parentID")) {
        (Some((_, parent_id)), Some(id)) => id == parent_id,
        _ => true,
    };
    namespace_ok && parent_ok
}

/// Orders JSON values: null, booleans, numbers, strings, then lists and objects.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Sorts `(insertion sequence, document)` pairs by the order attributes (`-name` descending),
/// then by insertion.
pub fn sort(documents: &mut [(u64, &Document)], order: &[String]) {
    documents.sort_by(|(sa, a), (sb, b)| {
        for key in order {
            let (descending, attribute) = match key.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, key.as_str()),
            };
            let null = Value::Null;
            let o = compare_values(
                a.get(attribute).unwrap_or(&null),
                b.get(attribute).unwrap_or(&null),
            );
            let o = if descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        sa.cmp(sb)
    });
}

/// The filter of the context, prepared.
pub fn matcher(ctx: &StoreContext) -> Result<Option<Matcher>, ManipulateError> {
    ctx.filter
        .as_ref()
        .map(Matcher::new)
        .transpose()
        .map_err(|e| ManipulateError::InvalidQuery(format!("invalid filter: {e}")))
}

/// The page the context asks for, out of every matching document in order (only the documents
/// of the page are copied).
pub fn paginate(documents: Vec<&Document>, ctx: &StoreContext) -> Result<Page, ManipulateError> {
    let total = documents.len() as u64;
    let copy = |selected: &[&Document]| selected.iter().map(|d| (*d).clone()).collect::<Vec<_>>();
    if let Some(after) = &ctx.after {
        let start = documents
            .iter()
            .position(|d| text(d, ID) == Some(after.as_str()))
            .map(|i| i + 1)
            .ok_or_else(|| ManipulateError::InvalidQuery(format!("unknown cursor '{after}'")))?;
        let limit = if ctx.limit == 0 {
            documents.len()
        } else {
            ctx.limit as usize
        };
        let end = start.saturating_add(limit + 1).min(documents.len());
        return Ok(page_with_cursor(
            copy(&documents[start..end]),
            limit,
            total,
            id_of,
        ));
    }
    if ctx.limit > 0 {
        let end = (ctx.limit as usize + 1).min(documents.len());
        return Ok(page_with_cursor(
            copy(&documents[..end]),
            ctx.limit as usize,
            total,
            id_of,
        ));
    }
    if ctx.page_size == 0 {
        return Ok(Page {
            objects: copy(&documents),
            total,
            ..Page::default()
        });
    }
    let start = (ctx.page.max(1) - 1)
        .saturating_mul(ctx.page_size)
        .min(total) as usize;
    let end = start
        .saturating_add(ctx.page_size as usize)
        .min(documents.len());
    Ok(Page {
        objects: copy(&documents[start..end]),
        total,
        ..Page::default()
    })
}

/// The id of a document.
fn id_of(document: &Document) -> Option<&str> {
    text(document, ID)
}

/// A page of at most `limit` objects out of `objects` (fetched with one more, to know whether
/// a next page exists); its cursor is the id of its last object (`id` reads it) when there is
/// more.
pub fn page_with_cursor<D>(
    mut objects: Vec<D>,
    limit: usize,
    total: u64,
    id: impl Fn(&D) -> Option<&str>,
) -> Page<D> {
    let more = objects.len() > limit;
    objects.truncate(limit);
    let next = if more {
        objects.last().and_then(id).map(str::to_string)
    } else {
        None
    };
    Page {
        objects,
        total,
        next,
        ..Page::default()
    }
}
