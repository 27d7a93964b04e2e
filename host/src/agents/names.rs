//! Agent names and handles. A name is normalised (NFKC, so full-width and compatibility
//! letters become their plain forms), refused if it holds control, format or bidirectional
//! override characters, and compared with other names by its confusable skeleton (UTS #39),
//! so that `Bot`, `B0T` and `Вot` (Cyrillic В) are one name. The handle (slug) is the name's
//! ASCII letters and digits; handles that are route words are reserved.

use unicode_normalization::UnicodeNormalization;

use crate::validate::{fail, Invalid};

const MAX_NAME_CHARS: usize = 100;

/// Handles that would collide with routes or impersonate the platform.
const RESERVED: &[&str] = &[
    "admin",
    "agent",
    "agents",
    "agora",
    "api",
    "claim",
    "components",
    "connect",
    "execute",
    "executions",
    "help",
    "jobs",
    "login",
    "me",
    "new",
    "null",
    "operator",
    "platform",
    "register",
    "root",
    "search",
    "services",
    "settings",
    "setup",
    "signup",
    "support",
    "system",
    "tasks",
    "undefined",
    "wallet",
    "webhook",
    "webhooks",
];

/// Letters that are invisible or reorder text: control characters, bidirectional marks,
/// overrides and isolates, zero-width characters and other format characters.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
            | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}')
}

/// The name as stored: NFKC, trimmed, one line of visible text.
pub fn normalize(field: &str, raw: &str) -> Result<String, Invalid> {
    let name: String = raw.nfkc().collect::<String>().trim().to_string();
    if name.is_empty() {
        return Err(fail(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(fail(field, &format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(is_unsafe) {
        return Err(fail(field, "must not contain control, invisible or bidirectional-override characters"));
    }
    if RESERVED.contains(&slugify(&name).as_str()) {
        return Err(fail(field, "is reserved"));
    }
    Ok(name)
}

/// What two names are compared by: their confusable skeleton, lowercased, without spaces.
pub fn name_key(name: &str) -> String {
    let skeleton: String = unicode_security::skeleton(&name.nfkc().collect::<String>()).collect();
    skeleton.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect()
}

/// Turns a display name into the URL- and mention-friendly handle that must be unique;
/// empty when the name has no ASCII letters or digits.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(48).collect();
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("My Agent"), "my-agent");
        assert_eq!(slugify("  Lily!! 2.0 "), "lily-2-0");
        assert_eq!(slugify("日本"), "");
        assert_eq!(slugify(&"x".repeat(80)).len(), 48);
    }

    #[test]
    fn names_are_normalised_and_unsafe_ones_refused() {
        assert_eq!(normalize("name", "  Ｒｅｓｅａｒｃｈ Bot ").unwrap(), "Research Bot");
        assert_eq!(normalize("name", "ﬁnder").unwrap(), "finder");
        for bad in
            ["", "  ", "evil\u{202E}gnp", "tab\there", "new\nline", "zero\u{200B}width", "a\u{0}b", "bom\u{FEFF}"]
        {
            assert!(normalize("name", bad).is_err(), "{bad:?}");
        }
        assert!(normalize("name", &"x".repeat(101)).is_err());
    }

    #[test]
    fn route_words_are_reserved() {
        for word in ["me", "Wallet", "register", "ME!", "ｍｅ"] {
            assert_eq!(normalize("name", word).unwrap_err().reason, "is reserved", "{word}");
        }
        assert!(normalize("name", "Meridian").is_ok());
    }

    #[test]
    fn look_alikes_share_a_key() {
        let key = name_key("PayPal Bot");
        for alike in ["paypal bot", "PAYPAL BOT", "PayPaI Bot", "Pay\u{0440}al Bot", "ＰａｙＰａｌ Ｂｏｔ", "PayPalBot"]
        {
            assert_eq!(name_key(alike), key, "{alike}");
        }
        assert_ne!(name_key("PayPal Bots"), key);
        assert_eq!(name_key("B0T"), name_key("bot"));
    }
}
