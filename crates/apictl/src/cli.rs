//! The command line, built from the catalog at run time: global options, then one command per
//! identity with `list`, `get`, `create`, `update`, `delete`, `count` and `listen`.

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, Command, value_parser};
use elemental::AttributeType;

use crate::catalog::{Attribute, Catalog, Kind};
use crate::output::Format;

const ABOUT: &str = "Talk to a bahamut API server: every identity of the model gets list, get, \
create, update, delete, count and listen.";

const AFTER_HELP: &str = "Settings come from flags, then APICTL_* environment variables, then \
the config file (--config, default ~/.config/apictl/config.yaml: api, token, namespace, \
tls-ca, tls-cert, tls-key, insecure, specs).

Examples:
  apictl externalnetwork create --name web --entries 10.0.0.0/8
  apictl extnet list --filter 'name == web' -o yaml
  apictl service create -f services.yaml        # one object or a list (bulk)
  apictl namespace listen --recursive";

/// The whole command line.
pub fn command(catalog: &Catalog) -> Command {
    let mut command = Command::new("apictl")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .args(global_args())
        .subcommand(
            Command::new("completions")
                .about("Print a shell completion script")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(value_parser!(clap_complete::Shell)),
                ),
        );
    for kind in &catalog.kinds {
        command = command.subcommand(identity_command(kind));
    }
    command
}

fn global(name: &'static str, env: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .env(env)
        .global(true)
        .help(help)
        .help_heading("Global options")
}

fn global_args() -> Vec<Arg> {
    vec![
        global(
            "api",
            "APICTL_API",
            "API address [default: http://127.0.0.1:8080]",
        )
        .value_name("URL"),
        global("token", "APICTL_TOKEN", "Bearer token")
            .value_name("TOKEN")
            .hide_env_values(true),
        global(
            "namespace",
            "APICTL_NAMESPACE",
            "Namespace of the request [default: /]",
        )
        .short('n')
        .value_name("NAMESPACE"),
        global(
            "tls-ca",
            "APICTL_TLS_CA",
            "Trust the CAs of this PEM file, not the system's",
        )
        .value_name("PEM"),
        global(
            "tls-cert",
            "APICTL_TLS_CERT",
            "Client certificate, for mutual TLS",
        )
        .value_name("PEM"),
        global("tls-key", "APICTL_TLS_KEY", "The client certificate's key").value_name("PEM"),
        global(
            "insecure",
            "APICTL_INSECURE",
            "Accept any server certificate (development only)",
        )
        .action(ArgAction::SetTrue),
        global(
            "encoding",
            "APICTL_ENCODING",
            "Encoding on the wire [default: json]",
        )
        .value_parser(["json", "msgpack"]),
        global("config", "APICTL_CONFIG", "Config file").value_name("YAML"),
        global(
            "specs",
            "APICTL_SPECS",
            "Serve the identities of this regolithe spec set, not gaia's",
        )
        .value_name("DIR"),
        Arg::new("output")
            .long("output")
            .short('o')
            .global(true)
            .value_parser(Format::NAMES)
            .help("Output format [default: table]")
            .help_heading("Global options"),
        Arg::new("columns")
            .long("columns")
            .visible_alias("fields")
            .global(true)
            .value_delimiter(',')
            .value_name("ATTRIBUTES")
            .help("Attributes to show: a table's columns; the only ones in json, yaml, ndjson (reads ask the server for only them)")
            .help_heading("Global options"),
    ]
}

fn identity_command(kind: &Kind) -> Command {
    let name = kind.identity.name;
    let about = if kind.description.is_empty() {
        format!("Manage {name} objects")
    } else {
        kind.description.clone()
    };
    Command::new(name)
        .about(about)
        .visible_aliases(kind.aliases.clone())
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("list")
                .about(format!("List {} objects", kind.identity.category))
                .args(query_args())
                .arg(number("page", "Page number (from 1)"))
                .arg(number("page-size", "Objects per page"))
                .arg(
                    Arg::new("order")
                        .long("order")
                        .action(ArgAction::Append)
                        .value_name("ATTRIBUTE")
                        .help("Order by this attribute (-name for descending); repeatable"),
                ),
        )
        .subcommand(
            Command::new("get").about(format!("Show one {name}")).arg(
                Arg::new("id")
                    .required(true)
                    .value_name("ID")
                    .help("The object's ID"),
            ),
        )
        .subcommand(
            Command::new("create")
                .about(format!(
                    "Create one {name} from flags, or any number from a file"
                ))
                .arg(file_arg())
                .arg(parent_arg())
                .args(attribute_args(kind, true)),
        )
        .subcommand(
            Command::new("update")
                .about(format!("Change attributes of one {name}"))
                .arg(
                    Arg::new("id")
                        .required(true)
                        .value_name("ID")
                        .help("The object's ID"),
                )
                .arg(file_arg())
                .args(attribute_args(kind, false)),
        )
        .subcommand(
            Command::new("delete")
                .about(format!("Delete {name} objects by ID, or those of a file"))
                .arg(
                    Arg::new("ids")
                        .num_args(0..)
                        .value_name("ID")
                        .help("IDs of the objects"),
                )
                .arg(file_arg()),
        )
        .subcommand(
            Command::new("count")
                .about(format!("Count {} objects", kind.identity.category))
                .args(query_args()),
        )
        .subcommand(
            Command::new("listen")
                .about(format!("Print {name} events as they happen"))
                .arg(
                    Arg::new("filter")
                        .long("filter")
                        .value_name("FILTER")
                        .help("Only objects matching this filter (==, !=, matches, exists)"),
                )
                .arg(recursive_arg()),
        )
}

fn number(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name("N")
        .value_parser(value_parser!(u64))
        .help(help)
}

fn recursive_arg() -> Arg {
    Arg::new("recursive")
        .long("recursive")
        .short('r')
        .action(ArgAction::SetTrue)
        .help("Also the namespaces below")
}

fn parent_arg() -> Arg {
    Arg::new("parent")
        .long("parent")
        .value_name("IDENTITY/ID")
        .help("Under this parent object, as in networkaccesspolicy/<ID>")
}

fn query_args() -> Vec<Arg> {
    vec![
        parent_arg(),
        Arg::new("filter")
            .long("filter")
            .value_name("FILTER")
            .help("Only objects matching this filter, as in 'name == web and type == Subnet'"),
        recursive_arg(),
    ]
}

fn file_arg() -> Arg {
    Arg::new("file")
        .long("file")
        .short('f')
        .value_name("FILE")
        .help("Read the object(s) from this YAML or JSON file (- for stdin)")
}

/// One flag per attribute the user may set (creation-only ones only on create).
fn attribute_args(kind: &Kind, create: bool) -> Vec<Arg> {
    kind.attributes
        .iter()
        .filter(|a| !a.server_owned && (create || !a.creation_only))
        .map(attribute_arg)
        .collect()
}

/// The id of an attribute's flag among the command's arguments (apart from the global ones,
/// since a `namespace` attribute and the `--namespace` option are not the same thing).
pub fn attribute_id(name: &str) -> String {
    format!("attribute:{name}")
}

fn attribute_arg(attribute: &Attribute) -> Arg {
    let mut help = attribute.description.clone();
    if let Some(end) = help.find(". ") {
        help.truncate(end + 1);
    }
    let mut arg = Arg::new(attribute_id(&attribute.name))
        .long(attribute.flag.clone())
        .help(help)
        .help_heading("Attributes");
    arg = match attribute.kind {
        AttributeType::List => arg.action(ArgAction::Append).value_name("VALUE"),
        AttributeType::Boolean => arg.value_parser(["true", "false"]).value_name("BOOL"),
        AttributeType::Integer => arg.value_name("INTEGER"),
        AttributeType::Float => arg.value_name("NUMBER"),
        AttributeType::Time => arg.value_name("RFC3339"),
        AttributeType::Object
        | AttributeType::RefMap
        | AttributeType::RefList
        | AttributeType::External
        | AttributeType::Ref => arg.value_name("JSON"),
        AttributeType::String | AttributeType::Enum => arg.value_name("TEXT"),
    };
    if !attribute.choices.is_empty() {
        arg = arg
            .value_parser(PossibleValuesParser::new(attribute.choices.clone()))
            .value_name("CHOICE");
    }
    arg
}
