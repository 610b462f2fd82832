//! The cluster bus: a second listener (port + 10000 by default, as in Redis) for node-to-node messages.
//!
//! Frames are a 4-byte big-endian length followed by a JSON payload: what crosses the wire in the simulation is
//! what crosses it for real. Every exchange has a deadline; every frame has a size bound.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Node;
use crate::meta::{NodeInfo, SlotSpan};

/// Largest bus frame accepted, in bytes.
pub const FRAME_BYTES_MAX: usize = 16 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BusRequest {
    /// Who are you? (Redis's MEET handshake: learns the peer's id and what it serves.)
    Hello,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BusReply {
    Hello { node: NodeInfo, slots: Vec<SlotSpan> },
    Error(String),
}

pub(super) async fn accept_loop(node: Arc<Node>, listener: TcpListener) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else { return };
        let node = node.clone();
        tokio::spawn(async move { serve_bus_connection(node, stream).await });
    }
}

async fn serve_bus_connection(node: Arc<Node>, mut stream: TcpStream) {
    loop {
        let request: BusRequest = match read_frame(&mut stream).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "bus: dropping connection");
                return;
            }
        };
        let reply = match request {
            BusRequest::Hello => {
                let (node_entry, slots) = node.meta.read_local(|s| {
                    let me = s.node(&node.id()).cloned().unwrap_or_else(|| node.config.initial_entry());
                    (me, s.slot_runs_of(&node.id()))
                });
                BusReply::Hello { node: node_entry, slots }
            }
        };
        if write_frame(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// Asks the node at `ip:bus_port` who it is.
pub async fn hello(ip: &str, bus_port: u16, timeout_ms: u64) -> Result<(NodeInfo, Vec<SlotSpan>), String> {
    let exchange = async {
        let mut stream = TcpStream::connect((ip, bus_port)).await.map_err(|e| e.to_string())?;
        write_frame(&mut stream, &BusRequest::Hello).await.map_err(|e| e.to_string())?;
        match read_frame::<BusReply>(&mut stream).await.map_err(|e| e.to_string())? {
            Some(BusReply::Hello { node, slots }) => Ok((node, slots)),
            Some(BusReply::Error(e)) => Err(e),
            None => Err("connection closed".to_string()),
        }
    };
    match tokio::time::timeout(Duration::from_millis(timeout_ms), exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {timeout_ms} ms")),
    }
}

pub(crate) async fn write_frame<T: Serialize>(stream: &mut TcpStream, value: &T) -> std::io::Result<()> {
    let payload = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    if payload.len() > FRAME_BYTES_MAX {
        return Err(std::io::Error::other("bus frame too large"));
    }
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// `Ok(None)` on a clean end of stream before a frame starts.
pub(crate) async fn read_frame<T: for<'de> Deserialize<'de>>(stream: &mut TcpStream) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(std::io::Error::other(format!("bus frame of {len} bytes exceeds {FRAME_BYTES_MAX}")));
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    serde_json::from_slice(&payload).map(Some).map_err(std::io::Error::other)
}
