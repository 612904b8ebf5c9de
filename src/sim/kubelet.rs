//! A fake kubelet for tests against the real apiserver, which proxies `pods/log`, `exec` and
//! `portforward` to the node's kubelet: HTTPS on loopback serving `/containerLogs`, `/exec` and
//! `/portForward` as a 1.20 kubelet does (WebSocket `v4.channel.k8s.io`), backed by the
//! simulator's log generator, fake shell and fake port service. Runs on its own runtime thread.

use super::server::{Body, log_options, log_response, percent_decode, query_map, status_response};
use super::stream::{ExecSpec, query_values, run_exec, run_port_forward, upgrade};
use super::{Certificates, SimError};
use http::{Method, Request, Response};
use std::convert::Infallible;

/// The stream protocols a 1.20 kubelet speaks over WebSocket.
const KUBELET_PROTOCOLS: [&str; 1] = ["v4.channel.k8s.io"];

/// A running fake kubelet; stops when dropped.
pub struct FakeKubelet {
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeKubelet {
    pub fn start() -> Result<Self, SimError> {
        let certificates = Certificates::generate()?;
        let acceptor = certificates.acceptor()?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let thread = std::thread::Builder::new().name("klieg-fake-kubelet".into()).spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let serve = async {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else { continue };
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(tcp).await else { return };
                            let service = hyper::service::service_fn(handle);
                            let builder =
                                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                            let _ = builder
                                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = shutdown_rx => {}
                }
            });
        })?;
        Ok(Self { port, shutdown: Some(shutdown_tx), thread: Some(thread) })
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(mut request: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_string();
    let segments: Vec<String> =
        path.trim_matches('/').split('/').map(|s| percent_decode(s).unwrap_or_else(|| s.to_string())).collect();
    let flag = |request: &Request<hyper::body::Incoming>, key: &str| {
        query_values(request.uri(), key).first().is_some_and(|v| v == "1" || v == "true")
    };
    let response = match (request.method(), segments.iter().map(String::as_str).collect::<Vec<_>>().as_slice()) {
        (&Method::GET, ["healthz"]) => status_response(200, "", "ok"),
        (&Method::GET, ["containerLogs", namespace, pod, container]) => {
            let options = log_options(&query_map(request.uri()));
            let started = jiff::Timestamp::now().as_second() - 600;
            log_response(format!("{namespace}/{pod}/{container}"), started, options, None)
        }
        (&Method::GET | &Method::POST, ["exec" | "attach", namespace, pod, container]) => {
            let command = if segments[0] == "attach" {
                vec!["/bin/sh".to_string()]
            } else {
                query_values(request.uri(), "command")
            };
            let spec = ExecSpec {
                command,
                stdin: flag(&request, "input"),
                tty: flag(&request, "tty"),
                namespace: namespace.to_string(),
                pod: pod.to_string(),
                container: container.to_string(),
            };
            upgrade(&mut request, &KUBELET_PROTOCOLS, move |ws, _| run_exec(ws, spec))
        }
        (&Method::GET | &Method::POST, ["portForward", namespace, pod]) => {
            let mut ports: Vec<u16> =
                query_values(request.uri(), "port").iter().filter_map(|p| p.parse().ok()).collect();
            if ports.is_empty() {
                ports = query_values(request.uri(), "ports")
                    .iter()
                    .flat_map(|v| v.split(',').filter_map(|p| p.trim().parse().ok()).collect::<Vec<u16>>())
                    .collect();
            }
            let (namespace, pod) = (namespace.to_string(), pod.to_string());
            upgrade(&mut request, &KUBELET_PROTOCOLS, move |ws, _| {
                run_port_forward(ws, namespace, pod, ports, Vec::new())
            })
        }
        _ => status_response(404, "NotFound", &format!("the fake kubelet does not serve {path}")),
    };
    Ok(response)
}
