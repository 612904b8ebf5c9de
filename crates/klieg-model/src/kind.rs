//! Resource kinds as found by discovery, and the sidebar categories they fall into.

use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// Identity of a kind across clusters and versions: group and plural name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindKey {
    pub group: Arc<str>,
    pub plural: Arc<str>,
}

impl KindKey {
    pub fn new(group: &str, plural: &str) -> Self {
        Self { group: Arc::from(group), plural: Arc::from(plural) }
    }
}

/// One listable kind as discovery describes it on one cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceKind {
    pub group: Arc<str>,
    pub version: Arc<str>,
    pub kind: Arc<str>,
    pub plural: Arc<str>,
    pub scope: Scope,
    pub verbs: Arc<[Arc<str>]>,
}

impl ResourceKind {
    pub fn key(&self) -> KindKey {
        KindKey { group: self.group.clone(), plural: self.plural.clone() }
    }

    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn is_namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| &**v == verb)
    }

    pub fn category(&self) -> Category {
        Category::of(&self.group, &self.kind)
    }
}

/// Sidebar groups, in the order users expect them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Workloads,
    Network,
    Storage,
    Config,
    AccessControl,
    Cluster,
    CustomResources,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Workloads,
        Category::Network,
        Category::Storage,
        Category::Config,
        Category::AccessControl,
        Category::Cluster,
        Category::CustomResources,
    ];

    /// Translation key of the category's title.
    pub fn label_key(self) -> &'static str {
        match self {
            Category::Workloads => "category.workloads",
            Category::Network => "category.network",
            Category::Storage => "category.storage",
            Category::Config => "category.config",
            Category::AccessControl => "category.access_control",
            Category::Cluster => "category.cluster",
            Category::CustomResources => "category.custom_resources",
        }
    }

    /// Places a kind by its group and kind name; any version of the group lands in the same place.
    /// Groups that are not part of Kubernetes itself are custom resources.
    pub fn of(group: &str, kind: &str) -> Category {
        match (group, kind) {
            ("", "Pod" | "ReplicationController") | ("apps", _) | ("batch", _) => Category::Workloads,
            ("", "Service" | "Endpoints")
            | ("networking.k8s.io" | "discovery.k8s.io" | "gateway.networking.k8s.io", _)
            | ("extensions", "Ingress" | "NetworkPolicy") => Category::Network,
            ("", "PersistentVolumeClaim" | "PersistentVolume") | ("storage.k8s.io", _) => Category::Storage,
            ("", "ConfigMap" | "Secret" | "ResourceQuota" | "LimitRange")
            | ("autoscaling" | "policy" | "scheduling.k8s.io" | "node.k8s.io" | "coordination.k8s.io", _)
            | ("admissionregistration.k8s.io", _) => Category::Config,
            ("", "ServiceAccount") | ("rbac.authorization.k8s.io", _) => Category::AccessControl,
            ("", _) => Category::Cluster,
            (g, _) if is_kubernetes_group(g) => Category::Cluster,
            _ => Category::CustomResources,
        }
    }
}

/// True for API groups that Kubernetes itself serves (`*.k8s.io` and the legacy unsuffixed groups).
pub fn is_kubernetes_group(group: &str) -> bool {
    group.is_empty()
        || group.ends_with(".k8s.io")
        || matches!(group, "apps" | "batch" | "autoscaling" | "policy" | "extensions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_groups_not_versions() {
        assert_eq!(Category::of("", "Pod"), Category::Workloads);
        assert_eq!(Category::of("apps", "Deployment"), Category::Workloads);
        assert_eq!(Category::of("batch", "CronJob"), Category::Workloads);
        assert_eq!(Category::of("", "Service"), Category::Network);
        assert_eq!(Category::of("networking.k8s.io", "Ingress"), Category::Network);
        assert_eq!(Category::of("", "PersistentVolumeClaim"), Category::Storage);
        assert_eq!(Category::of("", "Secret"), Category::Config);
        assert_eq!(Category::of("rbac.authorization.k8s.io", "Role"), Category::AccessControl);
        assert_eq!(Category::of("", "Node"), Category::Cluster);
        assert_eq!(Category::of("apiextensions.k8s.io", "CustomResourceDefinition"), Category::Cluster);
        assert_eq!(Category::of("example.com", "Widget"), Category::CustomResources);
    }
}
