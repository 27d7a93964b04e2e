//! Where a scenario's CPU time went: the server process, this benchmark process (the
//! clients), and everything else on the machine (a PostgreSQL server's backends, mostly), read
//! from `/proc` before and after the scenario. With the clients and the server on the same
//! cores, a scenario that keeps the machine busy is CPU-bound, and the server's CPU per
//! request bounds its rate on these cores.

use serde_json::{json, Value};

#[derive(Clone, Copy)]
pub struct Snapshot {
    server_pid: u32,
    machine_busy: u64,
    machine_total: u64,
    server: u64,
    client: u64,
}

fn ticks_per_second() -> f64 {
    100.0 // USER_HZ on Linux
}

/// utime + stime of a process, in ticks.
fn process_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// Busy and total ticks of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

impl Snapshot {
    pub fn take(server_pid: u32) -> Snapshot {
        let (machine_busy, machine_total) = machine_ticks();
        let (server, client) = (process_ticks(&server_pid.to_string()), process_ticks("self"));
        Snapshot { server_pid, machine_busy, machine_total, server, client }
    }

    /// The CPU spent since `self`.
    pub fn since(&self) -> Usage {
        let now = Snapshot::take(self.server_pid);
        Usage {
            busy: now.machine_busy - self.machine_busy,
            total: now.machine_total - self.machine_total,
            server: now.server - self.server,
            client: now.client - self.client,
        }
    }
}

/// CPU spent over a stretch of time (or several, added), in ticks.
#[derive(Clone, Copy, Default)]
pub struct Usage {
    busy: u64,
    total: u64,
    server: u64,
    client: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.busy += o.busy;
        self.total += o.total;
        self.server += o.server;
        self.client += o.client;
    }
}

impl Usage {
    /// Per request, in µs, and how busy the machine was.
    pub fn per_request(&self, requests: usize) -> Value {
        let per_request = |ticks: u64| ticks as f64 / ticks_per_second() * 1e6 / requests.max(1) as f64;
        json!({
            "server_cpu_us": per_request(self.server),
            "client_cpu_us": per_request(self.client),
            "other_cpu_us": per_request(self.busy.saturating_sub(self.server + self.client)),
            "machine_busy": self.busy as f64 / self.total.max(1) as f64,
        })
    }
}
