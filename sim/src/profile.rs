//! Network profiles: how the simulated network behaves during a run. Every random choice comes from the run's
//! seed (madsim's RNG), so a profile never costs determinism.
//!
//! madsim's TCP is a reliable ordered channel: a packet that is lost or meets a clogged link is retried with
//! exponential backoff (1 ms doubling, capped at 10 s) and everything behind it waits — the head-of-line stall of
//! a real TCP retransmission. The profiles below are built from that: a global latency range, a loss rate, and
//! clog/unclog schedules driven by a task on the harness's own host.

use std::fmt;
use std::str::FromStr;
#[cfg(madsim)]
use std::time::Duration;

/// A named network profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// madsim's default: 1–10 ms per packet.
    Lan,
    /// 10–200 ms per packet, everywhere (round trips up to 400 ms).
    Wan,
    /// LAN latency, 10% of packets lost (each loss stalls its stream by the retry backoff).
    Lossy,
    /// LAN latency, but host n2 is paused 250 ms out of every 300 ms (a starved or GC-pausing process):
    /// everything it receives is handled, and everything it sends leaves, up to a quarter second late. Nodes join
    /// the first node's group, so n2 is a follower from its first MEET on. (Clogging its links instead would also refuse new
    /// connections, which a slow link does not do.)
    SlowFollower,
    /// LAN latency, and during the run random links between cluster hosts are clogged for 50–800 ms at random
    /// moments (the client's links stay up).
    Flaky,
    /// Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): the seed draws the network (latency up to
    /// 10, 50 or 200 ms; loss 0, 2, 5 or 10 %) and a fault schedule — at random moments a random host is killed
    /// and restarted, paused and resumed, cut off by a partition and healed, or one link clogged one way, each
    /// for 100 ms–4 s. Faults stop at the scenario's `settle`. Not one of the named profiles `compare` runs.
    Swarm,
}

impl Profile {
    /// The clock drift (percent) this profile gives node `node` (1-based) on `seed`: swarm draws one per node
    /// (half the nodes run true, the others up to 20 % fast or slow); the named profiles keep true clocks.
    pub fn drift_percent(self, seed: u64, node: usize) -> i32 {
        match self {
            Profile::Swarm => {
                let draw = splitmix(splitmix(seed) ^ node as u64);
                if draw % 2 == 0 {
                    0
                } else {
                    ((draw >> 8) % 41) as i32 - 20
                }
            }
            _ => 0,
        }
    }
}

/// One splitmix64 step: the swarm's draws made before the simulation exists (its network configuration).
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Profile {
    /// The named profiles, the columns `compare` runs (swarm, which draws its own network, is not one).
    pub const NAMED: [Profile; 5] = [Profile::Lan, Profile::Wan, Profile::Lossy, Profile::SlowFollower, Profile::Flaky];
    /// Every profile `--profile` and a scenario header accept.
    pub const EVERY: [Profile; 6] =
        [Profile::Lan, Profile::Wan, Profile::Lossy, Profile::SlowFollower, Profile::Flaky, Profile::Swarm];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Lan => "lan",
            Profile::Wan => "wan",
            Profile::Lossy => "lossy",
            Profile::SlowFollower => "slow-follower",
            Profile::Flaky => "flaky",
            Profile::Swarm => "swarm",
        }
    }

    /// madsim's network configuration for this profile.
    #[cfg(madsim)]
    pub fn net_config(self, seed: u64) -> madsim::net::Config {
        let mut net = madsim::net::Config::default();
        match self {
            Profile::Wan => net.send_latency = Duration::from_millis(10)..Duration::from_millis(200),
            Profile::Lossy => net.packet_loss_rate = 0.10,
            Profile::Swarm => {
                let draw = splitmix(seed);
                let max_ms = [10, 50, 200][(draw % 3) as usize];
                net.send_latency = Duration::from_millis(1)..Duration::from_millis(max_ms);
                net.packet_loss_rate = [0.0, 0.02, 0.05, 0.10][((draw >> 8) % 4) as usize];
            }
            Profile::Lan | Profile::SlowFollower | Profile::Flaky => {}
        }
        net
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile '{0}' (expected one of: {names})", names = Profile::EVERY.map(Profile::name).join(", "))]
pub struct ProfileParseError(pub String);

impl FromStr for Profile {
    type Err = ProfileParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::EVERY.into_iter().find(|p| p.name() == s).ok_or_else(|| ProfileParseError(s.to_string()))
    }
}
