//! Hostile, as a policy: misbehaves the way its settings say (`detail.settings.mode`): `spin`
//! never returns, `hog` allocates without end, `panic` panics; anything else allows. The host
//! must stop it and decide as the policy fails (closed, or open when configured so).

use agora_sdk::{Decision, Policy, ProposedAction};
use std::hint::black_box;

struct Rogue;

impl Policy for Rogue {
    fn check(action: ProposedAction) -> Decision {
        let detail: serde_json::Value = serde_json::from_str(&action.detail).unwrap_or_default();
        match detail["settings"]["mode"].as_str().unwrap_or("") {
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "hog" => {
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    for i in (0..chunk.len()).step_by(4096) {
                        chunk[i] = 0xa5;
                    }
                    held.push(black_box(chunk));
                }
            }
            "panic" => panic!("rogue policy panics on purpose"),
            other => Decision::Allow(format!("rogue policy in mode {other:?} allows")),
        }
    }
}

agora_sdk::export_policy!(Rogue);
