//! `inspect` and `prepare` refuse what is not a component of the declared world.

use super::support::{digest_of, guest, shared};
use crate::{ComponentError, Kind};

#[test]
fn a_core_module_is_not_a_component() {
    let error = shared().inspect(b"\0asm\x01\0\0\0", Kind::Agent).unwrap_err();
    assert!(matches!(error, ComponentError::NotAComponent(_)), "{error:?}");
}

#[test]
fn garbage_is_not_a_component() {
    for bytes in [&b"hello world"[..], b"", b"\0asm"] {
        let error = shared().inspect(bytes, Kind::Agent).unwrap_err();
        assert!(matches!(error, ComponentError::NotAComponent(_)), "{error:?}");
    }
    // A component header followed by nonsense.
    let error = shared().inspect(b"\0asm\x0d\0\x01\0garbage follows", Kind::Agent).unwrap_err();
    assert!(matches!(error, ComponentError::NotAComponent(_)), "{error:?}");
}

#[test]
fn an_agent_is_not_a_policy_and_a_policy_is_not_an_agent() {
    let error = shared().inspect(&guest("echo"), Kind::Policy).unwrap_err();
    assert!(matches!(&error, ComponentError::WrongWorld(m) if m.contains("guardrail")), "{error:?}");
    let error = shared().inspect(&guest("spend-cap"), Kind::Agent).unwrap_err();
    assert!(matches!(&error, ComponentError::WrongWorld(m) if m.contains("task-handler")), "{error:?}");
    let error = shared().inspect(&guest("markdown"), Kind::Handler).unwrap_err();
    assert!(matches!(error, ComponentError::WrongWorld(_)), "{error:?}");

    let bytes = guest("echo");
    let error = shared().prepare(&digest_of(&bytes), &bytes, Kind::Skill).unwrap_err();
    assert!(matches!(error, ComponentError::WrongWorld(_)), "{error:?}");
}

#[test]
fn inspect_lists_imports_and_capabilities() {
    let info = shared().inspect(&guest("counter"), Kind::Agent).expect("counter is an agent");
    assert_eq!(info.kind, Kind::Agent);
    assert!(info.capabilities.contains(&"kv".to_string()), "{info:?}");
    assert!(!info.capabilities.contains(&"types".to_string()), "{info:?}");
    assert!(info.imports.iter().any(|i| i.starts_with("wasi:")), "{info:?}");
    assert!(info.imports.iter().any(|i| i.starts_with("agora:platform/kv@")), "{info:?}");

    let info = shared().inspect(&guest("fetch"), Kind::Skill).expect("fetch is a skill");
    assert!(info.capabilities.contains(&"http".to_string()), "{info:?}");

    let info = shared().inspect(&guest("spend-cap"), Kind::Policy).expect("spend-cap is a policy");
    assert!(info.capabilities.iter().all(|c| c == "log"), "{info:?}");
}
