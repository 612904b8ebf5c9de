//! Hover glances: while the pointer rests on a row whose kind has registered glances, the
//! object is read once and each glance built from it (on a blocking thread: plugins' glances
//! run Luau), published for the table's hover card. Backend runtime.

use super::{Waker, feed::FeedContext};
use klieg_model::registry::{GlanceSnapshot, SectionInput};
use klieg_model::{KindKey, ObjectKey};
use kube::api::{Api, DynamicObject};
use std::sync::Arc;
use tokio::sync::watch;

pub struct GlanceFollower {
    registry: klieg_model::LiveRegistry,
    task: super::TaskSlot,
    out: watch::Sender<Arc<GlanceSnapshot>>,
    waker: Waker,
}

impl GlanceFollower {
    pub fn new(out: watch::Sender<Arc<GlanceSnapshot>>, waker: Waker, registry: klieg_model::LiveRegistry) -> Self {
        Self { registry, task: super::TaskSlot::default(), out, waker }
    }
}

impl super::feed::Follower for GlanceFollower {
    type Query = (KindKey, ObjectKey);
    type Snapshot = GlanceSnapshot;

    fn follow(&mut self, context: &FeedContext, query: Option<Self::Query>) {
        self.task.stop();
        let Some((kind, key)) = query else {
            self.out.send_replace(Arc::new(GlanceSnapshot::default()));
            return;
        };
        let registry = self.registry.current();
        let clients = context.clients();
        let found = clients
            .get(&key.cluster)
            .and_then(|c| c.kinds.iter().find(|k| k.key() == kind).map(|k| (c.client.clone(), k.clone())));
        let Some((client, resource_kind)) = found.filter(|_| registry.has_glances_for(&kind)) else {
            self.out.send_replace(Arc::new(GlanceSnapshot { object: Some((kind, key)), glances: Vec::new() }));
            return;
        };
        let (out, waker) = (self.out.clone(), self.waker.clone());
        self.task.set(tokio::spawn(async move {
            let resource = super::details::api_resource(&resource_kind);
            let api: Api<DynamicObject> = match (&key.namespace, resource_kind.is_namespaced()) {
                (Some(ns), true) => Api::namespaced_with(client, ns, &resource),
                _ => Api::all_with(client, &resource),
            };
            let Ok(Ok(mut object)) = tokio::time::timeout(GLANCE_READ_TIMEOUT, api.get(&key.name)).await else {
                return;
            };
            object.metadata.managed_fields = None;
            let Ok(object) = serde_json::to_value(&object) else { return };
            let (built_kind, built_key) = (kind.clone(), key.clone());
            let built = tokio::task::spawn_blocking(move || {
                registry.build_glances(&SectionInput { object: &object, key: &built_key, kind: &built_kind })
            })
            .await;
            if let Ok(glances) = built {
                out.send_replace(Arc::new(GlanceSnapshot { object: Some((kind, key)), glances }));
                waker();
            }
        }));
    }

    fn follows_the_registry(&self) -> bool {
        true
    }
}

/// A glance's object is read within this time, or no card shows.
pub const GLANCE_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
