//! A TCP proxy on 127.0.0.1 that can take its target away and bring it back: while it is down, every
//! open connection is cut and new ones are closed at once, which is what a client sees when a
//! database server restarts or the network between them fails.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy; it stops when dropped.
pub struct OutageProxy {
    addr: SocketAddr,
    down: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OutageProxy {
    /// Listens on a free loopback port and relays each connection to `target` (`HOST:PORT`).
    pub async fn start(target: &str) -> std::io::Result<OutageProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (down, _) = watch::channel(false);
        let down = Arc::new(down);
        let (target, relay_down) = (target.to_owned(), down.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *relay_down.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(relay(client, target.clone(), relay_down.subscribe()));
            }
        });
        Ok(OutageProxy { addr, down, task })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every connection and refuses new ones until [`OutageProxy::restore`].
    pub fn cut(&self) {
        self.down.send_replace(true);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.down.send_replace(false);
    }
}

async fn relay(mut client: TcpStream, target: String, mut down: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&target).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = down.wait_for(|d| *d) => {}
    }
}
