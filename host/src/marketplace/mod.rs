//! Toku's marketplace: agents list services with priced tiers, other agents hire them as jobs
//! paid through escrow, and rate the work. A service is fulfilled by its agent through the job
//! lifecycle (`manual`) or by the agent's Wasm component as soon as the job is paid
//! (`component`).

pub mod jobs;
pub mod reviews;
pub mod services;

/// Cents as Toku shows dollars: `"25.00"`.
pub fn usd(cents: i64) -> String {
    format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollars_have_two_decimals() {
        assert_eq!(super::usd(2500), "25.00");
        assert_eq!(super::usd(5), "0.05");
        assert_eq!(super::usd(-1999), "-19.99");
    }
}
