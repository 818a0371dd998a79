//! The `Manipulator` over SQL: the same logic for both backends, which only execute statements.

use std::sync::Arc;

use elemental::{CountMode, Identity};
use manipulate::query::page_with_cursor;
use manipulate::{
    BoxFuture, Created, Document, Fields, ManipulateError, Manipulator, Page, Record, Row,
    StoreContext, Updated,
};

use crate::schema::{Schema, TableSchema};
use crate::sql::{Dialect, Sql};
use crate::statements::{self, Reach};

/// With `X-Count-Mode: estimated`, sets of up to this many matching objects are still counted
/// exactly (the count stops one row later).
pub const EXACT_COUNT_UP_TO: u64 = 1_000;
/// With `X-Count-Mode: estimated`, the random probes of a larger set.
pub const COUNT_SAMPLES: u32 = 1_000;

/// What a backend does: run statements.
pub(crate) trait Executor: Send + Sync + 'static {
    /// The rows of a query of `table` that reads `reach`.
    fn rows(
        &self,
        select: Sql,
        table: Arc<TableSchema>,
        reach: Reach,
    ) -> BoxFuture<'_, Result<Vec<Row>, ManipulateError>>;
    /// Runs the statements (writes) in one transaction and returns the rows of `table` the
    /// last one returns (`RETURNING`).
    fn written_rows(
        &self,
        statements: Vec<Sql>,
        table: Arc<TableSchema>,
    ) -> BoxFuture<'_, Result<Vec<Row>, ManipulateError>>;
    /// The integer in the first column of the first row (a `COUNT(*)` that reads `reach`).
    fn count(&self, sql: Sql, reach: Reach) -> BoxFuture<'_, Result<u64, ManipulateError>>;
    /// The text in the first column of the first row, if there is a row; the query reads
    /// one row through a unique index.
    fn text(&self, sql: Sql) -> BoxFuture<'_, Result<Option<String>, ManipulateError>>;
    /// Runs the statements in one transaction; returns how many rows the last one changed.
    fn changes(&self, statements: Vec<Sql>) -> BoxFuture<'_, Result<u64, ManipulateError>>;
}

/// Objects stored in SQL tables (SQLite or PostgreSQL); see the crate documentation.
pub struct SqlManipulator {
    schema: Schema,
    dialect: Dialect,
    executor: Arc<dyn Executor>,
}

impl SqlManipulator {
    pub(crate) fn new(schema: Schema, dialect: Dialect, executor: Arc<dyn Executor>) -> Self {
        Self {
            schema,
            dialect,
            executor,
        }
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn table(&self, identity: Identity) -> Result<Arc<TableSchema>, ManipulateError> {
        self.schema
            .table(identity)
            .map_err(|e| ManipulateError::Internal(e.to_string()))
    }

    async fn page(
        &self,
        table: Arc<TableSchema>,
        ctx: &StoreContext,
    ) -> Result<Page<Row>, ManipulateError> {
        // Same validation as the in-memory backend (regular expressions compile, sizes bound).
        manipulate::query::matcher(ctx)?;
        let d = self.dialect;
        let limit = (ctx.limit > 0).then_some(ctx.limit);
        // With a cursor (`after` or `limit`): one more object than the page, to know whether a
        // next page exists; the page size is `cursor_take`.
        let fetch = limit.map(|n| n.saturating_add(1));
        let (select, cursor_take) = if let Some(after) = &ctx.after {
            let cursor = statements::count_cursor(&table, ctx, d, after);
            if self.executor.count(cursor, Reach::OneRow).await? == 0 {
                return Err(ManipulateError::InvalidQuery(format!(
                    "unknown cursor '{after}'"
                )));
            }
            let take = limit.map_or(usize::MAX, |l| l as usize);
            (
                statements::select_after(&table, ctx, d, after, fetch),
                Some(take),
            )
        } else if let Some(limit) = limit {
            (
                statements::select(&table, ctx, d, fetch, 0),
                Some(limit as usize),
            )
        } else if ctx.page_size == 0 {
            (statements::select(&table, ctx, d, None, 0), None)
        } else {
            let offset = ctx
                .page
                .max(1)
                .saturating_sub(1)
                .saturating_mul(ctx.page_size);
            (
                statements::select(&table, ctx, d, Some(ctx.page_size), offset),
                None,
            )
        };
        let everything = ctx.after.is_none() && limit.is_none() && ctx.page_size == 0;
        // The page and its total are two reads on two connections, run at once: a request
        // waits for the slower one instead of both in turn (each statement reads its own
        // snapshot either way).
        let rows = self.executor.rows(select, table.clone(), Reach::Rows);
        let total = async {
            match everything {
                true => Ok(None),
                false => self.total(&table, ctx).await.map(Some),
            }
        };
        let (objects, counted) = tokio::try_join!(rows, total)?;
        let (total, count_mode) = counted.unwrap_or((objects.len() as u64, CountMode::Exact));
        let page = match cursor_take {
            Some(take) => page_with_cursor(objects, take, total, |row: &Row| {
                row.get(manipulate::query::ID).and_then(|id| id.as_str())
            }),
            None => Page {
                objects,
                total,
                ..Page::default()
            },
        };
        Ok(Page { count_mode, ..page })
    }

    /// The total of the objects that `ctx` selects, exact or estimated as it asks.
    async fn total(
        &self,
        table: &Arc<TableSchema>,
        ctx: &StoreContext,
    ) -> Result<(u64, CountMode), ManipulateError> {
        let reach = statements::reach(table, ctx);
        if ctx.count_mode == CountMode::Estimated && reach == Reach::Rows {
            return self.estimated_total(table, ctx).await;
        }
        let count = statements::count(table, ctx, self.dialect);
        Ok((self.executor.count(count, reach).await?, CountMode::Exact))
    }

    /// The total of an estimated count: exact up to [`EXACT_COUNT_UP_TO`] matches, else an
    /// estimate from [`COUNT_SAMPLES`] probes (never below what was counted).
    async fn estimated_total(
        &self,
        table: &Arc<TableSchema>,
        ctx: &StoreContext,
    ) -> Result<(u64, CountMode), ManipulateError> {
        let d = self.dialect;
        let most = EXACT_COUNT_UP_TO + 1;
        let counted = statements::count_at_most(table, ctx, d, most);
        let counted = self.executor.count(counted, Reach::Rows).await?;
        if counted < most {
            return Ok((counted, CountMode::Exact));
        }
        let estimate = statements::estimated_count(table, ctx, d, COUNT_SAMPLES);
        let estimate = self.executor.count(estimate, Reach::Rows).await?;
        Ok((estimate.max(most), CountMode::Estimated))
    }

    async fn create_object(
        &self,
        table: Arc<TableSchema>,
        id: &str,
        object: &dyn Fields,
        ctx: &StoreContext,
    ) -> Result<Created, ManipulateError> {
        let d = self.dialect;
        // The row straight from the typed object; the object given is the answer.
        let values = statements::row_values(&table, object, id)?;
        let key = ctx.idempotency_key.as_deref();
        let mut steps = Vec::new();
        if let Some(key) = key {
            steps.push(statements::claim_key(&table, d, key, id));
        }
        steps.push(statements::insert(&table, d, values, id, key));
        let inserted = self
            .executor
            .changes(steps)
            .await
            .map_err(|e| unique_violation(&table, e, id))?;
        if inserted > 0 {
            return Ok(Created::Stored);
        }
        // The key was claimed before: answer with the object created the first time.
        let key = key.unwrap_or_default();
        let owner = self
            .executor
            .text(statements::key_owner(&table, d, key))
            .await?
            .ok_or_else(|| ManipulateError::Internal(format!("idempotency key '{key}' lost")))?;
        let select = statements::select_one(&table, &StoreContext::default(), d, &owner);
        let found = self.executor.rows(select, table, Reach::OneRow).await?;
        Ok(Created::Replayed(first(found, &owner)?.into_document()))
    }
}

impl Manipulator for SqlManipulator {
    fn retrieve_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page, ManipulateError>> {
        Box::pin(async move {
            let page = self.page(self.table(identity)?, ctx).await?;
            Ok(page.map(Row::into_document))
        })
    }

    fn retrieve_many_records<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Page<Record>, ManipulateError>> {
        Box::pin(async move {
            let page = self.page(self.table(identity)?, ctx).await?;
            Ok(page.map(Record::Row))
        })
    }

    fn retrieve<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        Box::pin(async move {
            let record = self.retrieve_record(identity, id, ctx).await?;
            Ok(record.into_document())
        })
    }

    fn retrieve_record<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Record, ManipulateError>> {
        Box::pin(async move {
            let table = self.table(identity)?;
            let select = statements::select_one(&table, ctx, self.dialect, id);
            let found = self.executor.rows(select, table, Reach::OneRow).await?;
            first(found, id).map(Record::Row)
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
            self.create_object(self.table(identity)?, id, object, ctx)
                .await
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
            let table = self.table(identity)?;
            let values = statements::row_values(&table, object, id)?;
            let update = statements::update(&table, ctx, self.dialect, id, values);
            match self
                .executor
                .changes(vec![update])
                .await
                .map_err(|e| unique_violation(&table, e, id))?
            {
                0 => Err(ManipulateError::NotFound { id: id.to_string() }),
                _ => Ok(Updated::Stored),
            }
        })
    }

    fn delete<'a>(
        &'a self,
        identity: Identity,
        id: &'a str,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<Document, ManipulateError>> {
        Box::pin(async move {
            let table = self.table(identity)?;
            let delete = statements::delete_one(&table, ctx, self.dialect, id);
            let deleted = self.executor.written_rows(vec![delete], table).await?;
            first(deleted, id).map(Row::into_document)
        })
    }

    fn delete_many<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        Box::pin(async move {
            let table = self.table(identity)?;
            manipulate::query::matcher(ctx)?;
            self.executor
                .changes(vec![statements::delete_many(&table, ctx, self.dialect)])
                .await
        })
    }

    fn count<'a>(
        &'a self,
        identity: Identity,
        ctx: &'a StoreContext,
    ) -> BoxFuture<'a, Result<u64, ManipulateError>> {
        Box::pin(async move {
            let table = self.table(identity)?;
            manipulate::query::matcher(ctx)?;
            self.executor
                .count(
                    statements::count(&table, ctx, self.dialect),
                    statements::reach(&table, ctx),
                )
                .await
        })
    }
}

/// The one object a statement on `id` found, or not found.
fn first(found: Vec<Row>, id: &str) -> Result<Row, ManipulateError> {
    found
        .into_iter()
        .next()
        .ok_or_else(|| ManipulateError::NotFound { id: id.to_string() })
}

/// A unique index refusing a write, as the client is told of it (other errors pass).
fn unique_violation(table: &TableSchema, e: ManipulateError, id: &str) -> ManipulateError {
    match e {
        ManipulateError::ConstraintViolation(message) => {
            ManipulateError::ConstraintViolation(violation(table, &message, id))
        }
        other => other,
    }
}

/// What a client is told of a unique index a write broke: the index of the specs the database
/// names, or else the id (the one other unique index).
fn violation(table: &TableSchema, message: &str, id: &str) -> String {
    table
        .indexes
        .iter()
        .filter(|index| index.unique)
        .find(|index| index.named_in(&table.table, message))
        .map(|index| index.violation())
        .unwrap_or_else(|| format!("an object with ID '{id}' already exists"))
}
