//! A policy: actions outside office hours are denied. `settings`: `{"open_hour": 9,
//! "close_hour": 17, "utc_offset_minutes": 0}` (the hours of the local day, open ≤ hour <
//! close). The time is the host's, given as `detail.now_ms`, so the decision is a pure function
//! of the action.

use agora_sdk::{Decision, Policy, ProposedAction};

struct OfficeHours;

impl Policy for OfficeHours {
    fn check(action: ProposedAction) -> Decision {
        let detail: serde_json::Value = serde_json::from_str(&action.detail).unwrap_or_default();
        let settings = &detail["settings"];
        let hour = |field: &str, default: i64| settings[field].as_i64().unwrap_or(default);
        let Some(now_ms) = detail["now_ms"].as_i64() else {
            return Decision::Deny("the action carries no time (detail.now_ms)".into());
        };
        decide(now_ms, hour("utc_offset_minutes", 0), hour("open_hour", 9), hour("close_hour", 17))
    }

    fn validate_settings(settings: &serde_json::Value) -> Result<(), String> {
        let fields = settings.as_object().ok_or("settings must be a JSON object")?;
        let bounds = [("open_hour", 0, 24), ("close_hour", 0, 24), ("utc_offset_minutes", -14 * 60, 14 * 60)];
        for (field, value) in fields {
            let Some(&(_, low, high)) = bounds.iter().find(|(name, ..)| name == field) else {
                return Err(format!(
                    "unknown setting {field:?}: office-hours takes open_hour, close_hour and utc_offset_minutes"
                ));
            };
            if !value.as_i64().is_some_and(|v| (low..=high).contains(&v)) {
                return Err(format!("{field} must be a whole number from {low} to {high}"));
            }
        }
        Ok(())
    }
}

agora_sdk::export_policy!(OfficeHours);

pub fn decide(now_ms: i64, utc_offset_minutes: i64, open: i64, close: i64) -> Decision {
    let local_minutes = (now_ms / 60_000 + utc_offset_minutes).rem_euclid(24 * 60);
    let hour = local_minutes / 60;
    if (open..close).contains(&hour) {
        Decision::Allow(format!("{hour:02}:{:02} is within office hours ({open}-{close})", local_minutes % 60))
    } else {
        Decision::Deny(format!("{hour:02}:{:02} is outside office hours ({open}-{close})", local_minutes % 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn open_hours_allow_the_rest_deny() {
        let day = 1_700_006_400_000 - 1_700_006_400_000 % (24 * HOUR);
        assert!(matches!(decide(day + 10 * HOUR, 0, 9, 17), Decision::Allow(_)));
        assert!(matches!(decide(day + 17 * HOUR, 0, 9, 17), Decision::Deny(_)));
        assert!(matches!(decide(day + 3 * HOUR, 0, 9, 17), Decision::Deny(_)));
        // 03:00 UTC is 10:00 at UTC+7.
        assert!(matches!(decide(day + 3 * HOUR, 7 * 60, 9, 17), Decision::Allow(_)));
    }
}
