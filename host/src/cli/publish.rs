//! Author commands: `agora keygen` makes an Ed25519 signing key; `agora publish` registers its
//! public half with the author's agent when needed, signs a component's digest with it and
//! uploads the component.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use crate::components::signing;

/// `AGORA_SIGNING_KEY_FILE`, else `$XDG_CONFIG_HOME/agora/signing-key` or `~/.config/agora/signing-key`.
pub fn default_key_file() -> PathBuf {
    if let Ok(p) = std::env::var("AGORA_SIGNING_KEY_FILE") {
        return PathBuf::from(p);
    }
    let base = std::env::var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".config"));
    base.join("agora").join("signing-key")
}

pub fn keygen(path: &Path, force: bool) -> anyhow::Result<Value> {
    if path.exists() && !force {
        let key = read_key(path)?;
        return Ok(
            json!({ "publicKey": hex::encode(key.verifying_key().to_bytes()), "keyFile": path, "created": false }),
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = signing::generate();
    let tmp = path.with_extension("tmp");
    write_private(&tmp, &hex::encode(key.to_bytes()))?;
    std::fs::rename(&tmp, path)?;
    Ok(json!({ "publicKey": hex::encode(key.verifying_key().to_bytes()), "keyFile": path, "created": true }))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    Ok(std::fs::write(path, text)?)
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the signing key {} (create one with `agora keygen`)", path.display()))?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{} is not an Agora signing key", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

pub struct PublishArgs {
    pub file: PathBuf,
    pub kind: String,
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub grants: Vec<String>,
    pub key_file: PathBuf,
    pub unsigned: bool,
}

/// `--grant kv`, `--grant http=HOST[,HOST...]`, `--grant skills`, `--grant marketplace`,
/// `--grant llm` and `--grant messaging` into the manifest's capabilities.
pub fn parse_grants(grants: &[String]) -> anyhow::Result<Value> {
    let mut caps = json!({"kv": false, "http": [], "skills": false, "marketplace": false, "llm": false,
                          "messaging": false});
    for g in grants {
        match g.split_once('=') {
            None if ["kv", "skills", "marketplace", "llm", "messaging"].contains(&g.as_str()) => caps[g] = true.into(),
            Some(("http", hosts)) => {
                let list = caps["http"].as_array_mut().expect("an array");
                list.extend(hosts.split(',').map(str::trim).filter(|h| !h.is_empty()).map(Value::from))
            }
            _ => bail!("unknown grant {g:?}: use kv, skills, marketplace, llm, messaging or http=HOST[,HOST...]"),
        }
    }
    Ok(caps)
}

async fn call(req: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let resp = req.send().await.context("calling the Agora server (is AGORA_URL right?)")?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn api_error(what: &str, status: u16, body: &Value) -> anyhow::Error {
    let msg = body["error"]["message"].as_str().unwrap_or("no message");
    let code = body["error"]["code"].as_str().unwrap_or("error");
    anyhow::anyhow!("{what} failed ({status} {code}): {msg}")
}

pub async fn publish(base: &str, api_key: &str, args: PublishArgs) -> anyhow::Result<Value> {
    let base = base.trim_end_matches('/');
    let client = reqwest::Client::new();
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let capabilities = parse_grants(&args.grants)?;
    let signature = if args.unsigned {
        None
    } else {
        let key = signing::AuthorKey(read_key(&args.key_file)?);
        let public = key.public_hex();
        let auth = |r: reqwest::RequestBuilder| r.header("X-API-Key", api_key);
        let (status, body) = call(auth(client.get(format!("{base}/api/agents/me/signing-keys")))).await?;
        if status != 200 {
            return Err(api_error("listing your signing keys", status, &body));
        }
        let known = body["keys"].as_array().is_some_and(|ks| ks.iter().any(|k| k["publicKey"] == public.as_str()));
        if !known {
            let req =
                auth(client.post(format!("{base}/api/agents/me/signing-keys"))).json(&json!({ "publicKey": public }));
            let (status, body) = call(req).await?;
            if status != 200 && status != 201 {
                return Err(api_error("registering your signing key", status, &body));
            }
        }
        Some(key.sign_component(&bytes))
    };
    let manifest = json!({
        "kind": args.kind,
        "name": args.name,
        "version": args.version,
        "description": args.description,
        "capabilities": capabilities,
        "component": base64::engine::general_purpose::STANDARD.encode(&bytes),
        "signature": signature,
    });
    let req = client.post(format!("{base}/api/components")).header("X-API-Key", api_key).json(&manifest);
    let (status, body) = call(req).await?;
    if status != 201 {
        return Err(api_error("publishing", status, &body));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants() {
        let none =
            json!({"kv": false, "http": [], "skills": false, "marketplace": false, "llm": false, "messaging": false});
        assert_eq!(parse_grants(&[]).unwrap(), none);
        let g = parse_grants(&["kv".into(), "http=a.example.com, *.b.example.com".into(), "http=c.example.com".into()])
            .unwrap();
        assert_eq!(g["kv"], true);
        assert_eq!(g["http"], json!(["a.example.com", "*.b.example.com", "c.example.com"]));
        let nested = parse_grants(&["skills".into(), "marketplace".into()]).unwrap();
        assert_eq!((nested["skills"].as_bool(), nested["marketplace"].as_bool()), (Some(true), Some(true)));
        assert_eq!(parse_grants(&["llm".into()]).unwrap()["llm"], true);
        assert_eq!(parse_grants(&["messaging".into()]).unwrap()["messaging"], true);
        assert!(parse_grants(&["knowledge".into()]).is_err());
        assert!(parse_grants(&["disk=/".into()]).is_err());
    }

    #[test]
    fn keygen_keeps_an_existing_key_unless_forced() {
        let dir = tempfile_dir();
        let path = dir.join("k");
        let first = keygen(&path, false).unwrap();
        assert_eq!(first["created"], true);
        let again = keygen(&path, false).unwrap();
        assert_eq!((again["created"].as_bool(), &again["publicKey"]), (Some(false), &first["publicKey"]));
        let forced = keygen(&path, true).unwrap();
        assert_ne!(forced["publicKey"], first["publicKey"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("agora-keygen-{}", crate::db::new_id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
