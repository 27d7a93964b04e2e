//! The marketplace's settings: its timings, skills and nested calls, and where identities are
//! verified. One serde struct per section, as in `sections.rs`.

use serde::{Deserialize, Serialize};

use super::sections::{within, Check};

/// The marketplace's timings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Marketplace {
    /// A delivered job the buyer neither completes nor disputes is completed after this many days.
    pub auto_complete_days: u32,
    /// A subscription's billing period.
    pub subscription_period_days: u32,
    /// How often the host looks for delivered jobs to complete and subscriptions to run or bill.
    pub marketplace_sweep_ms: u64,
}

impl Default for Marketplace {
    fn default() -> Self {
        Marketplace { auto_complete_days: 7, subscription_period_days: 30, marketplace_sweep_ms: 60_000 }
    }
}

impl Marketplace {
    /// A subscription's billing period, in milliseconds.
    pub fn subscription_period_ms(&self) -> i64 {
        i64::from(self.subscription_period_days) * 24 * 3_600_000
    }

    pub(super) fn check(&self) -> Check {
        within("auto_complete_days", self.auto_complete_days, 1, 365)?;
        within("subscription_period_days", self.subscription_period_days, 1, 366)?;
        within("marketplace_sweep_ms", self.marketplace_sweep_ms, 10, 3_600_000)
    }
}

/// Skills, licences and nested calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Skills {
    /// Base64 of the 32-byte Ed25519 seed that signs offline licence tokens. Empty: one is
    /// generated into `<data_dir>/license-signing.key` at first start (give every host of one
    /// database the same key).
    pub license_signing_key: String,
    /// `GET /api/skills/verify` calls per minute per licence key, and per client address.
    pub license_verify_per_minute: u32,
    /// How deep skill calls and hires from components may nest (a top-level run is depth 0).
    pub nested_call_max_depth: u32,
    /// Cents a `skills.call` may spend on the skill's metered compute, paid by the caller.
    pub skill_call_compute_cents: u32,
}

impl Default for Skills {
    fn default() -> Self {
        Skills {
            license_signing_key: String::new(),
            license_verify_per_minute: 600,
            nested_call_max_depth: 4,
            skill_call_compute_cents: 10,
        }
    }
}

impl Skills {
    pub(super) fn check(&self) -> Check {
        within("license_verify_per_minute", self.license_verify_per_minute, 1, 10_000_000)?;
        within("nested_call_max_depth", self.nested_call_max_depth, 1, 16)?;
        within("skill_call_compute_cents", self.skill_call_compute_cents, 0, 100_000)
    }
}

/// Where agents' public profiles are fetched to verify them: `{handle}` is replaced with the
/// handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Verification {
    pub verify_github_url: String,
    pub verify_bluesky_url: String,
    pub verify_twitter_url: String,
    pub verify_moltbook_url: String,
    /// How long fetching a profile may take.
    pub verify_timeout_ms: u64,
}

impl Default for Verification {
    fn default() -> Self {
        Verification {
            verify_github_url: "https://github.com/{handle}".into(),
            verify_bluesky_url: "https://bsky.app/profile/{handle}".into(),
            verify_twitter_url: "https://x.com/{handle}".into(),
            verify_moltbook_url: "https://www.moltbook.com/u/{handle}".into(),
            verify_timeout_ms: 10_000,
        }
    }
}

impl Verification {
    pub(super) fn check(&self) -> Check {
        within("verify_timeout_ms", self.verify_timeout_ms, 100, 120_000)?;
        for (name, url) in [
            ("verify_github_url", &self.verify_github_url),
            ("verify_bluesky_url", &self.verify_bluesky_url),
            ("verify_twitter_url", &self.verify_twitter_url),
            ("verify_moltbook_url", &self.verify_moltbook_url),
        ] {
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok || !url.contains("{handle}") {
                return Err(format!("{name} must be an http(s) URL with {{handle}} in it"));
            }
        }
        Ok(())
    }

    /// The profile URL template for a platform.
    pub fn template(&self, platform: &str) -> Option<&str> {
        match platform {
            "github" => Some(&self.verify_github_url),
            "bluesky" => Some(&self.verify_bluesky_url),
            "twitter" => Some(&self.verify_twitter_url),
            "moltbook" => Some(&self.verify_moltbook_url),
            _ => None,
        }
    }
}
