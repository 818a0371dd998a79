//! What each command does: build the request from the flags or a file, check it locally, send
//! it, print the answer.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::ArgMatches;
use elemental::filter::Filter;
use elemental::{EventType, PushConfig};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use maniphttp::{Client, Status};
use manipulate::{Document, Manipulator, StoreContext};
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Kind};
use crate::output;
use crate::settings::Settings;
use crate::values::{self, Check};

/// Requests in flight at once in a bulk create or delete.
const BULK_CONCURRENCY: usize = 8;

/// Runs the command of `operation` on `kind`.
pub async fn run(
    catalog: &Catalog,
    kind: &Kind,
    operation: &str,
    matches: &ArgMatches,
    settings: &Settings,
) -> anyhow::Result<()> {
    let client = settings.client()?;
    let run = Run {
        catalog,
        kind,
        matches,
        settings,
        client,
    };
    match operation {
        "list" => run.list().await,
        "get" => run.get().await,
        "create" => run.create().await,
        "update" => run.update().await,
        "delete" => run.delete().await,
        "count" => run.count().await,
        "listen" => run.listen().await,
        other => bail!("unknown command '{other}'"),
    }
}

struct Run<'a> {
    catalog: &'a Catalog,
    kind: &'a Kind,
    matches: &'a ArgMatches,
    settings: &'a Settings,
    client: Client,
}

impl Run<'_> {
    fn context(&self) -> anyhow::Result<StoreContext> {
        let mut ctx = StoreContext::in_namespace(&self.settings.namespace);
        let arg = |name: &str| self.matches.try_get_one::<String>(name).ok().flatten();
        if let Some(filter) = arg("filter") {
            ctx.filter =
                Some(Filter::parse(filter).with_context(|| format!("invalid filter '{filter}'"))?);
        }
        if let Some(parent) = arg("parent") {
            let (identity, id) = parent
                .split_once('/')
                .filter(|(_, id)| !id.is_empty())
                .with_context(|| format!("--parent '{parent}': give IDENTITY/ID"))?;
            ctx.parent = Some((self.catalog.kind(identity)?.identity, id.to_string()));
        }
        ctx.recursive = self.matches.try_get_one::<bool>("recursive").ok().flatten() == Some(&true);
        let number = |name: &str| {
            self.matches
                .try_get_one::<u64>(name)
                .ok()
                .flatten()
                .copied()
        };
        if let Some(page) = number("page") {
            ctx.page = page;
            ctx.page_size = number("page-size").unwrap_or(100);
        } else if let Some(size) = number("page-size") {
            (ctx.page, ctx.page_size) = (1, size);
        }
        // Reads ask for the attributes shown (X-Fields); writes answer the whole object.
        ctx.fields = self.settings.columns.clone();
        if let Ok(Some(order)) = self.matches.try_get_many::<String>("order") {
            ctx.order = order.cloned().collect();
        }
        Ok(ctx)
    }

    fn print(&self, objects: &[Document], single: bool) -> anyhow::Result<()> {
        let projected = !self.settings.columns.is_empty();
        let columns = if projected {
            self.settings.columns.clone()
        } else {
            self.kind.default_columns()
        };
        let mut out = std::io::stdout().lock();
        output::print(
            &mut out,
            self.settings.format,
            objects,
            &columns,
            projected,
            single,
        )?;
        Ok(out.flush()?)
    }

    async fn list(&self) -> anyhow::Result<()> {
        let ctx = self.context()?;
        let page = Manipulator::retrieve_many(&self.client, self.kind.identity, &ctx).await?;
        self.print(&page.objects, false)
    }

    async fn get(&self) -> anyhow::Result<()> {
        let id = self.id()?;
        let ctx = self.context()?;
        let object = Manipulator::retrieve(&self.client, self.kind.identity, id, &ctx).await?;
        self.print(&[object], true)
    }

    async fn count(&self) -> anyhow::Result<()> {
        let ctx = self.context()?;
        let count = Manipulator::count(&self.client, self.kind.identity, &ctx).await?;
        Ok(writeln!(std::io::stdout(), "{count}")?)
    }

    fn id(&self) -> anyhow::Result<&String> {
        self.matches
            .get_one::<String>("id")
            .context("an ID is needed")
    }

    /// The object of the attribute flags given.
    fn flags_object(&self) -> anyhow::Result<Document> {
        let mut object = Map::new();
        for attribute in &self.kind.attributes {
            let id = crate::cli::attribute_id(&attribute.name);
            let Ok(Some(values)) = self.matches.try_get_many::<String>(&id) else {
                continue;
            };
            let values: Vec<Value> = values
                .map(|v| values::parse_flag(attribute, v))
                .collect::<anyhow::Result<_>>()?;
            let value = match attribute.kind {
                elemental::AttributeType::List => Value::Array(values),
                _ => values.into_iter().next().unwrap_or(Value::Null),
            };
            object.insert(attribute.name.clone(), value);
        }
        Ok(object)
    }

    /// The objects of `--file` (one object or a list), with the flags' attributes on each.
    fn objects(&self) -> anyhow::Result<Vec<Document>> {
        let flags = self.flags_object()?;
        let Some(file) = self.matches.get_one::<String>("file") else {
            return Ok(vec![flags]);
        };
        let mut objects = read_objects(file)?;
        for object in &mut objects {
            object.extend(flags.clone());
        }
        Ok(objects)
    }

    async fn create(&self) -> anyhow::Result<()> {
        let objects = self.objects()?;
        for (i, object) in objects.iter().enumerate() {
            let checked = values::check(self.catalog, self.kind, object, Check::Create);
            if objects.len() > 1 {
                checked.with_context(|| format!("object {} of {}", i + 1, objects.len()))?;
            } else {
                checked?;
            }
        }
        let mut ctx = self.context()?;
        ctx.fields.clear();
        if let [object] = objects.as_slice() {
            let created = self.create_one(object, &ctx).await?;
            return self.print(&[created], true);
        }
        self.bulk("created", objects, |object| {
            let ctx = ctx.clone();
            async move { self.create_one(&object, &ctx).await.map(|_| ()) }
        })
        .await
    }

    async fn create_one(&self, object: &Document, ctx: &StoreContext) -> anyhow::Result<Document> {
        let created =
            Manipulator::create(&self.client, self.kind.identity, "", object, ctx).await?;
        match created {
            manipulate::Created::Answered(object) | manipulate::Created::Replayed(object) => {
                Ok(object)
            }
            manipulate::Created::Stored => Ok(object.clone()),
        }
    }

    async fn update(&self) -> anyhow::Result<()> {
        let id = self.id()?;
        let objects = self.objects()?;
        let [patch] = objects.as_slice() else {
            bail!("update takes one object, the file holds {}", objects.len());
        };
        let mut patch = patch.clone();
        patch.remove("ID");
        if patch.is_empty() {
            bail!("nothing to change: give attributes as flags or in a file");
        }
        values::check(self.catalog, self.kind, &patch, Check::Update)?;
        let mut ctx = self.context()?;
        ctx.fields.clear();
        let updated = self
            .client
            .patch_document(self.kind.identity, id, &patch, &ctx)
            .await?;
        self.print(&[updated], true)
    }

    async fn delete(&self) -> anyhow::Result<()> {
        let mut ids: Vec<String> = self
            .matches
            .get_many::<String>("ids")
            .map(|ids| ids.cloned().collect())
            .unwrap_or_default();
        if let Some(file) = self.matches.get_one::<String>("file") {
            for object in read_objects(file)? {
                match object.get("ID").and_then(Value::as_str) {
                    Some(id) => ids.push(id.to_string()),
                    None => bail!("{file}: an object without ID"),
                }
            }
        }
        if ids.is_empty() {
            bail!("give the IDs to delete, or a file of objects with their ID (-f)");
        }
        let mut ctx = self.context()?;
        ctx.fields.clear();
        if let [id] = ids.as_slice() {
            let deleted = Manipulator::delete(&self.client, self.kind.identity, id, &ctx).await?;
            return self.print(&[deleted], true);
        }
        self.bulk("deleted", ids, |id| {
            let ctx = ctx.clone();
            async move {
                Manipulator::delete(&self.client, self.kind.identity, &id, &ctx)
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
        })
        .await
    }

    /// Runs `each` on every item, a few at a time, with a progress bar on a terminal, then
    /// prints a summary; an error when any failed.
    async fn bulk<T, F, Fut>(&self, done: &str, items: Vec<T>, each: F) -> anyhow::Result<()>
    where
        F: Fn(T) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        let total = items.len();
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let started = Instant::now();
        let mut failures = Vec::new();
        let mut results = futures_util::stream::iter(items.into_iter().map(each))
            .buffer_unordered(BULK_CONCURRENCY);
        let mut index = 0;
        while let Some(result) = results.next().await {
            index += 1;
            if let Err(e) = result {
                failures.push(format!("#{index}: {e}"));
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let elapsed = started.elapsed();
        let succeeded = total - failures.len();
        writeln!(
            std::io::stdout(),
            "{done} {succeeded} of {total} {} in {:.2} s ({:.0}/s), {} failed",
            self.kind.identity.name,
            elapsed.as_secs_f64(),
            succeeded as f64 / elapsed.as_secs_f64().max(1e-6),
            failures.len()
        )?;
        if failures.is_empty() {
            return Ok(());
        }
        for failure in failures.iter().take(20) {
            eprintln!("  {failure}");
        }
        bail!("{} of {total} failed", failures.len())
    }

    async fn listen(&self) -> anyhow::Result<()> {
        let mut config = PushConfig::default();
        let name = self.kind.identity.name.to_string();
        config.identities.insert(name.clone(), Vec::new());
        if let Some(filter) = self.matches.get_one::<String>("filter") {
            config.identity_filters.insert(name, filter.clone());
        }
        let recursive = self.matches.get_flag("recursive");
        let mut subscriber = self
            .client
            .subscriber()
            .with_namespace(&self.settings.namespace)
            .with_recursive(recursive)
            .with_config(config)
            .start();
        let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let (events, statuses) = subscriber.streams();
        loop {
            tokio::select! {
                _ = &mut interrupted => return Ok(()),
                Some(event) = events.next() => self.print_event(&event, colours)?,
                Some(status) = statuses.next() => match status {
                    Status::Closed { reason } => bail!("{reason}"),
                    Status::ConfigRefused { description } => bail!("{description}"),
                    other => eprintln!("{}", describe(&other)),
                },
            }
        }
    }

    fn print_event(&self, event: &elemental::Event, colours: bool) -> anyhow::Result<()> {
        let entity: Document = event
            .decode_entity()
            .map_err(|e| anyhow::anyhow!(e.description))?;
        let mut out = std::io::stdout().lock();
        if self.settings.format != output::Format::Table {
            let line = serde_json::json!({
                "type": event.event_type.as_str(),
                "identity": event.identity,
                "sequence": event.sequence,
                "entity": entity,
            });
            writeln!(out, "{line}")?;
            return Ok(out.flush()?);
        }
        let columns = self.kind.default_columns();
        let cells: Vec<String> = columns
            .iter()
            .map(|c| output::cell(entity.get(c)))
            .collect();
        let kind = format!("{:<6}", event.event_type.as_str());
        let kind = match (colours, event.event_type) {
            (false, _) => kind,
            (true, EventType::Create) => format!("\x1b[32m{kind}\x1b[0m"),
            (true, EventType::Update) => format!("\x1b[33m{kind}\x1b[0m"),
            (true, EventType::Delete) => format!("\x1b[31m{kind}\x1b[0m"),
            (true, EventType::Error) => format!("\x1b[35m{kind}\x1b[0m"),
        };
        writeln!(out, "{kind} {}", cells.join("  "))?;
        Ok(out.flush()?)
    }
}

fn describe(status: &Status) -> String {
    match status {
        Status::Connected => "connected".into(),
        Status::Disconnected { code, reason } => format!("disconnected ({code} {reason})"),
        Status::Reconnecting { attempt, wait } => {
            format!(
                "reconnecting in {} ms (attempt {attempt})",
                wait.as_millis()
            )
        }
        Status::ResyncRequired { description, .. } => format!("events were missed: {description}"),
        other => format!("{other:?}"),
    }
}

/// The objects of a YAML or JSON file (`-` for stdin): one object or a list of them.
fn read_objects(file: &str) -> anyhow::Result<Vec<Document>> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(Path::new(file)).with_context(|| format!("cannot read {file}"))?
    };
    let value: Value =
        serde_norway::from_str(&text).with_context(|| format!("{file}: not YAML or JSON"))?;
    match value {
        Value::Object(object) => Ok(vec![object]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(object) => Ok(object),
                _ => bail!("{file}: item {} is not an object", i + 1),
            })
            .collect(),
        _ => bail!("{file}: neither an object nor a list of objects"),
    }
}
