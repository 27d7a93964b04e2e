//! Checking that bytes are a component of the declared world, from its type alone.

use super::component::{ComponentError, ComponentInfo};
use super::kind::Kind;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::Engine;

const PACKAGE: &str = "agora:platform";
const PACKAGE_VERSION: &str = "0.1.";
const WASI_VERSION: &str = "0.2.";

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
pub(crate) fn check_bytes(bytes: &[u8], max_bytes: usize) -> Result<(), ComponentError> {
    if bytes.len() > max_bytes {
        return Err(ComponentError::TooLarge { size: bytes.len(), limit: max_bytes });
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
pub(crate) fn compile(
    engine: &Engine,
    bytes: &[u8],
    max_bytes: usize,
    memory_limit: usize,
) -> Result<Component, ComponentError> {
    check_bytes(bytes, max_bytes)?;
    Component::from_binary(engine, bytes).map_err(|e| {
        let message = format!("{e:#}");
        // Validation failures carry this context (wasmtime's compile.rs); the pooling
        // allocator refuses memories larger than its slots at compile time.
        if message.contains("failed to parse WebAssembly") {
            ComponentError::NotAComponent(message)
        } else if message.contains("does not fit in pooling allocator") {
            ComponentError::MemoryTooLarge { needs: minimum_bytes(&message).unwrap_or(0), limit: memory_limit as u64 }
        } else {
            ComponentError::Compile(message)
        }
    })
}

/// The `N` of "... minimum byte size of N ..." in wasmtime's pooling-allocator refusal.
fn minimum_bytes(message: &str) -> Option<u64> {
    let rest = message.split("minimum byte size of ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
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
            if !kind.imports().contains(&interface) {
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

/// Refuses a component whose memories start larger than `memory_limit`: it could never be
/// instantiated, and a large initial memory is mostly data the host would keep for nothing.
pub(crate) fn check_memory(component: &Component, memory_limit: usize) -> Result<(), ComponentError> {
    let needs = component.resources_required().and_then(|r| r.max_initial_memory_size).unwrap_or(0);
    if needs > memory_limit as u64 {
        return Err(ComponentError::MemoryTooLarge { needs, limit: memory_limit as u64 });
    }
    Ok(())
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
        const MAX: usize = 1 << 20;
        assert!(
            matches!(check_bytes(b"\0asm\x01\0\0\0", MAX), Err(ComponentError::NotAComponent(m)) if m.contains("core"))
        );
        assert!(matches!(check_bytes(b"garbage!", MAX), Err(ComponentError::NotAComponent(_))));
        assert!(matches!(check_bytes(b"", MAX), Err(ComponentError::NotAComponent(_))));
        let too_large = check_bytes(&vec![0; MAX + 1], MAX).unwrap_err();
        assert_eq!(too_large, ComponentError::TooLarge { size: MAX + 1, limit: MAX });
        assert!(too_large.to_string().contains("limit of 1048576 bytes"), "{too_large}");
        assert!(check_bytes(b"\0asm\x0d\0\x01\0", MAX).is_ok());
    }
}
