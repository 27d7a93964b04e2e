//! Hostile, as a message handler: misbehaves the way the message says: `spin` never returns,
//! `hog` allocates without end, `panic` panics; anything else is answered. The host must stop
//! it within the run's limits, bill its agent, and keep answering other messages.

use agora_sdk::{Action, Handler, Message};
use std::hint::black_box;

struct Rogue;

impl Handler for Rogue {
    fn on_message(message: Message) -> Action {
        match message.content.trim() {
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
            "panic" => panic!("rogue handler panics on purpose"),
            other => Action::Reply(format!("still here: {other}")),
        }
    }
}

agora_sdk::export_handler!(Rogue);
