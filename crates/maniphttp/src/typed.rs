//! Typed operations over generated models: the object in, the object out, in the client's
//! encoding.

use bytes::Bytes;
use elemental::{CountMode, EncodingType, Identity, Model};
use http::Method;
use manipulate::{Page, StoreContext};

use crate::client::{Answer, Call};
use crate::{Client, Error, wire};

/// One operation: what the context says, on an identity, maybe one object, maybe a body.
pub(crate) struct Operation<'a> {
    pub(crate) method: Method,
    pub(crate) identity: Identity,
    pub(crate) id: Option<&'a str>,
    pub(crate) ctx: &'a StoreContext,
    pub(crate) body: Option<Bytes>,
    pub(crate) encoding: EncodingType,
}

impl Client {
    /// Sends an operation: its path, query and headers from the context.
    pub(crate) async fn run(&self, op: Operation<'_>) -> Result<Answer, Error> {
        let mut path = wire::path(op.identity, op.id, op.ctx);
        let query = wire::query(op.ctx);
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query);
        }
        let mut headers = wire::headers(op.ctx);
        let writes = matches!(op.method, Method::POST | Method::PUT);
        if writes && op.ctx.idempotency_key.is_none() {
            if let Some(key) = self.automatic_idempotency_key() {
                headers.push(("idempotency-key", key));
            }
        }
        self.execute(Call {
            method: op.method,
            path,
            headers,
            body: op.body,
            encoding: op.encoding,
        })
        .await
    }

    fn encode<T: serde::Serialize>(&self, value: &T) -> Result<Bytes, Error> {
        elemental::encode(self.encoding(), value)
            .map(Bytes::from)
            .map_err(|e| Error::Request(e.description))
    }

    async fn typed<T: Model>(
        &self,
        method: Method,
        id: Option<&str>,
        ctx: &StoreContext,
        body: Option<Bytes>,
    ) -> Result<T, Error> {
        let answer = self
            .run(Operation {
                method,
                identity: T::IDENTITY,
                id,
                ctx,
                body,
                encoding: self.encoding(),
            })
            .await?;
        decode(&answer)
    }

    /// Creates `object` (in the context's namespace, under its parent if any); the answer is
    /// the object as the server stored it (its id, times, defaults).
    pub async fn create<T: Model>(&self, object: &T, ctx: &StoreContext) -> Result<T, Error> {
        let body = self.encode(object)?;
        self.typed(Method::POST, None, ctx, Some(body)).await
    }

    /// The object `id`; with a filter in the context, only if it matches (404 otherwise).
    pub async fn retrieve<T: Model>(&self, id: &str, ctx: &StoreContext) -> Result<T, Error> {
        self.typed(Method::GET, Some(id), ctx, None).await
    }

    /// The objects matching the context (namespace, recursion, filter, page, order, parent...),
    /// with the total and the next cursor.
    pub async fn retrieve_many<T: Model>(&self, ctx: &StoreContext) -> Result<Page<T>, Error> {
        let answer = self
            .run(Operation {
                method: Method::GET,
                identity: T::IDENTITY,
                id: None,
                ctx,
                body: None,
                encoding: self.encoding(),
            })
            .await?;
        page(&answer)
    }

    /// Replaces the object (by its id) with `object`; the answer is the object as stored.
    pub async fn update<T: Model>(&self, object: &T, ctx: &StoreContext) -> Result<T, Error> {
        let body = self.encode(object)?;
        self.typed(Method::PUT, Some(object.id()), ctx, Some(body))
            .await
    }

    /// Changes the attributes set in `patch` of the object `id`; the answer is the whole
    /// object as stored.
    pub async fn patch<T: Model>(
        &self,
        id: &str,
        patch: &T::Sparse,
        ctx: &StoreContext,
    ) -> Result<T, Error> {
        let body = self.encode(patch)?;
        self.typed(Method::PATCH, Some(id), ctx, Some(body)).await
    }

    /// Deletes the object `id`; the answer is the object as it was.
    pub async fn delete<T: Model>(&self, id: &str, ctx: &StoreContext) -> Result<T, Error> {
        self.typed(Method::DELETE, Some(id), ctx, None).await
    }

    /// How many objects match the context (`HEAD`, `X-Count-Total`).
    pub async fn count<T: Model>(&self, ctx: &StoreContext) -> Result<u64, Error> {
        self.count_identity(T::IDENTITY, ctx).await
    }

    /// How many objects of `identity` match the context.
    pub(crate) async fn count_identity(
        &self,
        identity: Identity,
        ctx: &StoreContext,
    ) -> Result<u64, Error> {
        let answer = self
            .run(Operation {
                method: Method::HEAD,
                identity,
                id: None,
                ctx,
                body: None,
                encoding: self.encoding(),
            })
            .await?;
        total(&answer).ok_or_else(|| Error::Decode("no X-Count-Total in the answer".into()))
    }
}

/// The page of a retrieve-many answer: its objects (none when the body is empty), the total
/// (`X-Count-Total`, else how many came) and the next cursor (`X-Next`).
pub(crate) fn page<T: serde::de::DeserializeOwned>(answer: &Answer) -> Result<Page<T>, Error> {
    let objects: Vec<T> = if answer.body.is_empty() {
        Vec::new()
    } else {
        decode(answer)?
    };
    Ok(Page {
        total: total(answer).unwrap_or(objects.len() as u64),
        next: answer.header("x-next").map(str::to_string),
        count_mode: answer
            .header("x-count-mode")
            .and_then(|mode| CountMode::parse(mode).ok())
            .unwrap_or_default(),
        objects,
    })
}

/// The `X-Count-Total` of an answer.
pub(crate) fn total(answer: &Answer) -> Option<u64> {
    answer.header("x-count-total").and_then(|v| v.parse().ok())
}

/// The body of an answer, decoded in its encoding.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(answer: &Answer) -> Result<T, Error> {
    elemental::decode(answer.encoding, &answer.body).map_err(|e| Error::Decode(e.description))
}
