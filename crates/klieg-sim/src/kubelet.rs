//! A fake kubelet for tests against the real apiserver, which proxies `pods/log`, `exec` and
//! `portforward` to the node's kubelet: HTTPS on loopback serving `/containerLogs`, `/exec` and
//! `/portForward` as a 1.20 kubelet does (WebSocket `v4.channel.k8s.io`), backed by the
//! simulator's log generator, fake shell and fake port service. Runs on its own runtime thread.

use super::SimError;
use super::server::{Body, log_options, log_response, percent_decode, query_map, status_response};
use super::stream::{ExecSpec, query_values, run_exec, run_port_forward, upgrade};
use http::{Method, Request, Response};
use std::convert::Infallible;

/// The stream protocols a 1.20 kubelet speaks over WebSocket.
const KUBELET_PROTOCOLS: [&str; 1] = ["v4.channel.k8s.io"];

/// A running fake kubelet; stops when dropped.
pub struct FakeKubelet {
    pub port: u16,
    _server: super::LoopbackServer,
}

impl FakeKubelet {
    pub fn start() -> Result<Self, SimError> {
        let server = super::LoopbackServer::start("klieg-fake-kubelet", handle)?;
        Ok(Self { port: server.port, _server: server })
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
