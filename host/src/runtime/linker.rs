//! One `Linker` per kind: WASI 0.2 plus the capability interfaces the kind may import.

use super::bindings::{agent, handler, policy, skill};
use super::host::{Capabilities, HostState};
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
    fn host(state: &mut State) -> &mut HostState {
        &mut state.host
    }
    match kind {
        Kind::Agent => agent::Agent::add_to_linker::<State, Capabilities>(&mut linker, host)?,
        Kind::Skill => skill::Skill::add_to_linker::<State, Capabilities>(&mut linker, host)?,
        Kind::Handler => handler::Handler::add_to_linker::<State, Capabilities>(&mut linker, host)?,
        // A policy is pure: `log` (and the function-less `types`) only.
        Kind::Policy => policy::Policy::add_to_linker::<State, Capabilities>(&mut linker, host)?,
    }
    Ok(linker)
}
