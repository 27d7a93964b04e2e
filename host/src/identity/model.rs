use crate::db::new_id;
use crate::secrets::random_token;

pub const PREFIX_LEN: usize = 11;
const SECRET_LEN: usize = 48;
pub const KEY_LEN: usize = 3 + SECRET_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Agent,
    Operator,
}

impl KeyKind {
    pub fn tag(self) -> &'static str {
        match self {
            KeyKind::Agent => "ak_",
            KeyKind::Operator => "op_",
        }
    }

    /// As stored in `api_keys.principal`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Agent => "agent",
            KeyKind::Operator => "operator",
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
        (key.starts_with(kind.tag()) && well_formed(key)).then(|| NewKey::adopt(key.to_string()))
    }

    fn adopt(key: String) -> NewKey {
        NewKey { id: new_id(), prefix: key[..PREFIX_LEN].to_string(), key }
    }
}

/// The shape of a key: a known tag and 48 letters and digits.
pub fn well_formed(key: &str) -> bool {
    key.len() == KEY_LEN
        && (key.starts_with(KeyKind::Agent.tag()) || key.starts_with(KeyKind::Operator.tag()))
        && key[3..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Agent { agent_id: String },
    Operator { key_id: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = NewKey::generate(KeyKind::Agent);
        assert!(a.key.starts_with("ak_") && well_formed(&a.key));
        assert_eq!(a.prefix, a.key[..PREFIX_LEN]);
        assert_ne!(NewKey::generate(KeyKind::Agent).key, a.key);
        assert!(NewKey::from_configured(KeyKind::Operator, &a.key).is_none());
        assert!(!well_formed("ak_short"));
        assert!(!well_formed(&format!("ak_{}", "é".repeat(24))));
    }
}
