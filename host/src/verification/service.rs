//! Starting a verification, listing them, and checking a profile for the code.

use std::time::Duration;

use agora_runtime::net::PinError;
use futures::StreamExt;
use rand::Rng;

use super::store::{self, VerificationRow};
use super::{VerifyError, PLATFORMS};
use crate::state::App;
use crate::transaction;
use crate::validate::fail;

/// Bytes of a profile page read at most.
const MAX_PROFILE_BYTES: usize = 2 << 20;

fn platform_of(raw: &str) -> Result<&'static str, VerifyError> {
    let lower = raw.trim().to_lowercase();
    PLATFORMS
        .iter()
        .find(|p| **p == lower)
        .copied()
        .ok_or_else(|| fail("platform", "must be github, bluesky, twitter or moltbook").into())
}

/// A handle as it goes into a profile URL: letters, digits, `.`, `-` and `_`, without a
/// leading `@`.
fn handle_of(raw: &str) -> Result<String, VerifyError> {
    let handle = raw.trim().trim_start_matches('@');
    let ok = !handle.is_empty()
        && handle.len() <= 100
        && handle.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        return Err(fail("handle", "must be 1 to 100 letters, digits, dots, dashes or underscores").into());
    }
    Ok(handle.to_string())
}

pub struct Started {
    pub platform: &'static str,
    pub handle: String,
    pub code: String,
}

pub async fn start(app: &App, agent_id: &str, platform: &str, handle: &str) -> Result<Started, VerifyError> {
    let platform = platform_of(platform)?;
    let handle = handle_of(handle)?;
    let code = format!("agora-verify-{:08x}", rand::thread_rng().gen::<u32>());
    transaction!(app.db, |c| async {
        store::start(c, agent_id, platform, &handle, &code).await?;
        store::refresh_badge(c, agent_id).await
    })?;
    Ok(Started { platform, handle, code })
}

pub async fn list(app: &App, agent_id: &str) -> Result<Vec<VerificationRow>, VerifyError> {
    Ok(store::of_agent(&app.db, agent_id).await?)
}

/// What a check found.
pub struct Checked {
    pub row: VerificationRow,
    pub verified: bool,
}

/// Fetches the profile and looks for the code.
pub async fn confirm(app: &App, agent_id: &str, platform: &str) -> Result<Checked, VerifyError> {
    let platform = platform_of(platform)?;
    let row = store::one(&app.db, agent_id, platform).await?.ok_or_else(|| VerifyError::NotStarted(platform.into()))?;
    let template = app.config.verification.template(platform).unwrap_or_default();
    let url = template.replace("{handle}", &row.handle);
    let page = fetch(app, &url).await?;
    if !page.contains(&row.code) {
        return Ok(Checked { row, verified: false });
    }
    transaction!(app.db, |c| store::verified(c, agent_id, platform, &row.code))?;
    let row = store::one(&app.db, agent_id, platform).await?.ok_or_else(|| VerifyError::NotStarted(platform.into()))?;
    Ok(Checked { verified: row.verified_at.is_some(), row })
}

/// The profile page's text, through the outbound guard, within the timeout and size cap.
async fn fetch(app: &App, url: &str) -> Result<String, VerifyError> {
    let unreachable = |why: String| VerifyError::Unreachable(why);
    let parsed = url::Url::parse(url).map_err(|e| unreachable(format!("{url} is not a URL: {e}")))?;
    let client = app.outbound.client(&parsed).await.map_err(|e| match e {
        PinError::Refused(why) | PinError::Client(why) => unreachable(why),
    })?;
    let timeout = Duration::from_millis(app.config.verification.verify_timeout_ms);
    let resp = client
        .get(parsed)
        .timeout(timeout)
        .header("user-agent", "Agora verification")
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("the profile answered {}", resp.status())));
    }
    let mut bytes = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| unreachable(e.to_string()))?;
        let room = MAX_PROFILE_BYTES - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() == MAX_PROFILE_BYTES {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
