//! Raw wit-bindgen bindings of `wit/`, one module per world. The `agent`
//! module owns the interface types; the other worlds reuse them through
//! `with`, so a `Task` or a `CapabilityError` is one Rust type everywhere.
//! Each world's `export!` macro carries that world's type information, so
//! only the world a component exports ends up in it.

pub mod agent {
    wit_bindgen::generate!({
        path: "../wit",
        world: "agent",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        default_bindings_module: "agora_sdk::bindings::agent",
    });
}

pub mod skill {
    wit_bindgen::generate!({
        path: "../wit",
        world: "skill",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        default_bindings_module: "agora_sdk::bindings::skill",
        with: {
            "agora:platform/types@0.1.0": crate::bindings::agent::agora::platform::types,
            "agora:platform/log@0.1.0": crate::bindings::agent::agora::platform::log,
            "agora:platform/kv@0.1.0": crate::bindings::agent::agora::platform::kv,
            "agora:platform/http@0.1.0": crate::bindings::agent::agora::platform::http,
            "agora:platform/llm@0.1.0": crate::bindings::agent::agora::platform::llm,
            "agora:platform/knowledge@0.1.0": crate::bindings::agent::agora::platform::knowledge,
            "agora:platform/skills@0.1.0": crate::bindings::agent::agora::platform::skills,
            "agora:platform/marketplace@0.1.0": crate::bindings::agent::agora::platform::marketplace,
            "agora:platform/messaging@0.1.0": crate::bindings::agent::agora::platform::messaging,
        },
    });
}

pub mod handler {
    wit_bindgen::generate!({
        path: "../wit",
        world: "handler",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        default_bindings_module: "agora_sdk::bindings::handler",
        with: {
            "agora:platform/types@0.1.0": crate::bindings::agent::agora::platform::types,
            "agora:platform/log@0.1.0": crate::bindings::agent::agora::platform::log,
            "agora:platform/kv@0.1.0": crate::bindings::agent::agora::platform::kv,
            "agora:platform/http@0.1.0": crate::bindings::agent::agora::platform::http,
            "agora:platform/llm@0.1.0": crate::bindings::agent::agora::platform::llm,
            "agora:platform/knowledge@0.1.0": crate::bindings::agent::agora::platform::knowledge,
            "agora:platform/skills@0.1.0": crate::bindings::agent::agora::platform::skills,
            "agora:platform/marketplace@0.1.0": crate::bindings::agent::agora::platform::marketplace,
            "agora:platform/messaging@0.1.0": crate::bindings::agent::agora::platform::messaging,
        },
    });
}

pub mod policy {
    wit_bindgen::generate!({
        path: "../wit",
        world: "configurable-policy",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        default_bindings_module: "agora_sdk::bindings::policy",
        with: {
            "agora:platform/types@0.1.0": crate::bindings::agent::agora::platform::types,
            "agora:platform/log@0.1.0": crate::bindings::agent::agora::platform::log,
        },
    });
}
