use crate::db::new_id;
use crate::secrets::random_token;

const SECRET_LEN: usize = 48;
/// The visible prefix is the tag and this many characters of the secret.
const PREFIX_SECRET_CHARS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Agent,
    Operator,
    /// A gateway runtime key (`tok_`), made by an agent for its apps; kept in `gateway_keys`.
    Runtime,
}

impl KeyKind {
    pub fn tag(self) -> &'static str {
        match self {
            KeyKind::Agent => "ak_",
            KeyKind::Operator => "op_",
            KeyKind::Runtime => "tok_",
        }
    }

    /// The kind a presented key claims to be, by its tag.
    pub fn of(key: &str) -> Option<KeyKind> {
        [KeyKind::Agent, KeyKind::Operator, KeyKind::Runtime].into_iter().find(|k| key.starts_with(k.tag()))
    }

    pub fn prefix_len(self) -> usize {
        self.tag().len() + PREFIX_SECRET_CHARS
    }

    /// As stored in `api_keys.principal`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Agent => "agent",
            KeyKind::Operator => "operator",
            KeyKind::Runtime => "runtime",
        }
    }
}

/// A key about to be stored; `key` is shown once and never kept.
pub struct NewKey {
    pub id: String,
    pub key: String,
    pub prefix: String,
}

impl NewKey {
    pub fn generate(kind: KeyKind) -> NewKey {
        NewKey::adopt(format!("{}{}", kind.tag(), random_token(SECRET_LEN)))
    }

    /// A key chosen elsewhere (the configured bootstrap operator key), if well formed.
    pub fn from_configured(kind: KeyKind, key: &str) -> Option<NewKey> {
        (well_formed(key) == Some(kind)).then(|| NewKey::adopt(key.to_string()))
    }

    fn adopt(key: String) -> NewKey {
        let prefix_len = KeyKind::of(&key).map_or(0, KeyKind::prefix_len);
        NewKey { id: new_id(), prefix: key[..prefix_len].to_string(), key }
    }
}

/// The shape of a key: a known tag and 48 letters and digits; its kind when well formed.
pub fn well_formed(key: &str) -> Option<KeyKind> {
    let kind = KeyKind::of(key)?;
    let secret = &key[kind.tag().len()..];
    (secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(kind)
}

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Agent {
        agent_id: String,
    },
    Operator {
        key_id: String,
    },
    /// A gateway runtime key: acts for its agent on the gateway's runtime routes only.
    Runtime(RuntimeKey),
}

/// What a runtime key is allowed: its account, and the scope its usage is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeKey {
    pub key_id: String,
    pub agent_id: String,
    /// The workspace's internal id, when the key is bound to one.
    pub workspace_id: Option<String>,
    /// Requests per minute; none is the host's default for runtime keys.
    pub rate_limit_per_minute: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = NewKey::generate(KeyKind::Agent);
        assert!(a.key.starts_with("ak_") && well_formed(&a.key) == Some(KeyKind::Agent));
        assert_eq!(a.prefix, a.key[..11]);
        assert_ne!(NewKey::generate(KeyKind::Agent).key, a.key);
        assert!(NewKey::from_configured(KeyKind::Operator, &a.key).is_none());
        assert_eq!(well_formed("ak_short"), None);
        assert_eq!(well_formed(&format!("ak_{}", "é".repeat(24))), None);
        let t = NewKey::generate(KeyKind::Runtime);
        assert_eq!(well_formed(&t.key), Some(KeyKind::Runtime));
        assert_eq!(t.prefix, t.key[..12]);
    }
}
