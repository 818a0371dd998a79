//! The `--store` flag: which backend stores the objects.

use std::str::FromStr;
use std::sync::Arc;

use manipsql::{PostgresOptions, SqliteOptions};
use manipulate::{Manipulator, MemoryManipulator};

/// A storage backend as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory`: nothing survives a restart.
    Memory,
    /// `sqlite:PATH`: one embedded database file.
    Sqlite(String),
    /// `postgres:URL` (or a `postgres://` URL).
    Postgres(String),
}

impl FromStr for StoreSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        if let Some(path) = s.strip_prefix("sqlite:") {
            return if path.is_empty() {
                Err("sqlite: needs a file path, as in sqlite:./apiserver.db".into())
            } else {
                Ok(Self::Sqlite(path.to_string()))
            };
        }
        if let Some(url) = s.strip_prefix("postgres:").filter(|u| !u.starts_with("//")) {
            return Ok(Self::Postgres(url.to_string()));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_string()));
        }
        Err(format!(
            "unknown store '{s}': use memory, sqlite:PATH or postgres:URL"
        ))
    }
}

impl StoreSpec {
    /// The backend's name, as the storage metrics label it: `memory`, `sqlite`, `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The store for logs: the SQLite path, or `postgres` without the URL (it may hold a
    /// password).
    pub fn describe(&self) -> String {
        match self {
            Self::Memory => "memory".to_string(),
            Self::Sqlite(path) => format!("sqlite:{path}"),
            Self::Postgres(_) => "postgres".to_string(),
        }
    }
}

/// Opens the store, creating or migrating its tables for the gaia model. With PostgreSQL,
/// `postgres_schema` keeps the tables in that schema (created if missing).
pub async fn open_store(
    spec: &StoreSpec,
    postgres_schema: Option<&str>,
) -> Result<Arc<dyn Manipulator>, String> {
    let manager = gaia::model::manager();
    match spec {
        StoreSpec::Memory => Ok(Arc::new(MemoryManipulator::new())),
        StoreSpec::Sqlite(path) => manipsql::open_sqlite(SqliteOptions::new(path), manager)
            .await
            .map(|store| Arc::new(store) as Arc<dyn Manipulator>)
            .map_err(|e| format!("sqlite:{path}: {e}")),
        StoreSpec::Postgres(url) => {
            let mut options = PostgresOptions::new(url);
            options.schema = postgres_schema.map(str::to_string);
            manipsql::open_postgres(options, manager)
                .await
                .map(|store| Arc::new(store) as Arc<dyn Manipulator>)
                .map_err(|e| format!("postgres: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_store_flags() {
        assert_eq!("memory".parse(), Ok(StoreSpec::Memory));
        assert_eq!(
            "sqlite:./a.db".parse(),
            Ok(StoreSpec::Sqlite("./a.db".into()))
        );
        assert_eq!(
            "postgres://u@h/db".parse(),
            Ok(StoreSpec::Postgres("postgres://u@h/db".into()))
        );
        assert!("sqlite:".parse::<StoreSpec>().is_err());
        assert_eq!(
            "mongo".parse::<StoreSpec>(),
            Err("unknown store 'mongo': use memory, sqlite:PATH or postgres:URL".into())
        );
    }
}
