//! The example components do what guests/README.md says they do.

use super::support::{invocation, plain, prepare, shared, task};
use crate::{
    ExecError, Grants, HandlerAction, IncomingMessage, Invocation, Kind, Limits, MemoryKv, PolicyDecision,
    ProposedAction,
};
use std::sync::Arc;

#[tokio::test]
async fn echo_returns_its_input() {
    let runtime = shared();
    let digest = prepare(runtime, "echo", Kind::Agent);
    let run = runtime.run_agent(&digest, task("hello, agora ✓", None), plain()).await;
    let output = run.result.expect("echo succeeds");
    assert_eq!(output.output, "hello, agora ✓");
    assert!(run.usage.fuel > 0);
    assert!(run.usage.memory_bytes > 0);
}

#[tokio::test]
async fn summarize_returns_an_extractive_summary() {
    let runtime = shared();
    let digest = prepare(runtime, "summarize", Kind::Agent);
    let text = "Rust components run in a sandbox. The sandbox limits memory and time. \
                Cats sleep a lot. Components in the sandbox get only granted capabilities.";
    let run = runtime.run_agent(&digest, task(text, Some(r#"{"sentences": 2}"#)), plain()).await;
    let summary = run.result.expect("summarize succeeds").output;
    assert!(summary.contains("sandbox"), "{summary}");
    assert!(!summary.contains("Cats"), "{summary}");
    assert!(summary.len() < text.len());

    let empty = runtime.run_agent(&digest, task("   ", None), plain()).await;
    assert!(
        matches!(&empty.result, Err(ExecError::Guest { kind, .. }) if kind == "invalid-input"),
        "{:?}",
        empty.result
    );
    assert_eq!(empty.result.unwrap_err().code(), "guest_error");
}

#[tokio::test]
async fn counter_keeps_state_per_namespace() {
    let runtime = shared();
    let digest = prepare(runtime, "counter", Kind::Agent);
    let kv = Arc::new(MemoryKv::new());
    let grants = Grants { kv: true, ..Grants::default() };
    let inv = |namespace: &str| Invocation {
        namespace: namespace.into(),
        grants: grants.clone(),
        limits: Limits::default(),
        kv: kv.clone(),
        nested: None,
    };
    let count = |run: crate::Execution<crate::AgentOutput>| run.result.expect("counter").output;
    assert_eq!(count(runtime.run_agent(&digest, task("visits", None), inv("agent-a")).await), "1");
    assert_eq!(count(runtime.run_agent(&digest, task("visits", None), inv("agent-a")).await), "2");
    assert_eq!(count(runtime.run_agent(&digest, task("visits", None), inv("agent-b")).await), "1");
    assert_eq!(count(runtime.run_agent(&digest, task("", None), inv("agent-a")).await), "1");
}

#[tokio::test]
async fn markdown_describes_itself_and_converts() {
    let runtime = shared();
    let digest = prepare(runtime, "markdown", Kind::Skill);
    let info = runtime.skill_describe(&digest, plain()).await.result.expect("describe");
    assert_eq!(info.name, "markdown");
    assert!(serde_json::from_str::<serde_json::Value>(&info.input_schema).is_ok());

    let input = serde_json::json!({ "markdown": "# Title\n\n*hi* <script>alert(1)</script>" }).to_string();
    let output = runtime.skill_invoke(&digest, input, plain()).await.result.expect("invoke");
    let html = serde_json::from_str::<serde_json::Value>(&output).unwrap()["html"].as_str().unwrap().to_string();
    assert!(html.contains("<h1>Title</h1>"), "{html}");
    assert!(html.contains("<em>hi</em>"), "{html}");
    assert!(!html.contains("<script>"), "{html}");

    let bad = runtime.skill_invoke(&digest, "not json".into(), plain()).await;
    assert!(matches!(&bad.result, Err(ExecError::Guest { kind, .. }) if kind == "invalid-input"), "{:?}", bad.result);
}

#[tokio::test]
async fn spend_cap_decides() {
    let runtime = shared();
    let digest = prepare(runtime, "spend-cap", Kind::Policy);
    let action = |kind: &str, amount: Option<u64>| ProposedAction {
        kind: kind.into(),
        actor: "agent-1".into(),
        amount_cents: amount,
        target: None,
        detail: "{}".into(),
    };
    let digest = digest.as_str();
    let decide =
        move |a: ProposedAction| async move { runtime.run_policy(digest, a, plain()).await.result.expect("policy") };
    assert!(matches!(decide(action("spend", Some(100))).await, PolicyDecision::Allow(_)));
    assert!(matches!(decide(action("spend", Some(7_000))).await, PolicyDecision::RequireApproval(_)));
    let deny = decide(action("spend", Some(12_345))).await;
    assert_eq!(deny, PolicyDecision::Deny("spending 12345 cents exceeds the cap of 10000 cents".into()));
    assert!(matches!(decide(action("http", Some(1_000_000))).await, PolicyDecision::Allow(_)));

    // Its exported settings check: none is kept past the call.
    let settings = |json: &str| runtime.check_policy_settings(digest, json.into(), plain());
    assert_eq!(settings(r#"{"deny_above_cents": 500}"#).await.result.expect("checked"), Some(Ok(())));
    let refused = settings(r#"{"deny_above_cents": 500, "approval_above_cents": 900}"#).await.result.expect("checked");
    assert!(matches!(refused, Some(Err(ref m)) if m.contains("must not be above")), "{refused:?}");
    let not_json = settings("{").await.result.expect("checked");
    assert!(matches!(not_json, Some(Err(ref m)) if m.contains("not JSON")), "{not_json:?}");
}

#[tokio::test]
async fn auto_reply_acts_on_messages() {
    let runtime = shared();
    let digest = prepare(runtime, "auto-reply", Kind::Handler);
    let message = |content: &str| IncomingMessage {
        id: "m1".into(),
        thread_id: "t1".into(),
        from: "agent-2".into(),
        to: "agent-1".into(),
        content: content.into(),
        content_type: "text/plain".into(),
        timestamp_ms: 1_700_000_000_000,
    };
    let digest = digest.as_str();
    let act = |content: &str| {
        let m = message(content);
        async move { runtime.run_handler(digest, m, plain()).await.result.expect("handler") }
    };
    assert_eq!(act("hello").await, HandlerAction::Reply("Thanks, received: hello".into()));
    assert_eq!(act("  ").await, HandlerAction::Ignore);
    assert_eq!(act("bye").await, HandlerAction::CloseThread);
}

#[tokio::test]
async fn unknown_or_other_kind_digests_are_not_prepared() {
    let runtime = shared();
    let run = runtime.run_agent("no-such-digest", task("x", None), plain()).await;
    assert_eq!(run.result.unwrap_err(), ExecError::NotPrepared);
    let skill = prepare(runtime, "markdown", Kind::Skill);
    assert!(runtime.is_prepared(&skill));
    assert!(!runtime.is_prepared("no-such-digest"));
    let run = runtime.run_agent(&skill, task("x", None), plain()).await;
    assert_eq!(run.result.unwrap_err().code(), "not_prepared");
}

#[tokio::test]
async fn guest_logs_are_kept_and_bounded() {
    let runtime = shared();
    let digest = prepare(runtime, "sneaky", Kind::Agent);
    // sneaky logs one line per denied call (five of them).
    let run = runtime.run_agent(&digest, task("", None), plain()).await;
    assert_eq!(run.logs.len(), 5, "{:?}", run.logs);
    assert!(run.logs.iter().all(|l| l.level == "info" && l.message.contains("denied")));

    let limits = Limits { max_log_bytes: 80, ..Limits::default() };
    let run = runtime.run_agent(&digest, task("", None), invocation(limits, Grants::default())).await;
    let last = run.logs.last().expect("a truncation line");
    assert_eq!(last.level, "warn");
    assert!(last.message.starts_with("log truncated"), "{last:?}");
    let kept: usize = run.logs[..run.logs.len() - 1].iter().map(|l| l.message.len()).sum();
    assert!(kept <= 80);
}
