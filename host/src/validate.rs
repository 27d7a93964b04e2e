//! Field checks shared by the domains' services. Each failure is an `Invalid` naming the
//! field; the API answers it `422 validation_error`.

/// A field's value breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

pub fn fail(field: &str, why: &str) -> Invalid {
    Invalid { field: field.to_string(), reason: why.to_string() }
}

/// Trims and checks a required text field.
pub fn text(field: &str, value: &str, max_chars: usize) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(fail(field, "must not be empty"));
    }
    optional_text(field, v, max_chars)
}

pub fn optional_text(field: &str, value: &str, max_chars: usize) -> Result<String, Invalid> {
    let v = value.trim();
    if v.chars().count() > max_chars {
        return Err(fail(field, &format!("must be at most {max_chars} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(fail(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

pub fn email(field: &str, value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.contains(char::is_whitespace)
                && !domain.contains('@')
        });
    if ok {
        Ok(v.to_string())
    } else {
        Err(fail(field, "must be an email address"))
    }
}

/// An absolute `https://` URL (or `http://` when insecure URLs are allowed).
pub fn web_url(field: &str, value: &str, allow_http: bool) -> Result<String, Invalid> {
    Ok(parse_web_url(field, value, allow_http)?.to_string())
}

/// A URL the platform will call later (webhooks, endpoints): a web URL whose host is not
/// internal, unless the operator allows private targets. The call checks again after
/// resolving the name.
pub fn outbound_url(field: &str, value: &str, allow_http: bool, allow_private: bool) -> Result<String, Invalid> {
    let url = parse_web_url(field, value, allow_http)?;
    if !allow_private {
        agora_runtime::net::check_url_host(&url).map_err(|why| fail(field, &format!("cannot be called: {why}")))?;
    }
    Ok(url.to_string())
}

fn parse_web_url(field: &str, value: &str, allow_http: bool) -> Result<url::Url, Invalid> {
    let v = value.trim();
    if v.len() > 2048 {
        return Err(fail(field, "must be at most 2048 characters"));
    }
    let url = url::Url::parse(v).map_err(|_| fail(field, "must be an absolute URL"))?;
    let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
    if !scheme_ok {
        return Err(fail(field, if allow_http { "must be an http(s) URL" } else { "must start with https://" }));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(fail(field, "must name a host"));
    }
    Ok(url)
}

/// A list of short lowercase labels (capabilities, tags), deduplicated, order kept.
pub fn labels(field: &str, values: &[String], max_items: usize) -> Result<Vec<String>, Invalid> {
    if values.len() > max_items {
        return Err(fail(field, &format!("at most {max_items} items")));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for raw in values {
        let v = raw.trim().to_lowercase();
        if v.is_empty() || v.chars().count() > 64 {
            return Err(fail(field, "each item must be 1 to 64 characters"));
        }
        if !v.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '/' | '+')) {
            return Err(fail(field, "items may hold letters, digits, spaces and - _ . / +"));
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

pub fn cents(field: &str, value: i64, min: i64, max: i64) -> Result<i64, Invalid> {
    if value < min || value > max {
        return Err(fail(field, &format!("must be between {min} and {max} cents")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(email("e", "me@example.com").is_ok());
        for bad in ["", "me", "me@", "@x.com", "me@example", "a b@x.com", "a@b@c.com", "me@.com"] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert!(web_url("u", "https://x.example/hook", false).is_ok());
        assert!(web_url("u", "http://x.example/hook", false).is_err());
        assert!(web_url("u", "http://127.0.0.1:9/hook", true).is_ok());
        assert!(web_url("u", "ftp://x.example", true).is_err());
        assert!(web_url("u", "not a url", true).is_err());
        assert!(outbound_url("u", "http://169.254.169.254/", true, false).is_err());
        assert!(outbound_url("u", "http://198.18.0.1/x", true, false).is_err());
        assert!(outbound_url("u", "https://localhost/x", true, false).is_err());
        assert!(outbound_url("u", "http://127.0.0.1:9/x", true, true).is_ok());
        assert!(outbound_url("u", "https://hooks.example.com/x", false, false).is_ok());
    }

    #[test]
    fn labels_are_normalized() {
        let got = labels("c", &["Research".into(), " research ".into(), "code-review".into()], 5).unwrap();
        assert_eq!(got, vec!["research", "code-review"]);
        assert!(labels("c", &["bad<script>".into()], 5).is_err());
        assert!(labels("c", &vec!["a".to_string(); 6], 5).is_err());
    }

    #[test]
    fn text_limits() {
        assert_eq!(text("n", "  Bot  ", 10).unwrap(), "Bot");
        assert!(text("n", "   ", 10).is_err());
        assert!(text("n", "x".repeat(11).as_str(), 10).is_err());
        assert!(text("n", "a\u{0}b", 10).is_err());
    }
}
