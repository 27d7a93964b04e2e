//! Checking that bytes are a component of the declared world, from its type alone.

use super::component::{ComponentError, ComponentInfo};
use super::kind::Kind;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::Engine;

/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 32 << 20;

const PACKAGE: &str = "agora:platform";
const PACKAGE_VERSION: &str = "0.1.";
const WASI_VERSION: &str = "0.2.";

/// The agora interfaces every kind but policy may import.
const FULL_IMPORTS: &[&str] = &["types", "log", "kv", "http", "llm", "knowledge", "skills", "marketplace", "messaging"];
const POLICY_IMPORTS: &[&str] = &["types", "log"];

fn allowed_imports(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Policy => POLICY_IMPORTS,
        Kind::Agent | Kind::Skill | Kind::Handler => FULL_IMPORTS,
    }
}

/// The interface a kind exports and its functions.
fn required_export(kind: Kind) -> (&'static str, &'static [&'static str]) {
    match kind {
        Kind::Agent => ("task-handler", &["handle"]),
        Kind::Skill => ("skill-provider", &["describe", "invoke"]),
        Kind::Handler => ("message-handler", &["on-message"]),
        Kind::Policy => ("guardrail", &["check"]),
    }
}

/// Size and header: a component starts with `\0asm` and layer 1 (`0d 00 01 00`); a core
/// module has version 1 (`01 00 00 00`) there.
pub(crate) fn check_bytes(bytes: &[u8]) -> Result<(), ComponentError> {
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(ComponentError::TooLarge);
    }
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Err(ComponentError::NotAComponent(
            "this is a core WebAssembly module; build a component (wasm32-wasip2)".into(),
        )),
        _ => Err(ComponentError::NotAComponent("the bytes do not start with a WebAssembly component header".into())),
    }
}

/// Compiles (validating on the way). Invalid bytes are `NotAComponent`; anything else that
/// goes wrong is `Compile`.
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, ComponentError> {
    check_bytes(bytes)?;
    Component::from_binary(engine, bytes).map_err(|e| {
        let message = format!("{e:#}");
        // Validation failures carry this context (wasmtime's compile.rs).
        if message.contains("failed to parse WebAssembly") {
            ComponentError::NotAComponent(message)
        } else {
            ComponentError::Compile(message)
        }
    })
}

/// Exports: the kind's interface with its functions. Imports: WASI 0.2 and the agora
/// interfaces the kind allows, nothing else.
pub(crate) fn check_world(engine: &Engine, component: &Component, kind: Kind) -> Result<ComponentInfo, ComponentError> {
    let ty = component.component_type();
    let (interface, functions) = required_export(kind);

    let exports: Vec<(&str, ComponentItem)> = ty.exports(engine).map(|(name, e)| (name, e.ty)).collect();
    let Some((name, item)) = exports.iter().find(|(name, _)| agora_interface(name) == Some(interface)) else {
        let names: Vec<&str> = exports.iter().map(|(name, _)| *name).collect();
        return Err(ComponentError::WrongWorld(format!(
            "a {kind} exports {PACKAGE}/{interface}@0.1.0; this component exports [{}]",
            names.join(", ")
        )));
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return Err(ComponentError::WrongWorld(format!("export {name} is not an interface")));
    };
    for function in functions {
        if !matches!(instance.get_export(engine, function).map(|e| e.ty), Some(ComponentItem::ComponentFunc(_))) {
            return Err(ComponentError::WrongWorld(format!("export {name} has no function {function}")));
        }
    }

    let mut imports = Vec::new();
    let mut capabilities = Vec::new();
    for (name, _) in ty.imports(engine) {
        if let Some(interface) = agora_interface(name) {
            if !allowed_imports(kind).contains(&interface) {
                return Err(ComponentError::WrongWorld(format!("a {kind} may not import {name}")));
            }
            if interface != "types" {
                capabilities.push(interface.to_string());
            }
        } else if !is_wasi_0_2(name) {
            return Err(ComponentError::WrongWorld(format!(
                "imports {name}; only WASI 0.2 and the {PACKAGE} capabilities are provided"
            )));
        }
        imports.push(name.to_string());
    }
    capabilities.sort();
    capabilities.dedup();
    Ok(ComponentInfo { kind, imports, capabilities })
}

/// `"agora:platform/kv@0.1.0"` -> `Some("kv")`.
fn agora_interface(name: &str) -> Option<&str> {
    let (path, version) = name.split_once('@')?;
    let interface = path.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    version.starts_with(PACKAGE_VERSION).then_some(interface)
}

fn is_wasi_0_2(name: &str) -> bool {
    name.starts_with("wasi:") && name.split_once('@').is_some_and(|(_, version)| version.starts_with(WASI_VERSION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed_with_their_versions() {
        assert_eq!(agora_interface("agora:platform/kv@0.1.0"), Some("kv"));
        assert_eq!(agora_interface("agora:platform/kv@0.1.7"), Some("kv"));
        assert_eq!(agora_interface("agora:platform/kv@0.2.0"), None);
        assert_eq!(agora_interface("agora:platformx/kv@0.1.0"), None);
        assert_eq!(agora_interface("agora:platform/kv"), None);
        assert!(is_wasi_0_2("wasi:cli/stdout@0.2.3"));
        assert!(!is_wasi_0_2("wasi:cli/stdout@0.3.0"));
        assert!(!is_wasi_0_2("wasix:cli/stdout@0.2.0"));
    }

    #[test]
    fn headers_are_checked_before_anything_else() {
        assert!(matches!(check_bytes(b"\0asm\x01\0\0\0"), Err(ComponentError::NotAComponent(m)) if m.contains("core")));
        assert!(matches!(check_bytes(b"garbage!"), Err(ComponentError::NotAComponent(_))));
        assert!(matches!(check_bytes(b""), Err(ComponentError::NotAComponent(_))));
        assert!(matches!(check_bytes(&vec![0; MAX_COMPONENT_BYTES + 1]), Err(ComponentError::TooLarge)));
        assert!(check_bytes(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
