//! The in-memory backend: every filter operator, ordering and both pagination styles, with the
//! same semantics as the SQL backends (see `query`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use elemental::Identity;

use crate::query::{ID, matcher, paginate, sort, visible};
use crate::{
    BoxFuture, Created, Document, Fields, ManipulateError, Manipulator, Page, StoreContext, Updated,
};

#[derive(Default)]
struct Table {
    rows: HashMap<String, (u64, Document)>,
    idempotency: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    sequence: u64,
    tables: HashMap<&'static str, Table>,
}

/// Objects kept in memory, lost when the process ends.
#[derive(Default)]
pub struct MemoryManipulator {
    state: Mutex<State>,
}

impl MemoryManipulator {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `then` on the visible documents matching the context, in order.
    fn matching<T>(
        &self,
        identity: Identity,
        ctx: &StoreContext,
        then: impl FnOnce(Vec<&Document>) -> Result<T, ManipulateError>,
    ) -> Result<T, ManipulateError> {
        let matcher = matcher(ctx)?;
        let state = self.state();
        let mut rows: Vec<(u64, &Document)> = state
            .tables
            .get(identity.name)
            .map(|table| {
                table
                    .rows
                    .values()
                    .filter(|(_, d)| {
                        visible(d, ctx) && matcher.as_ref().is_none_or(|m| m.matches(d))
                    })
                    .map(|(sequence, d)| (*sequence, d))
                    .collect()
            })
            .unwrap_or_default();
        sort(&mut rows, &ctx.order);
        then(rows.into_iter().map(|(_, d)| d).collect())
    }
}

fn not_found(id: &str) -> ManipulateError {
    ManipulateError::NotFound { id: id.to_string() }
}

impl Manipulator for MemoryManipulator {
    fn retrieve_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page, ManipulateError>> {
        Box::pin(async move { self.matching(identity, ctx, |documents| paginate(documents, ctx)) })
    }

    fn retrieve<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        Box::pin(async move {
            let state = self.state();
            state
                .tables
                .get(identity.name)
                .and_then(|t| t.rows.get(id))
                .filter(|(_, d)| visible(d, ctx))
                .map(|(_, d)| d.clone())
                .ok_or_else(|| not_found(id))
        })
    }

    fn create<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Created, ManipulateError>> {
        Box::pin(async move {
            let mut document = object.document()?;
            document.insert(ID.to_string(), serde_json::Value::String(id.to_string()));
            let mut state = self.state();
            state.sequence += 1;
            let sequence = state.sequence;
            let table = state.tables.entry(identity.name).or_default();
            if let Some(first) = ctx
                .idempotency_key
                .as_ref()
                .and_then(|k| table.idempotency.get(k))
            {
                if let Some((_, d)) = table.rows.get(first) {
                    return Ok(Created::Replayed(d.clone()));
                }
            }
            if table.rows.contains_key(id) {
                return Err(ManipulateError::ConstraintViolation(format!(
                    "an object with ID '{id}' already exists"
                )));
            }
            table.rows.insert(id.to_string(), (sequence, document));
            if let Some(key) = &ctx.idempotency_key {
                table.idempotency.insert(key.clone(), id.to_string());
            }
            Ok(Created::Stored)
        })
    }

    fn update<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        object: &'a dyn Fields,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Updated, ManipulateError>> {
        Box::pin(async move {
            let document = object.document()?;
            let mut state = self.state();
            let row = state
                .tables
                .get_mut(identity.name)
                .and_then(|t| t.rows.get_mut(id))
                .filter(|(_, d)| visible(d, ctx))
                .ok_or_else(|| not_found(id))?;
            row.1 = document;
            Ok(Updated::Stored)
        })
    }

    fn delete<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        Box::pin(async move {
            let mut state = self.state();
            let table = state
                .tables
                .get_mut(identity.name)
                .ok_or_else(|| not_found(id))?;
            match table.rows.get(id) {
                Some((_, d)) if visible(d, ctx) => {}
                _ => return Err(not_found(id)),
            }
            table
                .rows
                .remove(id)
                .map(|(_, d)| d)
                .ok_or_else(|| not_found(id))
        })
    }

    fn delete_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        Box::pin(async move {
            let ids: Vec<String> = self.matching(identity, ctx, |documents| {
                Ok(documents
                    .into_iter()
                    .filter_map(|d| d.get(crate::query::ID).and_then(|v| v.as_str()))
                    .map(str::to_string)
                    .collect())
            })?;
            let mut state = self.state();
            let table = state.tables.entry(identity.name).or_default();
            Ok(ids
                .iter()
                .filter(|id| table.rows.remove(id.as_str()).is_some())
                .count() as u64)
        })
    }

    fn count<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        Box::pin(
            async move { self.matching(identity, ctx, |documents| Ok(documents.len() as u64)) },
        )
    }
}
