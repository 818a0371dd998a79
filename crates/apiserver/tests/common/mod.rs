//! The apiserver binary as a child process on 127.0.0.1 port 0, and requests to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use testkit::RawResponse;

/// A running apiserver process.
pub struct Process {
    child: Child,
    /// Where its ReST server listens.
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `apiserver --store STORE` on port 0 and waits until it listens.
    pub fn start(store: &str) -> Self {
        Self::start_with(store, &[])
    }

    /// Starts `apiserver --store STORE ARGS...` on port 0 and waits until it listens.
    pub fn start_with(store: &str, args: &[&str]) -> Self {
        Self::start_with_env(store, args, &[])
    }

    /// Starts `apiserver --store STORE ARGS...` on port 0 with these environment variables set,
    /// and waits until it listens.
    pub fn start_with_env(store: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apiserver"))
            .args(["--listen", "127.0.0.1:0", "--health", "127.0.0.1:0"])
            .args(["--store", store, "--log-level", "info"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the apiserver binary");
        let stdout = child.stdout.take().expect("stdout");
        let (found, address) = mpsc::channel();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let kept = logs.clone();
        // Keeps reading the logs, so that the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("ReST server listening") {
                    // Text logs (`address=...`) or JSON logs (`"address":"..."`).
                    let text = line.split("address=").nth(1);
                    let json = line
                        .split("\"address\":\"")
                        .nth(1)
                        .and_then(|rest| rest.split('"').next());
                    if let Some(addr) = json.or(text) {
                        let _ = found.send(addr.trim().to_string());
                    }
                }
                if let Ok(mut logs) = kept.lock() {
                    logs.push(line);
                }
            }
        });
        let addr = address
            .recv_timeout(Duration::from_secs(30))
            .expect("the apiserver logs its address")
            .parse()
            .expect("a socket address");
        Self { child, addr, logs }
    }

    /// The lines it has written to stdout so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "apiserver exited with {exit}");
    }

    /// Kills it with SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `field` of every object of a list response, sorted.
pub fn fields(response: &RawResponse, field: &str) -> Vec<String> {
    let mut out: Vec<String> = testkit::json(response)
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", response.text()))
        .iter()
        .map(|o| o[field].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}
