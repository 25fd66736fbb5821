//! The listener clients connect to. It reads the request line of each connection without
//! consuming it, resets the connection (an RST, as a device that dropped off the network or is
//! rebooting gives) when it is for a device switched offline, and otherwise relays it to the
//! HTTP server. One listener serves every device, so "offline" cannot be a refused connect;
//! a reset right after connecting is the transport-level failure a client sees instead.
//!
//! The HTTP server closes every connection after one answer, so each request arrives on a
//! connection of its own and is judged here (a kept-alive connection would slip past a device
//! switched offline after it was opened).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::core::Core;

/// Longest wait for a request line before the connection is relayed as it is.
const REQUEST_LINE_WAIT: Duration = Duration::from_secs(2);

/// Accepts connections on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, backend: SocketAddr, core: Arc<Core>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let core = core.clone();
        tokio::spawn(async move { relay(stream, backend, &core).await });
    }
}

async fn relay(mut client: TcpStream, backend: SocketAddr, core: &Core) {
    let offline = device_of(&client).await.is_some_and(|id| core.is_offline(&id));
    if offline {
        // SO_LINGER 0: closing sends RST instead of FIN, so the client's read fails at once.
        let _ = client.set_zero_linger();
        return;
    }
    let Ok(mut server) = TcpStream::connect(backend).await else { return };
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// The device id of the request on `stream` (`/devices/{id}/…`), read with `peek` so the
/// bytes stay for the server.
async fn device_of(stream: &TcpStream) -> Option<String> {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + REQUEST_LINE_WAIT;
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            let line = std::str::from_utf8(&buf[..end]).ok()?;
            return device_in(line.split(' ').nth(1)?);
        }
        if n == buf.len() || tokio::time::Instant::now() >= deadline {
            return None;
        }
        // peek returns what has arrived so far; wait for the rest of the line.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn device_in(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/devices/")?;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::device_in;

    #[test]
    fn only_device_paths_name_a_device() {
        assert_eq!(device_in("/devices/room-1/putxml").as_deref(), Some("room-1"));
        assert_eq!(device_in("/devices/room-1?x").as_deref(), Some("room-1"));
        assert_eq!(device_in("/_sim/devices/room-1/bookings"), None);
        assert_eq!(device_in("/devices/"), None);
    }
}
