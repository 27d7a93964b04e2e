//! One `Linker` per kind: WASI 0.2 plus the capability interfaces the kind may import
//! (`Kind::imports`), each linked by its own line to its own context.

use super::bindings::{http, knowledge, kv, llm, log, marketplace, messaging, skills, types};
use super::host::kv::KvCtx;
use super::host::log::LogBuffer;
use super::host::{http::HttpCtx, CapData, Nested, Unserved};
use super::kind::Kind;
use super::store::State;
use wasmtime::component::Linker;
use wasmtime::Engine;

pub(crate) struct Linkers {
    agent: Linker<State>,
    skill: Linker<State>,
    handler: Linker<State>,
    policy: Linker<State>,
}

impl Linkers {
    pub(crate) fn new(engine: &Engine) -> anyhow::Result<Self> {
        Ok(Linkers {
            agent: build(engine, Kind::Agent)?,
            skill: build(engine, Kind::Skill)?,
            handler: build(engine, Kind::Handler)?,
            policy: build(engine, Kind::Policy)?,
        })
    }

    pub(crate) fn get(&self, kind: Kind) -> &Linker<State> {
        match kind {
            Kind::Agent => &self.agent,
            Kind::Skill => &self.skill,
            Kind::Handler => &self.handler,
            Kind::Policy => &self.policy,
        }
    }
}

fn build(engine: &Engine, kind: Kind) -> anyhow::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    for interface in kind.imports() {
        link(&mut linker, interface)?;
    }
    Ok(linker)
}

/// Links one `agora:platform` interface to its host implementation.
fn link(linker: &mut Linker<State>, interface: &str) -> wasmtime::Result<()> {
    match interface {
        "types" => types::add_to_linker::<_, CapData<Unserved>>(linker, State::unserved),
        "log" => log::add_to_linker::<_, CapData<LogBuffer>>(linker, State::log),
        "kv" => kv::add_to_linker::<_, CapData<KvCtx>>(linker, State::kv),
        "http" => http::add_to_linker::<_, CapData<HttpCtx>>(linker, State::http),
        "llm" => llm::add_to_linker::<_, CapData<Nested>>(linker, State::nested),
        "knowledge" => knowledge::add_to_linker::<_, CapData<Unserved>>(linker, State::unserved),
        "skills" => skills::add_to_linker::<_, CapData<Nested>>(linker, State::nested),
        "marketplace" => marketplace::add_to_linker::<_, CapData<Nested>>(linker, State::nested),
        "messaging" => messaging::add_to_linker::<_, CapData<Nested>>(linker, State::nested),
        other => Err(wasmtime::Error::msg(format!("the host has no implementation of agora:platform/{other}"))),
    }
}
