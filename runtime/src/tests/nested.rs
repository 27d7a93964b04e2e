//! `skills.call`, `marketplace.hire` and `llm.chat` reach the host's port only when granted,
//! and never outlast the calling execution.

use super::support::{invocation, prepare, shared, task};
use crate::{CallError, ChatCall, ChatReply, ExecError, Grants, Guarded, Hired, Kind, Limits, NestedCalls};
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answers skill calls with `{"html": "<p>from the port</p>"}` (after `delay`) and hires with
/// a fixed result, recording what it was asked.
#[derive(Default)]
struct FakePort {
    delay: Duration,
    asked: Mutex<Vec<String>>,
}

impl NestedCalls for FakePort {
    fn call_skill<'a>(
        &'a self,
        id: &'a str,
        input: String,
        left: Duration,
    ) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async move {
            assert!(left <= Duration::from_secs(5) && !left.is_zero(), "{left:?}");
            self.asked.lock().unwrap().push(format!("skill {id} {input}"));
            tokio::time::sleep(self.delay).await;
            match id {
                "unlicensed" => Err(CallError::Denied("no licence".into())),
                _ => Ok(r#"{"html": "<p>from the port</p>"}"#.into()),
            }
        })
    }

    fn hire<'a>(
        &'a self,
        id: &'a str,
        task: String,
        budget: u64,
        _: Duration,
    ) -> BoxFuture<'a, Result<Hired, CallError>> {
        Box::pin(async move {
            self.asked.lock().unwrap().push(format!("hire {id} {task} {budget}"));
            Ok(Hired { job_id: "job-1".into(), output: Some("done".into()), charged_cents: 7 })
        })
    }

    fn chat<'a>(&'a self, call: ChatCall, _: Duration) -> BoxFuture<'a, Result<ChatReply, CallError>> {
        Box::pin(async move {
            let said: Vec<String> = call.messages.iter().map(|(role, text)| format!("{role}:{text}")).collect();
            self.asked.lock().unwrap().push(format!("chat {} {}", call.model, said.join("|")));
            if call.max_tokens == Some(1) {
                return Err(CallError::QuotaExceeded("the run's budget is spent".into()));
            }
            Ok(ChatReply {
                content: "an answer".into(),
                model: call.model,
                prompt_tokens: 11,
                completion_tokens: 2,
                cost_cents: 3,
            })
        })
    }

    fn send_message<'a>(
        &'a self,
        to: &'a str,
        thread: Option<&'a str>,
        content: String,
    ) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async move {
            self.asked.lock().unwrap().push(format!("message {to} {thread:?} {content}"));
            Ok("message-1".into())
        })
    }

    fn authorize<'a>(&'a self, _: Guarded<'a>) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async { Ok(()) })
    }
}

fn with_port(port: &Arc<FakePort>, grants: Grants, timeout: Duration) -> crate::Invocation {
    let mut inv = invocation(Limits { timeout, ..Limits::default() }, grants);
    inv.nested = Some(port.clone());
    inv
}

#[tokio::test]
async fn skill_calls_go_through_the_port_when_granted() {
    let runtime = shared();
    let digest = prepare(runtime, "notes", Kind::Agent);
    let port = Arc::new(FakePort::default());
    let params = Some(r#"{"skill": "md", "times": 2}"#);
    let skills = Grants { skills: true, ..Grants::default() };

    let run = runtime
        .run_agent(&digest, task("# hi", params), with_port(&port, skills.clone(), Duration::from_secs(5)))
        .await;
    assert_eq!(run.result.expect("notes succeeds").output, "<p>from the port</p>");
    assert_eq!(port.asked.lock().unwrap().len(), 2);

    let ungranted = runtime
        .run_agent(&digest, task("# hi", params), with_port(&port, Grants::default(), Duration::from_secs(5)))
        .await;
    assert!(
        matches!(ungranted.result, Err(ExecError::CapabilityDenied(ref m)) if m.contains("skills")),
        "{:?}",
        ungranted.result
    );
    assert_eq!(port.asked.lock().unwrap().len(), 2, "an ungranted call never reaches the host");

    // The port's own refusal is the guest's to handle; it does not end the execution as denied.
    let refused = task("# hi", Some(r#"{"skill": "unlicensed"}"#));
    let run = runtime.run_agent(&digest, refused, with_port(&port, skills, Duration::from_secs(5))).await;
    assert!(
        matches!(run.result, Err(ExecError::Guest { ref message, .. }) if message.contains("no licence")),
        "{:?}",
        run.result
    );
}

#[tokio::test]
async fn a_nested_call_counts_against_the_callers_time() {
    let runtime = shared();
    let digest = prepare(runtime, "notes", Kind::Agent);
    let port = Arc::new(FakePort { delay: Duration::from_secs(3), ..FakePort::default() });
    let grants = Grants { skills: true, ..Grants::default() };
    let run = runtime
        .run_agent(
            &digest,
            task("# hi", Some(r#"{"skill": "md"}"#)),
            with_port(&port, grants, Duration::from_millis(300)),
        )
        .await;
    assert!(matches!(run.result, Err(ExecError::Timeout)), "{:?}", run.result);
    assert!(run.usage.wall_ms < 2_000, "{}", run.usage.wall_ms);
}

#[tokio::test]
async fn hires_go_through_the_port_when_granted() {
    let runtime = shared();
    let digest = prepare(runtime, "delegate", Kind::Agent);
    let port = Arc::new(FakePort::default());
    let input = r#"{"chain": ["worker"], "budgets": [40], "text": "sum this"}"#;
    let grants = Grants { marketplace: true, ..Grants::default() };
    let run = runtime.run_agent(&digest, task(input, None), with_port(&port, grants, Duration::from_secs(5))).await;
    let output: serde_json::Value = serde_json::from_str(&run.result.expect("delegate succeeds").output).unwrap();
    assert_eq!(output, serde_json::json!({"job": "job-1", "output": "done", "charged": 7}));
    assert_eq!(port.asked.lock().unwrap().as_slice(), ["hire worker sum this 40"]);
}

#[tokio::test]
async fn model_calls_go_through_the_port_when_granted() {
    let runtime = shared();
    let digest = prepare(runtime, "ask", Kind::Agent);
    let port = Arc::new(FakePort::default());
    let llm = Grants { llm: true, ..Grants::default() };
    let params = Some(r#"{"model": "fast", "system": "be brief", "times": 2}"#);
    let run =
        runtime.run_agent(&digest, task("why?", params), with_port(&port, llm.clone(), Duration::from_secs(5))).await;
    let output: serde_json::Value = serde_json::from_str(&run.result.expect("ask succeeds").output).unwrap();
    assert_eq!(
        output,
        serde_json::json!({"answer": "an answer", "model": "fast", "prompt_tokens": 11, "completion_tokens": 2, "cost_cents": 6})
    );
    assert_eq!(port.asked.lock().unwrap().as_slice(), ["chat fast system:be brief|user:why?"; 2]);

    let refused = runtime
        .run_agent(&digest, task("why?", Some(r#"{"max_tokens": 1}"#)), with_port(&port, llm, Duration::from_secs(5)))
        .await;
    assert!(
        matches!(refused.result, Err(ExecError::Guest { ref message, .. }) if message.contains("budget")),
        "{:?}",
        refused.result
    );

    let ungranted = runtime
        .run_agent(&digest, task("why?", None), with_port(&port, Grants::default(), Duration::from_secs(5)))
        .await;
    assert!(
        matches!(ungranted.result, Err(ExecError::CapabilityDenied(ref m)) if m.contains("llm")),
        "{:?}",
        ungranted.result
    );
    assert_eq!(port.asked.lock().unwrap().len(), 3, "an ungranted call never reaches the host");
}

#[tokio::test]
async fn messages_go_through_the_port_when_granted() {
    let runtime = shared();
    let digest = prepare(runtime, "relay", Kind::Agent);
    let port = Arc::new(FakePort::default());
    let params = Some(r#"{"to": "toq://host/bob", "thread_id": "t-1"}"#);
    let granted = Grants { messaging: true, ..Grants::default() };
    let run =
        runtime.run_agent(&digest, task("hello bob", params), with_port(&port, granted, Duration::from_secs(5))).await;
    let output: serde_json::Value = serde_json::from_str(&run.result.expect("relay succeeds").output).unwrap();
    assert_eq!(output, serde_json::json!({"message_id": "message-1"}));
    assert_eq!(port.asked.lock().unwrap().as_slice(), [r#"message toq://host/bob Some("t-1") hello bob"#]);

    let ungranted = runtime
        .run_agent(&digest, task("hello bob", params), with_port(&port, Grants::default(), Duration::from_secs(5)))
        .await;
    assert!(
        matches!(ungranted.result, Err(ExecError::CapabilityDenied(ref m)) if m.contains("messaging")),
        "{:?}",
        ungranted.result
    );
    assert_eq!(port.asked.lock().unwrap().len(), 1, "an ungranted message never reaches the host");
}
