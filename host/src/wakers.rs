//! Wake-ups by key within this host: one watch per key that someone waits on (an agent's inbox,
//! an A2A task), bumped after a commit that changed what the key names. A waiter re-reads the
//! database when woken, so a wake-up carries nothing and a missed one costs only a poll.

use dashmap::DashMap;
use tokio::sync::watch;

#[derive(Default)]
pub struct Wakers {
    watching: DashMap<String, watch::Sender<()>>,
}

impl Wakers {
    pub fn wake(&self, key: &str) {
        let gone = match self.watching.get(key) {
            Some(sender) => sender.send(()).is_err(),
            None => false,
        };
        if gone {
            // Nobody waits any more: forget the key unless a waiter came meanwhile.
            self.watching.remove_if(key, |_, sender| sender.receiver_count() == 0);
        }
    }

    /// How many wait on `key` on this host.
    pub fn watchers(&self, key: &str) -> usize {
        self.watching.get(key).map_or(0, |sender| sender.receiver_count())
    }

    pub fn watch(&self, key: &str) -> watch::Receiver<()> {
        self.watching.entry(key.to_string()).or_insert_with(|| watch::channel(()).0).subscribe()
    }
}
