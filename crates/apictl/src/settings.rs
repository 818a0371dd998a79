//! Where the CLI talks to and how: flags and `APICTL_*` variables (read by clap), then the
//! config file, then defaults.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ArgMatches;
use elemental::EncodingType;
use maniphttp::{Client, TlsSettings};

use crate::output::Format;

/// The default API address.
pub const DEFAULT_API: &str = "http://127.0.0.1:8080";

/// The settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API address.
    pub api: String,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// The request's namespace.
    pub namespace: String,
    /// TLS settings.
    pub tls: TlsSettings,
    /// The encoding on the wire.
    pub encoding: EncodingType,
    /// The output format.
    pub format: Format,
    /// Asked-for columns (empty: the identity's default ones).
    pub columns: Vec<String>,
}

/// The keys of the config file, as written there.
type ConfigFile = BTreeMap<String, serde_norway::Value>;

fn read_config(path: &Path, explicit: bool) -> anyhow::Result<ConfigFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            serde_norway::from_str(&text).with_context(|| format!("config file {}", path.display()))
        }
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::new()),
        Err(e) => Err(e).with_context(|| format!("config file {}", path.display())),
    }
}

fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("apictl").join("config.yaml"))
}

/// The config file named by `--config` / `APICTL_CONFIG`, or the default one if it exists.
fn config(explicit: Option<&str>) -> anyhow::Result<ConfigFile> {
    match explicit {
        Some(path) => read_config(Path::new(path), true),
        None => match default_config_path() {
            Some(path) => read_config(&path, false),
            None => Ok(ConfigFile::new()),
        },
    }
}

fn config_text(file: &ConfigFile, key: &str) -> anyhow::Result<Option<String>> {
    match file.get(key) {
        None | Some(serde_norway::Value::Null) => Ok(None),
        Some(serde_norway::Value::String(s)) => Ok(Some(s.clone())),
        Some(serde_norway::Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => bail!("config file: '{key}' must be a string, not {other:?}"),
    }
}

/// The spec folder asked for before the command line can be built (it decides the commands):
/// `--specs DIR` or `--specs=DIR`, else `APICTL_SPECS`, else the config file's `specs`.
pub fn specs_folder(args: &[OsString]) -> anyhow::Result<Option<PathBuf>> {
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let flag = |name: &str| {
        text.iter().enumerate().find_map(|(i, arg)| {
            arg.strip_prefix(&format!("--{name}="))
                .map(str::to_string)
                .or_else(|| {
                    (arg == &format!("--{name}"))
                        .then(|| text.get(i + 1).cloned())
                        .flatten()
                })
        })
    };
    if let Some(dir) = flag("specs").or_else(|| std::env::var("APICTL_SPECS").ok()) {
        return Ok(Some(PathBuf::from(dir)));
    }
    let explicit = flag("config").or_else(|| std::env::var("APICTL_CONFIG").ok());
    Ok(config_text(&config(explicit.as_deref())?, "specs")?.map(PathBuf::from))
}

impl Settings {
    /// The settings of the parsed command line.
    pub fn new(matches: &ArgMatches) -> anyhow::Result<Self> {
        let file = config(matches.get_one::<String>("config").map(String::as_str))?;
        let text = |key: &str| -> anyhow::Result<Option<String>> {
            match matches.get_one::<String>(key) {
                Some(value) => Ok(Some(value.clone())),
                None => config_text(&file, key),
            }
        };
        let insecure = matches.get_flag("insecure")
            || config_text(&file, "insecure")?.is_some_and(|v| v == "true");
        let client_certificate = match (text("tls-cert")?, text("tls-key")?) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together"),
        };
        let encoding = match text("encoding")?.as_deref() {
            None | Some("json") => EncodingType::Json,
            Some("msgpack") => EncodingType::Msgpack,
            Some(other) => bail!("unknown encoding '{other}': json or msgpack"),
        };
        Ok(Self {
            api: text("api")?.unwrap_or_else(|| DEFAULT_API.to_string()),
            token: text("token")?,
            namespace: text("namespace")?.unwrap_or_else(|| "/".to_string()),
            tls: TlsSettings {
                ca_files: text("tls-ca")?.map(PathBuf::from).into_iter().collect(),
                client_certificate,
                insecure,
            },
            encoding,
            format: matches
                .get_one::<String>("output")
                .and_then(|name| Format::from_name(name))
                .unwrap_or(Format::Table),
            columns: matches
                .get_many::<String>("columns")
                .map(|c| c.cloned().collect())
                .unwrap_or_default(),
        })
    }

    /// The HTTP client of these settings.
    pub fn client(&self) -> anyhow::Result<Client> {
        let mut builder = Client::builder(&self.api)
            .with_tls(self.tls.clone())
            .with_encoding(self.encoding);
        if let Some(token) = &self.token {
            builder = builder.with_token(token);
        }
        Ok(builder.build()?)
    }
}
