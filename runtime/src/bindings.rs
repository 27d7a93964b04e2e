//! Host bindings generated from `wit/` (package `agora:platform@0.1.0`), one module per world.
//!
//! The agent world generates the capability interfaces; the other worlds reuse them through
//! `with`, so every world shares one set of types and one `Host` trait per interface.
//! Capabilities that do I/O (or will, once they are served) are async; `log` is not.

pub mod agent {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "agent",
        imports: {
            "agora:platform/kv": async,
            "agora:platform/http": async,
            "agora:platform/llm": async,
            "agora:platform/knowledge": async,
            "agora:platform/skills": async,
            "agora:platform/marketplace": async,
            "agora:platform/messaging": async,
        },
        exports: { default: async },
    });
}

pub mod skill {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "skill",
        exports: { default: async },
        with: {
            "agora:platform/types": crate::bindings::agent::agora::platform::types,
            "agora:platform/log": crate::bindings::agent::agora::platform::log,
            "agora:platform/kv": crate::bindings::agent::agora::platform::kv,
            "agora:platform/http": crate::bindings::agent::agora::platform::http,
            "agora:platform/llm": crate::bindings::agent::agora::platform::llm,
            "agora:platform/knowledge": crate::bindings::agent::agora::platform::knowledge,
            "agora:platform/skills": crate::bindings::agent::agora::platform::skills,
            "agora:platform/marketplace": crate::bindings::agent::agora::platform::marketplace,
            "agora:platform/messaging": crate::bindings::agent::agora::platform::messaging,
        },
    });
}

pub mod handler {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "handler",
        exports: { default: async },
        with: {
            "agora:platform/types": crate::bindings::agent::agora::platform::types,
            "agora:platform/log": crate::bindings::agent::agora::platform::log,
            "agora:platform/kv": crate::bindings::agent::agora::platform::kv,
            "agora:platform/http": crate::bindings::agent::agora::platform::http,
            "agora:platform/llm": crate::bindings::agent::agora::platform::llm,
            "agora:platform/knowledge": crate::bindings::agent::agora::platform::knowledge,
            "agora:platform/skills": crate::bindings::agent::agora::platform::skills,
            "agora:platform/marketplace": crate::bindings::agent::agora::platform::marketplace,
            "agora:platform/messaging": crate::bindings::agent::agora::platform::messaging,
        },
    });
}

pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "policy",
        exports: { default: async },
        with: {
            "agora:platform/types": crate::bindings::agent::agora::platform::types,
            "agora:platform/log": crate::bindings::agent::agora::platform::log,
        },
    });
}

pub use agent::agora::platform::{http, knowledge, kv, llm, log, marketplace, messaging, skills, types};
