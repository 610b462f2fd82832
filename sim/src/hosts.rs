//! The hosts of a run and what a scenario's words become on them: per-node facts (`{n2.port}`), the arguments a
//! word expands to, how a command is shown, and the normalization that turns node ids into `<nK>` names in
//! traces, snapshots and violations.
//!
//! Layer: above `scenario`, below everything that runs or judges (`client`, `check`, `executor`).

use std::net::IpAddr;

use bytes::Bytes;
use clustersim::meta::NodeId;

use crate::scenario::{print_word, Field, Piece, Scenario, Word};

/// Per-node facts templates resolve to.
#[derive(Clone, Debug)]
pub struct Host {
    /// `n1`, `n2`, …
    pub name: String,
    /// The host's 1-based position in the scenario (`n3` → 3): the index every history and view uses.
    pub number: usize,
    pub ip: IpAddr,
    pub port: u16,
    pub bus_port: u16,
    pub id: NodeId,
}

impl Host {
    /// Host `n<number>` at `ip:port`, its bus on Redis's port + 10000, its id `number` (AiKv's u64 ids).
    /// `None` when the bus port would pass 65535.
    pub fn new(number: usize, ip: IpAddr, port: u16) -> Option<Host> {
        let bus_port = clustersim::cluster::bus_port_of(port)?;
        Some(Host { name: format!("n{number}"), number, ip, port, bus_port, id: NodeId::from_u64(number as u64) })
    }
}

/// The simulated hosts: `n1..nN` at [`sim_ip`]`(i)`, port `base_port + i - 1`.
pub fn hosts(scenario: &Scenario) -> Vec<Host> {
    (1..=scenario.header.nodes)
        .map(|i| {
            let port = scenario.header.base_port + (i as u16 - 1);
            Host::new(i, sim_ip(i), port).expect("the scenario parser keeps base-port + nodes + 10000 within 65535")
        })
        .collect()
}

/// Node `i`'s address in the simulated network: 10.0.0.i for the first 254 nodes (every scenario's traces and
/// snapshots name these), then 10.0.(2 + i / 254).(1 + i % 254): clear of the client host (10.0.1.1), never
/// ending in 0 or 255, one address per node up to the scenario limit (1,000 nodes end in 10.0.5.x).
pub fn sim_ip(i: usize) -> IpAddr {
    if (1..=254).contains(&i) {
        IpAddr::from([10, 0, 0, i as u8])
    } else {
        let high = 2 + i / 254;
        IpAddr::from([10, 0, high as u8, (1 + i % 254) as u8])
    }
}

fn field_value(host: &Host, field: Field) -> String {
    match field {
        Field::Ip => host.ip.to_string(),
        Field::Port => host.port.to_string(),
        Field::Bus => host.bus_port.to_string(),
        Field::Id => host.id.to_string(),
    }
}

/// Appends the arguments `word` expands to: a range `{a..b}` to one argument per number, anything else to one
/// argument with its `{nK.field}` variables resolved.
pub fn expand(word: &Word, hosts: &[Host], out: &mut Vec<Bytes>) {
    match word {
        Word::Range { start, end } if *end < SMALL_NUMBERS => {
            // Slot numbers: static slices of one process-wide text, neither formatted nor reference-counted.
            let numbers = small_numbers();
            out.extend((*start..=*end).map(|n| Bytes::from_static(numbers.get(n).as_bytes())));
        }
        Word::Range { start, end } => {
            // One buffer for the whole range, each argument a slice of it (`{0..5460}` is 5,461 arguments).
            // Room for every number up front (at most five digits: slots, ports), so nothing is copied on growth.
            // (A reservation, not a bound: capped, though the parser already refuses ranges past its ARGS_MAX.)
            let count = (end.saturating_sub(*start) as usize + 1).min(1 << 16);
            let mut text = String::with_capacity(count * 5);
            let mut ends = Vec::with_capacity(count);
            out.reserve(count);
            let mut number = itoa::Buffer::new();
            for n in *start..=*end {
                text.push_str(number.format(n));
                ends.push(text.len());
            }
            let text = Bytes::from(text);
            let mut from = 0;
            out.extend(ends.into_iter().map(|to| {
                let arg = text.slice(from..to);
                from = to;
                arg
            }));
        }
        Word::Pieces(pieces) => {
            let mut text = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => text.push_str(t),
                    Piece::Var { node, field } => text.push_str(&field_value(&hosts[node - 1], *field)),
                }
            }
            out.push(Bytes::from(text));
        }
    }
}

/// Numbers below this (every slot) expand to static text.
const SMALL_NUMBERS: u32 = 16_384;

/// The decimal text of every number below [`SMALL_NUMBERS`], built once per process (80 KB).
struct SmallNumbers {
    text: &'static str,
    /// Where the text of `n` ends (it starts where that of `n - 1` ends).
    ends: Vec<u32>,
}

impl SmallNumbers {
    fn get(&self, n: u32) -> &'static str {
        let end = self.ends[n as usize] as usize;
        let start = if n == 0 { 0 } else { self.ends[n as usize - 1] as usize };
        &self.text[start..end]
    }
}

fn small_numbers() -> &'static SmallNumbers {
    static NUMBERS: std::sync::LazyLock<SmallNumbers> = std::sync::LazyLock::new(|| {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(SMALL_NUMBERS as usize);
        let mut number = itoa::Buffer::new();
        for n in 0..SMALL_NUMBERS {
            text.push_str(number.format(n));
            ends.push(text.len() as u32);
        }
        SmallNumbers { text: Box::leak(text.into_boxed_str()), ends }
    });
    &NUMBERS
}

/// The arguments of a whole command.
pub fn expand_all(words: &[Word], hosts: &[Host]) -> Vec<Bytes> {
    let mut args = Vec::new();
    for w in words {
        expand(w, hosts, &mut args);
    }
    args
}

/// A word's expansion as one text (a range's numbers joined by spaces).
pub fn resolve_one(word: &Word, hosts: &[Host]) -> String {
    let mut v = Vec::new();
    expand(word, hosts, &mut v);
    v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<Vec<_>>().join(" ")
}

/// How a command is shown in traces: variables resolved, ranges kept folded (`{0..5460}`).
pub fn show_command(words: &[Word], hosts: &[Host]) -> String {
    words
        .iter()
        .map(|w| match w {
            Word::Range { .. } => print_word(w),
            Word::Pieces(_) => resolve_one(w, hosts),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces every host id with `<nK>`, so traces and snapshots read as names. One pass over the text: every
/// window of 40 lowercase hex digits that is a host's id is replaced (inside a longer hex run too, as a plain
/// text replace would), anything else is copied.
///
/// Runs of 40 hex digits are found skipping ahead: if a window of 40 bytes holds a byte that is not hex, no run
/// of 40 starts at or before it, so the search goes on right after the last such byte (most of a trace is words,
/// so most windows are left after looking at a few of their last bytes, not at all 40).
pub fn normalize(text: &str, hosts: &[Host]) -> String {
    const W: usize = NodeId::HEX_LEN;
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut i) = (0, 0);
    while i + W <= bytes.len() {
        if let Some(last) = bytes[i..i + W].iter().rposition(|b| !is_hex(*b)) {
            i += last + 1;
            continue;
        }
        // `i` starts a run of hex digits (the byte before it, if any, is not hex) at least 40 long.
        let run_end = i + W + bytes[i + W..].iter().take_while(|b| is_hex(**b)).count();
        while i + W <= run_end {
            match NodeId::parse(&bytes[i..i + W]).and_then(|id| host_by_id(&id, hosts)) {
                Some(host) => {
                    out.push_str(&text[copied..i]);
                    out.push('<');
                    out.push_str(&host.name);
                    out.push('>');
                    i += W;
                    copied = i;
                }
                None => i += 1,
            }
        }
        i = run_end;
    }
    out.push_str(&text[copied..]);
    out
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// The host with this id: first where the harness puts it (host K has `NodeId::from_u64(K)`), else by search
/// (ids a real server chose itself).
fn host_by_id<'h>(id: &NodeId, hosts: &'h [Host]) -> Option<&'h Host> {
    let guess = id.to_u64().and_then(|k| hosts.get(usize::try_from(k).ok()?.checked_sub(1)?));
    guess.filter(|h| h.id == *id).or_else(|| hosts.iter().find(|h| h.id == *id))
}

/// The host whose id is exactly `id` (raw 40 hex digits, or `<nK>` once normalized). Hosts are numbered from 1
/// in order (`hosts`, `real::hosts`): `nK` is `hosts[K - 1]`.
pub fn host_of_id(id: &str, hosts: &[Host]) -> Option<usize> {
    if let Some(k) = id.strip_prefix("<n").and_then(|r| r.strip_suffix('>')).and_then(|k| k.parse::<usize>().ok()) {
        return hosts.get(k.checked_sub(1)?).map(|h| h.number);
    }
    NodeId::parse(id.as_bytes()).and_then(|id| host_by_id(&id, hosts)).map(|h| h.number)
}

/// The host listening on `ip:port`.
pub fn host_at(ip: &str, port: &str, hosts: &[Host]) -> Option<usize> {
    hosts.iter().find(|h| h.ip.to_string() == ip && h.port.to_string() == port).map(|h| h.number)
}

/// Lines of a CLUSTER NODES-like reply that start with a 40-hex id (AiKv's `grep -cE '^[0-9a-f]{40}'`).
pub fn known_node_count(text: &str) -> usize {
    text.lines()
        .filter(|l| l.len() >= 40 && l.as_bytes()[..40].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<Host> {
        hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    #[test]
    fn hosts_are_numbered_from_one_with_the_bus_on_port_plus_10000() {
        let h = three();
        assert_eq!(
            h.iter().map(|h| (h.number, h.port, h.bus_port)).collect::<Vec<_>>(),
            [(1, 6379, 16379), (2, 6380, 16380), (3, 6381, 16381)]
        );
        assert_eq!(h[2].name, "n3");
    }

    #[test]
    fn a_host_whose_bus_port_would_pass_65535_is_refused() {
        assert!(Host::new(1, IpAddr::from([127, 0, 0, 1]), 55_535).is_some());
        assert!(Host::new(1, IpAddr::from([127, 0, 0, 1]), 55_536).is_none());
    }

    #[test]
    fn normalize_replaces_every_host_id_and_nothing_else() {
        let mut h = three();
        h[2].id = NodeId::from_bytes([0xab; 20]); // an id the server chose itself
        let (a, b, c) = (h[0].id.to_string(), h[1].id.to_string(), h[2].id.to_string());
        let other = "0123456789abcdef0123456789abcdef01234567";
        let text = format!("{a} {b}@x\n{c}{a} f{b} {other} {} {a}", &a[..39]);
        assert_eq!(normalize(&text, &h), format!("<n1> <n2>@x\n<n3><n1> f<n2> {other} {} <n1>", &a[..39]));
        assert_eq!(normalize("", &h), "");
        assert_eq!(normalize("héllo ✓", &h), "héllo ✓");
    }

    /// The byte-by-byte scan `normalize` replaced: every maximal run of hex digits, windows tried left to right.
    fn normalize_by_scanning(text: &str, hosts: &[Host]) -> String {
        let bytes = text.as_bytes();
        let mut out = String::new();
        let (mut copied, mut i) = (0, 0);
        while i < bytes.len() {
            if !is_hex(bytes[i]) {
                i += 1;
                continue;
            }
            let run_end = i + bytes[i..].iter().take_while(|b| is_hex(**b)).count();
            while i + 40 <= run_end {
                match NodeId::parse(&bytes[i..i + 40]).and_then(|id| host_by_id(&id, hosts)) {
                    Some(host) => {
                        out.push_str(&text[copied..i]);
                        out.push_str(&format!("<{}>", host.name));
                        i += 40;
                        copied = i;
                    }
                    None => i += 1,
                }
            }
            i = run_end;
        }
        out.push_str(&text[copied..]);
        out
    }

    proptest::proptest! {
        /// Texts made of host ids, parts of them, other hex, words and separators, in any order.
        #[test]
        fn normalize_skipping_ahead_finds_what_a_byte_by_byte_scan_finds(
            pieces in proptest::collection::vec((0usize..8, 0usize..40), 0..40)
        ) {
            let mut h = three();
            h[2].id = NodeId::from_bytes([0xab; 20]);
            let ids: Vec<String> = h.iter().map(|h| h.id.to_string()).collect();
            let mut text = String::new();
            for (kind, n) in pieces {
                match kind {
                    0..=2 => text.push_str(&ids[kind]),
                    3 => text.push_str(&ids[n % 3][..n]),
                    4 => text.push_str(&ids[n % 3][n..]),
                    5 => text.push_str(&"0123456789abcdef".repeat(3)[..n]),
                    6 => text.push_str(["kind=apply ", "x", "\n", "é", " ", "@", "Z"][n % 7]),
                    _ => text.push_str(&"f".repeat(n)),
                }
            }
            proptest::prop_assert_eq!(normalize(&text, &h), normalize_by_scanning(&text, &h));
        }
    }

    #[test]
    fn a_range_expands_to_one_argument_per_number() {
        let mut out = Vec::new();
        expand(&Word::Range { start: 9, end: 11 }, &three(), &mut out);
        assert_eq!(out, ["9", "10", "11"]);
        expand(&Word::Range { start: 0, end: 0 }, &three(), &mut out);
        assert_eq!(out, ["9", "10", "11", "0"]);
    }

    /// Ranges of slots (static text) and past them (formatted) give every number's decimal text, across the
    /// boundary between the two.
    #[test]
    fn every_number_of_a_range_is_its_decimal_text_on_both_sides_of_the_static_table() {
        for (start, end) in [(0, 16_383), (16_380, 16_390), (65_530, 65_540), (4_294_967_290, 4_294_967_295)] {
            let mut out = Vec::new();
            expand(&Word::Range { start, end }, &three(), &mut out);
            let expected: Vec<String> = (start..=end).map(|n| n.to_string()).collect();
            assert_eq!(out, expected, "{{{start}..{end}}}");
        }
    }

    #[test]
    fn a_thousand_hosts_get_distinct_addresses_none_the_clients() {
        let ips: std::collections::BTreeSet<IpAddr> = (1..=1000).map(sim_ip).collect();
        assert_eq!(ips.len(), 1000);
        assert!(!ips.contains(&IpAddr::from([10, 0, 1, 1])));
        assert!(ips.iter().all(|ip| matches!(ip, IpAddr::V4(v4) if !matches!(v4.octets()[3], 0 | 255))));
        assert_eq!(sim_ip(254), IpAddr::from([10, 0, 0, 254]));
    }

    #[test]
    fn ids_are_found_raw_or_normalized_and_addresses_by_ip_and_port() {
        let h = three();
        assert_eq!(host_of_id(&h[1].id.to_string(), &h), Some(2));
        assert_eq!(host_of_id("<n3>", &h), Some(3));
        assert_eq!(host_of_id("<n4>", &h), None);
        assert_eq!(host_at("10.0.0.1", "6379", &h), Some(1));
        assert_eq!(host_at("10.0.0.1", "6380", &h), None);
        assert_eq!(normalize(&format!("{} x", h[0].id), &h), "<n1> x");
        assert_eq!(host_of_id(&"f".repeat(40), &h), None);
    }
}
