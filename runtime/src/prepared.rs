//! A component linked for its kind, ready to be instantiated cheaply for each execution.

use super::bindings::{agent, handler, policy, skill};
use super::component::ComponentError;
use super::kind::Kind;
use super::store::State;
use wasmtime::component::{Component, Linker};

#[derive(Clone)]
pub(crate) enum Prepared {
    Agent(agent::AgentPre<State>),
    Skill(skill::SkillPre<State>),
    Handler(handler::HandlerPre<State>),
    Policy(policy::PolicyPre<State>),
}

impl Prepared {
    /// Links `component` (all its imports must be provided for `kind`) and type-checks the
    /// world's exports.
    pub(crate) fn new(kind: Kind, linker: &Linker<State>, component: &Component) -> Result<Self, ComponentError> {
        let wrong = |e: wasmtime::Error| ComponentError::WrongWorld(format!("{e:#}"));
        let pre = linker.instantiate_pre(component).map_err(wrong)?;
        Ok(match kind {
            Kind::Agent => Prepared::Agent(agent::AgentPre::new(pre).map_err(wrong)?),
            Kind::Skill => Prepared::Skill(skill::SkillPre::new(pre).map_err(wrong)?),
            Kind::Handler => Prepared::Handler(handler::HandlerPre::new(pre).map_err(wrong)?),
            Kind::Policy => Prepared::Policy(policy::PolicyPre::new(pre).map_err(wrong)?),
        })
    }

    pub(crate) fn kind(&self) -> Kind {
        match self {
            Prepared::Agent(_) => Kind::Agent,
            Prepared::Skill(_) => Kind::Skill,
            Prepared::Handler(_) => Kind::Handler,
            Prepared::Policy(_) => Kind::Policy,
        }
    }
}
