//! `clustersim-node`: one Redis-Cluster metadata node on real TCP.
//!
//! Build it in the real flavour (no `--cfg madsim`): see README, "Build flavours". In the simulation flavour
//! there are no real sockets to serve on, so that build only says so: cargo builds the binary for the package's
//! integration tests, and compiling the server into it cost about 75 s of CI's simulation build for nothing.

#[cfg(madsim)]
fn main() {
    eprintln!(
        "clustersim-node: this is the simulation build (--cfg madsim), which serves nothing; build the real one: \
         RUSTFLAGS= CARGO_TARGET_DIR=target/real cargo build --bin clustersim-node"
    );
    std::process::exit(2);
}

#[cfg(not(madsim))]
fn main() {
    real::main();
}

#[cfg(not(madsim))]
mod real {
    use clap::Parser;
    use clustersim::meta::NodeId;
    use clustersim::server::{serve, Node, NodeConfig, Strategy};

    #[derive(Parser, Debug)]
    #[command(
        name = "clustersim-node",
        version,
        about = "A Redis-Cluster metadata node (clustersim's code under test)"
    )]
    struct Args {
        /// Client port (RESP).
        #[arg(long)]
        port: u16,
        /// Address to bind both listeners to, and to announce to other nodes.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Cluster bus port (default: port + 10000).
        #[arg(long)]
        bus_port: Option<u16>,
        /// Node id, 40 lowercase hex digits (default: random).
        #[arg(long, value_parser = parse_node_id)]
        node_id: Option<NodeId>,
        /// Metadata consistency strategy: `read-index` (the default and the correct one: every metadata write commits
        /// through the Raft group before its reply, every read is linearizable), or a weaker design the harness
        /// reproduces on purpose: `commit-then-sleep` (AiKv's "fix": commit, then sleep 200 ms), `fire-and-forget`
        /// (reply before the commit), `local-only` (AiKv's history: a node's table is never shared).
        #[arg(long, default_value = "read-index", value_parser = parse_strategy)]
        strategy: Strategy,
        /// Data directory: the node's Raft vote, log and applied table, fsync'd before each is acknowledged. A node
        /// restarted on its directory comes back as the same node, in the same cluster. Without it, state lives in
        /// memory and a restarted node starts as a cluster of one. Raft strategies only.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    }

    fn parse_node_id(text: &str) -> Result<NodeId, String> {
        NodeId::parse(text.as_bytes()).ok_or_else(|| "a node id is 40 lowercase hex digits".to_string())
    }

    fn parse_strategy(text: &str) -> Result<Strategy, String> {
        text.parse().map_err(|e: clustersim::server::StrategyParseError| e.to_string())
    }

    #[tokio::main]
    pub async fn main() {
        let args = Args::parse();
        tracing_subscriber::fmt()
            .with_env_filter(
                // openraft's logs and the bus's per-message lines stay out unless asked for (RUST_LOG=info).
                tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                    "info,openraft=warn,clustersim::server::bus=warn,clustersim::raft_event=off".into()
                }),
            )
            .with_writer(std::io::stderr)
            .init();
        let Some(bus_port) = args.bus_port.or_else(|| clustersim::cluster::bus_port_of(args.port)) else {
            eprintln!("clustersim-node: --port {} leaves no room for the default bus port; pass --bus-port", args.port);
            std::process::exit(2);
        };
        let disk = match &args.dir {
            None => clustersim::raft::Disk::new(),
            Some(_) if !args.strategy.behaviour().uses_raft => {
                eprintln!(
                    "clustersim-node: --dir keeps Raft state, and --strategy local-only has none; pick a Raft strategy"
                );
                std::process::exit(2);
            }
            Some(dir) => match clustersim::raft::Disk::open(dir) {
                Ok(disk) => disk,
                Err(e) => {
                    eprintln!("clustersim-node: refusing to start: {e}");
                    std::process::exit(1);
                }
            },
        };
        let node_id = match (disk.node_id(), args.node_id) {
            (Some(kept), Some(asked)) if kept != asked => {
                eprintln!("clustersim-node: --node-id {asked} differs from the id {kept} kept in the data directory");
                std::process::exit(2);
            }
            (Some(kept), _) => kept,
            (None, asked) => asked.unwrap_or_else(clustersim::raft::rt::random_node_id),
        };
        let mut config = NodeConfig::with_bus_port(node_id, args.bind, args.port, bus_port);
        config.strategy = args.strategy;
        config.disk = disk;
        if let Err(e) = serve(Node::new(config)).await {
            eprintln!("clustersim-node: {e}");
            std::process::exit(1);
        }
    }
}
