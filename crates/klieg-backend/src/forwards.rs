//! Port-forwards: a loopback listener per forward; each accepted connection opens its own
//! port-forward stream to the pod (for a Service, a pod chosen by its selector, chosen again after
//! a failure), so a forward outlives pod restarts and reconnects. Backend runtime.

use super::{ClientMap, Waker};
use k8s_openapi::api::core::v1::{Pod, Service};
use klieg_model::{ForwardInfo, ForwardList, ForwardRequest, ForwardState};
use kube::api::{Api, ListParams};
use parking_lot::Mutex;
use rust_i18n::t;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Forwards {
    list: Arc<Mutex<ForwardList>>,
    tasks: Arc<Mutex<HashMap<u64, tokio::task::JoinHandle<()>>>>,
    out: watch::Sender<Arc<ForwardList>>,
    waker: Waker,
}

impl Forwards {
    pub fn new(out: watch::Sender<Arc<ForwardList>>, waker: Waker) -> Self {
        Self { list: Arc::default(), tasks: Arc::default(), out, waker }
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut ForwardInfo)) {
        let mut list = self.list.lock();
        if let Some(info) = list.forwards.iter_mut().find(|f| f.id == id) {
            change(info);
        }
        list.generation += 1;
        self.out.send_replace(Arc::new(list.clone()));
        (self.waker)();
    }

    pub fn start(&self, clients: &ClientMap, id: u64, request: ForwardRequest) {
        {
            let mut list = self.list.lock();
            list.forwards.push(ForwardInfo {
                id,
                request: request.clone(),
                local_port: None,
                pod: None,
                pod_port: None,
                state: ForwardState::Starting,
                connections: 0,
            });
        }
        self.update(id, |_| {});
        let Some(connected) = clients.get(&request.target.key.cluster) else {
            self.update(id, |f| {
                f.state = ForwardState::Failed { error: Arc::from(t!("backend.not_connected").as_ref()) }
            });
            return;
        };
        let client = connected.upgrades.clone();
        let this = self.clone();
        let task = tokio::spawn(async move { this.serve(client, id, request).await });
        self.tasks.lock().insert(id, task);
    }

    /// Stops a forward. It leaves the list only once its task has ended and the local port is
    /// closed, so a forward shown as gone never still accepts connections.
    pub fn stop(&self, id: u64) {
        let task = self.tasks.lock().remove(&id);
        let this = self.clone();
        tokio::spawn(async move {
            if let Some(task) = task {
                task.abort();
                // Cancelled is the expected ending.
                let _ = task.await;
            }
            let mut list = this.list.lock();
            list.forwards.retain(|f| f.id != id);
            list.generation += 1;
            this.out.send_replace(Arc::new(list.clone()));
            (this.waker)();
        });
    }

    async fn serve(self, client: kube::Client, id: u64, request: ForwardRequest) {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", request.local_port.unwrap_or(0))).await {
            Ok(listener) => listener,
            Err(error) => {
                self.update(id, |f| f.state = ForwardState::Failed { error: Arc::from(error.to_string()) });
                return;
            }
        };
        let local_port = listener.local_addr().ok().map(|a| a.port());
        self.update(id, |f| {
            f.local_port = local_port;
            f.state = ForwardState::Listening;
        });
        let namespace = request.target.key.namespace.as_deref().unwrap_or("default").to_string();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        // The tunnels belong to this task: when Stop aborts it, the set is dropped and every
        // open tunnel with it.
        let mut tunnels = tokio::task::JoinSet::new();
        let mut backoff = super::table_watch::Backoff::default();
        loop {
            while tunnels.try_join_next().is_some() {}
            let mut socket = match listener.accept().await {
                Ok((socket, _)) => {
                    backoff.reset();
                    socket
                }
                // Out of file descriptors, say: wait instead of spinning on the error.
                Err(error) => {
                    self.update(id, |f| f.state = ForwardState::Degraded { error: Arc::from(error.to_string()) });
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
            let resolved = resolve(&client, &namespace, &request).await;
            let (pod, port) = match resolved {
                Ok(found) => found,
                Err(error) => {
                    self.update(id, |f| f.state = ForwardState::Degraded { error: Arc::from(error) });
                    continue;
                }
            };
            self.update(id, |f| {
                f.pod = Some(Arc::from(pod.as_str()));
                f.pod_port = Some(port);
                f.connections += 1;
            });
            let pods = pods.clone();
            let this = self.clone();
            tunnels.spawn(async move {
                let result = async {
                    let mut forwarder = pods.portforward(&pod, &[port]).await.map_err(|e| e.to_string())?;
                    let mut upstream = forwarder.take_stream(port).ok_or("no stream for the port")?;
                    tokio::io::copy_bidirectional(&mut socket, &mut upstream).await.map_err(|e| e.to_string())?;
                    drop(upstream);
                    forwarder.join().await.map_err(|e| e.to_string())
                }
                .await;
                match result {
                    Ok(()) => this.update(id, |f| f.state = ForwardState::Listening),
                    Err(error) => this.update(id, |f| f.state = ForwardState::Degraded { error: Arc::from(error) }),
                }
            });
        }
    }
}

/// The pod and its port a connection goes to: the pod itself, or for a Service, a pod its
/// selector picks (running ones first) and the target port (numeric, or named in the pod).
async fn resolve(client: &kube::Client, namespace: &str, request: &ForwardRequest) -> Result<(String, u16), String> {
    let name = request.target.key.name.to_string();
    if &*request.target.kind.plural == "pods" {
        return Ok((name, request.remote_port));
    }
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let service = services.get(&name).await.map_err(|e| e.to_string())?;
    let spec = service.spec.unwrap_or_default();
    let selector = spec.selector.unwrap_or_default();
    if selector.is_empty() {
        return Err(format!("service {name} has no selector"));
    }
    let service_port = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.port == i32::from(request.remote_port))
        .ok_or_else(|| format!("service {name} has no port {}", request.remote_port))?;
    let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut candidates =
        pods.list(&ListParams::default().labels(&labels.join(","))).await.map_err(|e| e.to_string())?.items;
    candidates.sort_by_key(|p| p.status.as_ref().and_then(|s| s.phase.clone()).as_deref() != Some("Running"));
    let pod = candidates.into_iter().next().ok_or_else(|| format!("no pod backs service {name}"))?;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let port = match service_port.target_port {
        Some(IntOrString::Int(port)) => u16::try_from(port).map_err(|e| e.to_string())?,
        Some(IntOrString::String(named)) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(named.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| format!("no container port named {named}"))?,
        None => request.remote_port,
    };
    Ok((pod.metadata.name.unwrap_or_default(), port))
}
