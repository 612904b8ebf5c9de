//! A TCP relay in front of a test API server that counts the connections a client opens through
//! it; in proxy mode it is an HTTP CONNECT proxy and records the targets asked for. Runs on its
//! own thread with its own runtime; stops when dropped.

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    open: AtomicUsize,
    connect_targets: Mutex<Vec<String>>,
}

pub struct Relay {
    pub port: u16,
    counts: Arc<Counts>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Relay {
    /// Forwards every connection to `target` ("host:port").
    pub fn forward_to(target: &str) -> Relay {
        Relay::start(Some(target.to_string()))
    }

    /// An HTTP CONNECT proxy: each connection says where it goes.
    pub fn connect_proxy() -> Relay {
        Relay::start(None)
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.open.load(Ordering::SeqCst)
    }

    pub fn connect_targets(&self) -> Vec<String> {
        self.counts.connect_targets.lock().clone()
    }

    fn start(target: Option<String>) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let counts = Arc::new(Counts::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread_counts = counts.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let accept_loop = async {
                    loop {
                        let Ok((socket, _)) = listener.accept().await else { continue };
                        thread_counts.accepted.fetch_add(1, Ordering::SeqCst);
                        thread_counts.open.fetch_add(1, Ordering::SeqCst);
                        let counts = thread_counts.clone();
                        let target = target.clone();
                        tokio::spawn(async move {
                            let _ = relay_one(socket, target, &counts).await;
                            counts.open.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                };
                tokio::select! {
                    () = accept_loop => {}
                    _ = stop_rx => {}
                }
            });
        });
        Relay { port, counts, _stop: stop_tx }
    }
}

async fn relay_one(socket: tokio::net::TcpStream, target: Option<String>, counts: &Counts) -> std::io::Result<()> {
    let mut client = BufReader::new(socket);
    let target = match target {
        Some(target) => target,
        None => {
            // "CONNECT host:port HTTP/1.1", headers, blank line.
            let mut request_line = String::new();
            client.read_line(&mut request_line).await?;
            loop {
                let mut header = String::new();
                client.read_line(&mut header).await?;
                if header.trim().is_empty() {
                    break;
                }
            }
            let mut parts = request_line.split_whitespace();
            let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
                client.get_mut().write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n").await?;
                return Ok(());
            };
            counts.connect_targets.lock().push(target.to_string());
            client.get_mut().write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
            target.to_string()
        }
    };
    let mut upstream = tokio::net::TcpStream::connect(&target).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
