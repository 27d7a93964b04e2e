//! The WIT worlds, the runtime's import list (`Kind::imports`) and the linker agree: for
//! each world, a component built from `wit/` alone that imports everything the world
//! imports is accepted for its kind and links.

use super::support::shared;
use crate::{Kind, Runtime};
use wit_component::{dummy_module, embed_component_metadata, ComponentEncoder, StringEncoding};
use wit_parser::{ManglingAndAbi, Resolve, WorldItem, WorldKey};

fn resolve() -> (Resolve, wit_parser::PackageId) {
    let mut resolve = Resolve::default();
    let wit = agora_testkit::repo_root().join("wit");
    let (package, _) = resolve.push_dir(&wit).expect("wit/ parses");
    (resolve, package)
}

/// The `agora:platform` interfaces a world imports, by name.
fn world_imports(resolve: &Resolve, world: wit_parser::WorldId) -> Vec<String> {
    let mut names: Vec<String> = resolve.worlds[world]
        .imports
        .iter()
        .filter_map(|(key, item)| match (key, item) {
            (WorldKey::Interface(id), WorldItem::Interface { .. }) => resolve.interfaces[*id].name.clone(),
            _ => None,
        })
        .collect();
    names.sort();
    names
}

/// A component of `world` that imports all of it; its exports trap if called.
fn full_component(resolve: &Resolve, world: wit_parser::WorldId) -> Vec<u8> {
    let mut module = dummy_module(resolve, world, ManglingAndAbi::Standard32);
    embed_component_metadata(&mut module, resolve, world, StringEncoding::UTF8).expect("metadata");
    ComponentEncoder::default().module(&module).expect("module").validate(true).encode().expect("component")
}

#[test]
fn each_world_matches_its_kind_and_links() {
    let (resolve, package) = resolve();
    let runtime: &Runtime = shared();
    for kind in Kind::ALL {
        let world = resolve.select_world(&[package], Some(kind.as_str())).expect("a world per kind");
        let mut expected: Vec<String> = kind.imports().iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(world_imports(&resolve, world), expected, "the {kind} world's imports and Kind::imports");

        let bytes = full_component(&resolve, world);
        let info = runtime.inspect(&bytes, kind).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let mut capabilities = info.capabilities.clone();
        capabilities.push("types".into());
        capabilities.sort();
        assert_eq!(capabilities, expected, "{kind}: every interface is imported and linked");
    }
}

#[test]
fn a_world_with_more_imports_does_not_fit_a_narrower_kind() {
    let (resolve, package) = resolve();
    let agent = resolve.select_world(&[package], Some("agent")).unwrap();
    let error = shared().inspect(&full_component(&resolve, agent), Kind::Policy).unwrap_err();
    assert!(matches!(error, crate::ComponentError::WrongWorld(_)), "{error:?}");
}
