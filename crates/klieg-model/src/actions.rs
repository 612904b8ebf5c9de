//! What a user can do to objects (actions, YAML edits and creates) and how each attempt ended,
//! as the UI asks for it and the backend reports it. Pure data.

use super::{KindKey, ObjectKey};
use crate::registry::{ActionCall, InputValue, Text};
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

/// A built-in action with its typed input, as the backend runs it. Which kinds offer it, what
/// it needs and how it is labelled are registered in `registry::builtin`; the UI and the wire
/// carry an [`ActionCall`].
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
    /// The registered action this is an invocation of (see `registry::builtin`).
    pub fn call(&self) -> ActionCall {
        let (id, input) = match self {
            Action::Delete { propagation } => ("delete", InputValue::Choice(Arc::from(propagation.api_name()))),
            Action::Scale { replicas } => ("scale", InputValue::Count(i64::from(*replicas))),
            Action::RolloutRestart => ("restart", InputValue::None),
            Action::Rollback { revision } => ("rollback", InputValue::Count(*revision)),
            Action::Cordon => ("cordon", InputValue::None),
            Action::Uncordon => ("uncordon", InputValue::None),
            Action::Drain => ("drain", InputValue::None),
            Action::Evict => ("evict", InputValue::None),
            Action::Suspend => ("suspend", InputValue::None),
            Action::Resume => ("resume", InputValue::None),
            Action::Trigger => ("trigger", InputValue::None),
        };
        ActionCall { id: Arc::from(id), input }
    }

    /// The built-in action an invocation names, with its input; `None` for an id no built-in
    /// has or an input it cannot take.
    pub fn from_call(call: &ActionCall) -> Option<Self> {
        let count = || call.input.count();
        Some(match &*call.id {
            "delete" => Action::Delete {
                propagation: call.input.choice().map_or(Some(Propagation::Background), Propagation::parse)?,
            },
            "scale" => Action::Scale { replicas: i32::try_from(count()?).ok()? },
            "restart" => Action::RolloutRestart,
            "rollback" => Action::Rollback { revision: count()? },
            "cordon" => Action::Cordon,
            "uncordon" => Action::Uncordon,
            "drain" => Action::Drain,
            "evict" => Action::Evict,
            "suspend" => Action::Suspend,
            "resume" => Action::Resume,
            "trigger" => Action::Trigger,
            _ => return None,
        })
    }
}

impl From<Action> for ActionCall {
    fn from(action: Action) -> Self {
        action.call()
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
    /// What was done (`action.scale`, `edit.apply`, `edit.create`, or an extension's label).
    pub what: Text,
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

    #[test]
    fn built_in_actions_survive_the_wire() {
        let all = [
            Action::Delete { propagation: Propagation::Orphan },
            Action::Scale { replicas: 3 },
            Action::RolloutRestart,
            Action::Rollback { revision: 7 },
            Action::Cordon,
            Action::Uncordon,
            Action::Drain,
            Action::Evict,
            Action::Suspend,
            Action::Resume,
            Action::Trigger,
        ];
        let registry = crate::Registry::with_builtins();
        for action in all {
            let call = action.call();
            assert!(registry.action(&call.id).is_some(), "{} is registered", call.id);
            assert_eq!(Action::from_call(&call), Some(action));
        }
        let huge = ActionCall { id: Arc::from("scale"), input: InputValue::Count(i64::MAX) };
        assert_eq!(Action::from_call(&huge), None, "a count out of range is refused, not wrapped");
        let unknown = ActionCall { id: Arc::from("example.com/x"), input: InputValue::None };
        assert_eq!(Action::from_call(&unknown), None);
    }
}
