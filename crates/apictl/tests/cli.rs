//! The apictl binary against a real apiserver (SQLite, port 0): create from flags and from a
//! YAML file, list as a table, JSON, YAML and NDJSON with exact output, filter, count, update,
//! delete, local validation errors, a bulk create and delete of 1,000 objects, listen, and the
//! progress bar and colours on a terminal (through `script`) but not in a pipe.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use testkit::env::TempDir;

struct Api {
    running: testkit::Running,
    dir: TempDir,
}

impl Api {
    async fn start() -> Self {
        let dir = TempDir::new("apictl");
        let spec = apiserver::StoreSpec::Sqlite(dir.path().join("api.db").display().to_string());
        let store = apiserver::open_store(&spec, None).await.expect("store");
        let running = testkit::start(|o| apiserver::server(o, store)).await;
        Self { running, dir }
    }

    fn url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    fn command(&self, args: &[&str]) -> Command {
        command(&self.url(), self.dir.path(), args)
    }

    /// Runs apictl, off the runtime's threads.
    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("apictl runs"))
            .await
            .unwrap()
    }

    /// Runs apictl and returns its standard output; panics when it fails.
    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "apictl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// apictl with only `APICTL_API` set, and a home without a config file.
fn command(api: &str, home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_apictl"));
    command
        .args(args)
        .env("APICTL_API", api)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("APICTL_") && name != "APICTL_API" {
            command.env_remove(name);
        }
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_filter_count_update_delete() {
    let api = Api::start().await;
    let created = api
        .ok(&[
            "externalnetwork",
            "create",
            "--name",
            "web",
            "--entries",
            "10.0.0.0/8",
            "--entries",
            "::/0",
            "-o",
            "json",
            "--columns",
            "name,entries,namespace",
        ])
        .await;
    assert_eq!(
        created,
        "{\n  \"name\": \"web\",\n  \"entries\": [\n    \"10.0.0.0/8\",\n    \"::/0\"\n  ],\n  \"namespace\": \"/\"\n}\n"
    );
    let file = api.path("db.yaml");
    std::fs::write(&file, "name: db\nentries:\n- 10.1.0.0/16\ntype: ENI\n").unwrap();
    let created = api
        .ok(&[
            "extnet",
            "create",
            "-f",
            &file,
            "-o",
            "yaml",
            "--columns",
            "name,type",
        ])
        .await;
    assert_eq!(created, "name: db\ntype: ENI\n");

    let sorted = [
        "extnet",
        "list",
        "--order",
        "name",
        "--columns",
        "name,type,entries",
    ];
    assert_eq!(
        api.ok(&sorted).await,
        "┌──────┬────────┬──────────────────┐\n\
         │ name ┆ type   ┆ entries          │\n\
         ╞══════╪════════╪══════════════════╡\n\
         │ db   ┆ ENI    ┆ 10.1.0.0/16      │\n\
         │ web  ┆ Subnet ┆ 10.0.0.0/8, ::/0 │\n\
         └──────┴────────┴──────────────────┘\n"
    );
    let json = api.ok(&[&sorted[..], &["-o", "json"]].concat()).await;
    let expected = r#"[
  {
    "name": "db",
    "type": "ENI",
    "entries": [
      "10.1.0.0/16"
    ]
  },
  {
    "name": "web",
    "type": "Subnet",
    "entries": [
      "10.0.0.0/8",
      "::/0"
    ]
  }
]
"#;
    assert_eq!(json, expected);
    let yaml = api.ok(&[&sorted[..], &["-o", "yaml"]].concat()).await;
    assert_eq!(
        yaml,
        "- name: db\n  type: ENI\n  entries:\n  - 10.1.0.0/16\n- name: web\n  type: Subnet\n  entries:\n  - 10.0.0.0/8\n  - ::/0\n"
    );

    let filtered = [
        "extnet",
        "list",
        "--filter",
        "type == ENI",
        "-o",
        "ndjson",
        "--columns",
        "ID,name",
    ];
    let line = api.ok(&filtered).await;
    let object: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(object["name"], "db");
    let id = object["ID"].as_str().unwrap().to_string();
    assert_eq!(line, format!("{{\"ID\":\"{id}\",\"name\":\"db\"}}\n"));

    assert_eq!(api.ok(&["extnet", "count"]).await, "2\n");
    assert_eq!(
        api.ok(&["extnet", "count", "--filter", "name == web"])
            .await,
        "1\n"
    );

    let updated = api
        .ok(&[
            "extnet",
            "update",
            &id,
            "--description",
            "databases",
            "-o",
            "ndjson",
            "--columns",
            "name,description",
        ])
        .await;
    assert_eq!(updated, "{\"name\":\"db\",\"description\":\"databases\"}\n");

    let deleted = api
        .ok(&["extnet", "delete", &id, "-o", "ndjson", "--columns", "name"])
        .await;
    assert_eq!(deleted, "{\"name\":\"db\"}\n");
    assert_eq!(api.ok(&["extnet", "count"]).await, "1\n");

    let missing = api.run(&["extnet", "get", &id]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        format!("error: Object with ID '{id}' not found\n")
    );
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_refused_before_any_request() {
    // Nothing listens here: a request would fail with a connection error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let home = TempDir::new("apictl_home");
    let run = |args: &[&str]| {
        command(&format!("http://{closed}"), home.path(), args)
            .output()
            .unwrap()
    };

    let bad_enum = run(&["extnet", "create", "--name", "x", "--type", "Bogus"]);
    assert_eq!(bad_enum.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_enum.stderr);
    assert!(
        stderr.starts_with("error: invalid value 'Bogus' for '--type <CHOICE>'\n  [possible values: ENI, RDSCluster, RDSInstance, SecurityGroup, Subnet]"),
        "{stderr}"
    );

    let missing = run(&["extnet", "create", "--entries", "10.0.0.0/8"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "error: invalid externalnetwork:\n  name: required (--name)\n"
    );

    let bad_number = run(&["service", "create", "--name", "s", "--exposed-port", "http"]);
    assert_eq!(
        String::from_utf8_lossy(&bad_number.stderr),
        "error: --exposed-port: 'http' is not an integer\n"
    );

    let bad_filter = run(&["extnet", "list", "--filter", "name =="]);
    assert_eq!(bad_filter.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad_filter.stderr)
            .starts_with("error: invalid filter 'name ==': ")
    );

    // And the server is really not there.
    let unreachable = run(&["extnet", "count"]);
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot communicate"));
}

fn write_objects(path: &str, count: usize) {
    let objects: Vec<serde_json::Value> = (0..count)
        .map(|i| serde_json::json!({"name": format!("n{i}"), "entries": ["10.0.0.0/8"]}))
        .collect();
    std::fs::write(path, serde_json::to_string(&objects).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_create_and_delete_of_a_thousand_objects() {
    let api = Api::start().await;
    let file = api.path("bulk.json");
    write_objects(&file, 1000);
    let summary = api.ok(&["extnet", "create", "-f", &file]).await;
    assert!(
        summary.starts_with("created 1000 of 1000 externalnetwork in "),
        "{summary}"
    );
    assert!(summary.ends_with(", 0 failed\n"), "{summary}");
    println!("bulk create: {summary}");
    assert_eq!(api.ok(&["extnet", "count"]).await, "1000\n");

    let listed = api
        .ok(&["extnet", "list", "-o", "json", "--columns", "ID"])
        .await;
    let ids = api.path("ids.json");
    std::fs::write(&ids, listed).unwrap();
    let summary = api.ok(&["extnet", "delete", "-f", &ids]).await;
    assert!(
        summary.starts_with("deleted 1000 of 1000 externalnetwork in "),
        "{summary}"
    );
    assert_eq!(api.ok(&["extnet", "count"]).await, "0\n");
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_prints_events_as_they_happen() {
    let api = Api::start().await;
    let mut child = api
        .command(&["extnet", "listen", "-o", "ndjson"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let connected = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr)
            .lines()
            .next()
            .and_then(Result::ok)
    });
    let connected = tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connected.as_deref(), Some("connected"));
    api.ok(&["ns", "create", "--name", "other"]).await; // Not an externalnetwork: not printed.
    api.ok(&[
        "extnet",
        "create",
        "--name",
        "live",
        "--entries",
        "10.0.0.0/8",
    ])
    .await;
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .next()
            .and_then(Result::ok)
    });
    let line = tokio::time::timeout(Duration::from_secs(10), line)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["identity"].as_str()),
        (Some("create"), Some("externalnetwork"))
    );
    assert_eq!(event["entity"]["name"], "live");
    child.kill().unwrap();
    let _ = child.wait();
    api.running.stop().await.unwrap();
}

/// Starts `apictl ARGS` on a pseudo-terminal (util-linux `script`), for at most `seconds`, with
/// the environment of [`command`].
fn on_terminal(api: &Api, args: &[&str], seconds: u32) -> std::process::Child {
    let line = std::iter::once(env!("CARGO_BIN_EXE_apictl").to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let command = command(&api.url(), api.dir.path(), &[]);
    let mut script = Command::new("script");
    script
        .args([
            "-q",
            "-e",
            "-c",
            &format!("timeout {seconds} {line}"),
            "/dev/null",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    script.spawn().expect("script (util-linux) runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_colours_on_a_terminal_only() {
    let api = Api::start().await;
    let file = api.path("bulk.json");
    write_objects(&file, 1000);

    let terminal = on_terminal(&api, &["extnet", "create", "-f", &file], 60);
    let output = tokio::task::spawn_blocking(move || terminal.wait_with_output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("created 1000 of 1000"), "{text}");
    assert!(
        text.contains('█') && text.contains("/1000"),
        "no progress bar on a terminal: {text}"
    );

    let piped = api.run(&["extnet", "create", "-f", &file]).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&piped.stdout),
        String::from_utf8_lossy(&piped.stderr),
    );
    assert!(stdout.starts_with("created 1000 of 1000"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(stderr, "", "no progress bar in a pipe");

    let listening = on_terminal(&api, &["extnet", "listen"], 3);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    api.ok(&[
        "extnet",
        "create",
        "--name",
        "coloured",
        "--entries",
        "10.0.0.0/8",
    ])
    .await;
    let output = tokio::task::spawn_blocking(move || listening.wait_with_output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("\x1b[32mcreate"),
        "no colour on a terminal: {text:?}"
    );

    let mut piped = api
        .command(&["extnet", "listen"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    api.ok(&[
        "extnet",
        "create",
        "--name",
        "plain",
        "--entries",
        "10.0.0.0/8",
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    piped.kill().unwrap();
    let output = tokio::task::spawn_blocking(move || piped.wait_with_output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("create "), "{text:?}");
    assert!(text.contains("plain") && !text.contains('\x1b'), "{text:?}");
    api.running.stop().await.unwrap();
}

#[test]
fn the_commands_of_a_spec_set_loaded_at_run_time() {
    let home = TempDir::new("apictl_specs");
    let specs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/todo/specs");
    let run = |args: &[&str]| {
        command(
            "http://127.0.0.1:1",
            home.path(),
            &[&["--specs", specs], args].concat(),
        )
        .output()
        .unwrap()
    };
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(commands, ["completions", "list", "task", "user", "help"]);
    let bad = run(&["task", "create", "--name", "t", "--status", "LATER"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("[possible values: DONE, PROGRESS, TODO]"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let missing = command(
        "http://127.0.0.1:1",
        home.path(),
        &["--specs", "/nonexistent", "task", "list"],
    )
    .output()
    .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "error: the specs in /nonexistent have problems:\n/nonexistent: cannot read the spec directory: \
         No such file or directory (os error 2)\n"
    );
}
