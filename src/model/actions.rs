//! What a user can do to objects (actions, YAML edits and creates) and how each attempt ended,
//! as the UI asks for it and the backend reports it. Pure data.

use super::{KindKey, ObjectKey};
use std::sync::Arc;

/// How a delete treats the objects the deleted one owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub const ALL: [Propagation; 3] = [Propagation::Background, Propagation::Foreground, Propagation::Orphan];

    /// The policy named as the API spells it (`propagationPolicy`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.api_name() == text)
    }

    pub fn api_name(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// An action on one object; `applies_to` says which kinds offer it.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Delete {
        propagation: Propagation,
    },
    Scale {
        replicas: i32,
    },
    RolloutRestart,
    /// Roll a Deployment back to the pod template of one of its ReplicaSets' revisions.
    Rollback {
        revision: i64,
    },
    Cordon,
    Uncordon,
    /// Cordon, then evict every pod on the node except DaemonSet and mirror pods.
    Drain,
    Evict,
    Suspend,
    Resume,
    /// Create a Job from a CronJob's template now.
    Trigger,
}

impl Action {
    /// Whether `kind` (with its discovered verbs) offers the action.
    pub fn applies_to(&self, kind: &KindKey, verbs: &[Arc<str>]) -> bool {
        let group = &*kind.group;
        let plural = &*kind.plural;
        let can = |verb: &str| verbs.iter().any(|v| &**v == verb);
        match self {
            Action::Delete { .. } => can("delete"),
            Action::Scale { .. } => {
                matches!(
                    (group, plural),
                    ("apps", "deployments" | "replicasets" | "statefulsets") | ("", "replicationcontrollers")
                )
            }
            Action::RolloutRestart => {
                matches!((group, plural), ("apps", "deployments" | "statefulsets" | "daemonsets"))
            }
            Action::Rollback { .. } => (group, plural) == ("apps", "deployments"),
            Action::Cordon | Action::Uncordon | Action::Drain => (group, plural) == ("", "nodes"),
            Action::Evict => (group, plural) == ("", "pods"),
            Action::Suspend | Action::Resume => {
                (group, plural) == ("batch", "cronjobs") || (group, plural) == ("batch", "jobs")
            }
            Action::Trigger => (group, plural) == ("batch", "cronjobs"),
        }
    }

    /// The i18n key of the action's name.
    pub fn label_key(&self) -> &'static str {
        match self {
            Action::Delete { .. } => "action.delete",
            Action::Scale { .. } => "action.scale",
            Action::RolloutRestart => "action.restart",
            Action::Rollback { .. } => "action.rollback",
            Action::Cordon => "action.cordon",
            Action::Uncordon => "action.uncordon",
            Action::Drain => "action.drain",
            Action::Evict => "action.evict",
            Action::Suspend => "action.suspend",
            Action::Resume => "action.resume",
            Action::Trigger => "action.trigger",
        }
    }

    /// What RBAC must allow for the action on an object of `kind`: (verb, group, resource).
    pub fn required(&self, kind: &KindKey) -> Vec<(&'static str, Arc<str>, String)> {
        let group = kind.group.clone();
        let plural = kind.plural.to_string();
        let core: Arc<str> = Arc::from("");
        match self {
            Action::Delete { .. } => vec![("delete", group, plural)],
            Action::Scale { .. } => vec![("patch", group, format!("{plural}/scale"))],
            Action::RolloutRestart
            | Action::Rollback { .. }
            | Action::Cordon
            | Action::Uncordon
            | Action::Suspend
            | Action::Resume => vec![("patch", group, plural)],
            Action::Drain => vec![("patch", group, plural), ("create", core, "pods/eviction".into())],
            Action::Evict => vec![("create", core, "pods/eviction".into())],
            Action::Trigger => vec![("create", Arc::from("batch"), "jobs".into())],
        }
    }

    /// Actions that destroy something ask for confirmation first.
    pub fn is_destructive(&self) -> bool {
        matches!(self, Action::Delete { .. } | Action::Drain | Action::Evict | Action::Rollback { .. })
    }
}

/// An object an action or edit is aimed at.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub kind: KindKey,
    pub key: ObjectKey,
}

/// A YAML change the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum EditRequest {
    /// Replace `target` with the edited text, guarded by the resourceVersion in the text.
    /// With `dry_run` the server checks it all (validation, admission, conflicts) and stores nothing.
    Replace { target: Target, yaml: String, dry_run: bool },
    /// Create every document in `yaml` on `cluster`; namespaced objects without a namespace go
    /// to `namespace`.
    Create { cluster: super::ClusterId, namespace: Option<Arc<str>>, yaml: String, dry_run: bool },
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Running,
    /// Done; the text says what happened (translated parts are chosen by the UI from `Done`'s key).
    Done {
        message: Arc<str>,
    },
    Failed {
        message: Arc<str>,
    },
    /// The object changed since the edit began: the server's version, for the user to compare.
    Conflict {
        live_yaml: Arc<str>,
        live_resource_version: Arc<str>,
    },
}

/// One action or edit and how it went; the backend keeps the latest in an activity log.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Chosen by the UI, so it can find the answer to its own request.
    pub request_id: u64,
    /// `cluster/namespace/name` or, for creates, the cluster.
    pub subject: Arc<str>,
    /// The i18n key of what was done (`action.scale`, `edit.apply`, `edit.create`).
    pub what: &'static str,
    pub outcome: Outcome,
}

/// The latest activities, newest last.
#[derive(Clone, Debug, Default)]
pub struct ActivityLog {
    pub generation: u64,
    pub entries: Vec<Activity>,
}

impl ActivityLog {
    /// Entries kept; older ones are dropped.
    pub const CAPACITY: usize = 200;

    /// The latest entries for a request.
    pub fn for_request(&self, request_id: u64) -> impl Iterator<Item = &Activity> {
        self.entries.iter().filter(move |a| a.request_id == request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, plural: &str) -> KindKey {
        KindKey { group: Arc::from(group), plural: Arc::from(plural) }
    }

    #[test]
    fn actions_are_offered_where_the_api_has_them() {
        let verbs: Vec<Arc<str>> = ["get", "list", "delete"].iter().map(|v| Arc::from(*v)).collect();
        assert!(Action::Scale { replicas: 1 }.applies_to(&key("apps", "deployments"), &verbs));
        assert!(!Action::Scale { replicas: 1 }.applies_to(&key("apps", "daemonsets"), &verbs));
        assert!(Action::Drain.applies_to(&key("", "nodes"), &verbs));
        assert!(!Action::Drain.applies_to(&key("", "pods"), &verbs));
        assert!(Action::Trigger.applies_to(&key("batch", "cronjobs"), &verbs));
        assert!(!Action::Trigger.applies_to(&key("batch", "jobs"), &verbs));
        assert!(Action::Delete { propagation: Propagation::Orphan }.applies_to(&key("x.io", "widgets"), &verbs));
        assert!(!Action::Delete { propagation: Propagation::Orphan }.applies_to(&key("x.io", "widgets"), &verbs[..2]));
        assert!(Action::Drain.is_destructive() && !Action::Cordon.is_destructive());
    }
}
