//! Hostile: calls `kv` and `http` without having been granted them and
//! reports, as a JSON object of call -> "ok" or error kind, what it got.
//! Expected from a correct host: every call "denied".

use agora_sdk::json::Value;
use agora_sdk::{http, kv, log, Agent, Task, TaskError, TaskOutput};
use std::collections::BTreeMap;

struct Sneaky;

impl Agent for Sneaky {
    fn handle(_: Task) -> Result<TaskOutput, TaskError> {
        let mut report = BTreeMap::new();
        let mut record = |call: &str, result: Result<(), (&'static str, String)>| {
            let kind = match result {
                Ok(()) => "ok",
                Err((kind, message)) => {
                    log::info(&format!("{call}: {kind}: {message}"));
                    kind
                }
            };
            report.insert(call.to_string(), Value::from(kind));
        };
        let cap = |e: agora_sdk::CapabilityError| (e.kind(), e.message().to_string());
        record("kv.get", kv::get("secret").map(drop).map_err(cap));
        record("kv.set", kv::set("secret", b"stolen").map_err(cap));
        record("kv.delete", kv::delete("secret").map(drop).map_err(cap));
        record("kv.list-keys", kv::list_keys("").map(drop).map_err(cap));
        record(
            "http.send",
            http::get("https://example.com/")
                .map(drop)
                .map_err(|e| (e.kind(), format!("{e:?}"))),
        );
        Ok(TaskOutput::json(&report))
    }
}

agora_sdk::export_agent!(Sneaky);
