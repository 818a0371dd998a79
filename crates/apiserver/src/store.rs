//! The `--store` flag: which backend stores the objects.

use std::str::FromStr;
use std::sync::Arc;

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

/// Opens the store.
pub async fn open_store(spec: &StoreSpec) -> Result<Arc<dyn Manipulator>, String> {
    match spec {
        StoreSpec::Memory => Ok(Arc::new(MemoryManipulator::new())),
        StoreSpec::Sqlite(path) => Err(format!(
            "sqlite:{path}: the SQLite backend is not available in this build yet; use --store memory"
        )),
        StoreSpec::Postgres(url) => Err(format!(
            "postgres:{url}: the PostgreSQL backend is not available in this build yet; use --store memory"
        )),
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
