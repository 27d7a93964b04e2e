//! Hostile: tries to reach outside the sandbox (files, directories,
//! environment, sockets) and reports what it got as JSON. Expected from a
//! correct host: an error for every attempt and an empty environment.

use agora_sdk::json::{json, Value};
use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use std::fs;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

struct Escape;

impl Agent for Escape {
    fn handle(_: Task) -> Result<TaskOutput, TaskError> {
        let read = |path: &str| outcome(fs::read(path).map(|b| json!({ "bytes": b.len() })));
        let list = |path: &str| {
            outcome(fs::read_dir(path).map(|entries| {
                let names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                json!(names)
            }))
        };
        let env: Vec<String> = std::env::vars_os()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        let report = json!({
            "read /etc/passwd": read("/etc/passwd"),
            "read /proc/self/environ": read("/proc/self/environ"),
            "read ./Cargo.toml": read("Cargo.toml"),
            "list /": list("/"),
            "list .": list("."),
            "write /tmp/agora-escape": outcome(fs::write("/tmp/agora-escape", b"x").map(|()| json!("written"))),
            "current dir": outcome(std::env::current_dir().map(|d| json!(d.to_string_lossy()))),
            "env vars": env,
            "args": std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "tcp 127.0.0.1:22": outcome(
                TcpStream::connect_timeout(&"127.0.0.1:22".parse().unwrap(), Duration::from_secs(1))
                    .map(|s| json!(format!("connected to {:?}", s.peer_addr()))),
            ),
            "udp bind": outcome(UdpSocket::bind("0.0.0.0:0").and_then(|s| {
                s.send_to(b"ping", "127.0.0.1:53").map(|n| json!(format!("sent {n} bytes")))
            })),
        });
        Ok(TaskOutput::json(&report))
    }
}

agora_sdk::export_agent!(Escape);

/// `{"ok": value}` or `{"error": message}`.
fn outcome(result: std::io::Result<Value>) -> Value {
    match result {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}
