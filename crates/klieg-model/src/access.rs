//! What the user may do, as the server's SelfSubjectRulesReview (per namespace) and
//! SelfSubjectAccessReviews (per object) tell it, and the checks the UI makes with them to hide
//! what would only fail. Pure data.

use super::KindKey;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct AccessRule {
    pub verbs: Vec<Arc<str>>,
    pub groups: Vec<Arc<str>>,
    /// Resources, `resource/subresource`, `*` or `*/subresource`.
    pub resources: Vec<Arc<str>>,
    /// Empty: any name.
    pub names: Vec<Arc<str>>,
}

/// The rules that apply in one namespace (cluster-wide bindings included).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AccessRules {
    pub rules: Vec<AccessRule>,
    /// The server could not list every rule (an authorizer other than RBAC answers too):
    /// nothing may be hidden on its word.
    pub incomplete: bool,
}

fn has(list: &[Arc<str>], wanted: &str) -> bool {
    list.iter().any(|item| &**item == "*" || &**item == wanted)
}

impl AccessRules {
    /// Whether `verb` on `resource` (`plural` or `plural/subresource`) in `group` is allowed for
    /// `name`. With incomplete rules, everything counts as allowed.
    pub fn allows(&self, verb: &str, group: &str, resource: &str, name: &str) -> bool {
        if self.incomplete {
            return true;
        }
        let subresource = resource.split_once('/').map(|(_, sub)| sub);
        self.rules.iter().any(|rule| {
            has(&rule.verbs, verb)
                && has(&rule.groups, group)
                && (has(&rule.resources, resource)
                    || subresource.is_some_and(|sub| rule.resources.iter().any(|r| **r == *format!("*/{sub}"))))
                && (rule.names.is_empty() || rule.names.iter().any(|n| &**n == name))
        })
    }
}

/// One question for a SelfSubjectAccessReview: may the user `verb` the `resource` (`plural` or
/// `plural/subresource`) of `group`?
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub verb: Arc<str>,
    pub group: Arc<str>,
    pub resource: Arc<str>,
}

impl Permission {
    pub fn new(verb: &str, group: &str, resource: &str) -> Self {
        Self { verb: Arc::from(verb), group: Arc::from(group), resource: Arc::from(resource) }
    }

    /// Whether the question is about the object of `kind` itself (or its subresource), so that
    /// its name belongs in the review (RBAC rules may name objects).
    pub fn is_about(&self, kind: &KindKey) -> bool {
        self.group == kind.group
            && self.resource.split_once('/').map_or(&*self.resource, |(base, _)| base) == &*kind.plural
    }

    /// `verb resource.group`, as `kubectl auth can-i` spells it.
    pub fn describe(&self) -> String {
        if self.group.is_empty() {
            format!("{} {}", self.verb, self.resource)
        } else {
            let (base, sub) = self.resource.split_once('/').map_or((&*self.resource, None), |(b, s)| (b, Some(s)));
            match sub {
                Some(sub) => format!("{} {base}.{}/{sub}", self.verb, self.group),
                None => format!("{} {base}.{}", self.verb, self.group),
            }
        }
    }
}

/// A namespace of a cluster (or its cluster scope) that a bulk selection touches.
pub type AccessScope = (super::ClusterId, Option<Arc<str>>);

/// The server's answers for the bulk bar's actions over rows of `kind`, per scope the selection
/// touches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BulkAccess {
    pub kind: Option<KindKey>,
    pub scopes: Vec<(AccessScope, ObjectAccess)>,
}

impl BulkAccess {
    /// Whether every answered scope allows it; answers about another kind, or none, allow.
    pub fn allows(&self, kind: &KindKey, verb: &str, group: &str, resource: &str) -> bool {
        self.kind.as_ref() != Some(kind) || self.scopes.iter().all(|(_, access)| access.allows(verb, group, resource))
    }
}

/// The server's answers for one object: each permission its actions need, allowed or not.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ObjectAccess {
    pub answers: Vec<(Permission, bool)>,
}

impl ObjectAccess {
    /// Unanswered questions count as allowed: the server refuses what it must.
    pub fn allows(&self, verb: &str, group: &str, resource: &str) -> bool {
        !self.answers.iter().any(|(permission, allowed)| {
            !allowed && &*permission.verb == verb && &*permission.group == group && &*permission.resource == resource
        })
    }

    /// The permissions the user lacks, hence the actions hidden.
    pub fn denied(&self) -> impl Iterator<Item = &Permission> {
        self.answers.iter().filter(|(_, allowed)| !allowed).map(|(permission, _)| permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, plural: &str) -> KindKey {
        KindKey { group: Arc::from(group), plural: Arc::from(plural) }
    }

    #[test]
    fn an_objects_permissions_cover_each_offered_action_once() {
        let verbs: Vec<Arc<str>> = ["get", "list", "watch", "update", "patch", "delete"].map(Arc::from).into();
        let registry = crate::Registry::with_builtins();
        let object_permissions = |kind: &KindKey, verbs: &[Arc<str>]| registry.object_permissions(kind, verbs);
        let deployment = object_permissions(&key("apps", "deployments"), &verbs);
        let described: Vec<String> = deployment.iter().map(Permission::describe).collect();
        assert_eq!(
            described,
            [
                "delete deployments.apps",
                "get pods/log",
                "patch deployments.apps",
                "patch deployments.apps/scale",
                "update deployments.apps"
            ]
        );
        let pod = object_permissions(&key("", "pods"), &verbs);
        for wanted in ["create pods/eviction", "create pods/exec", "create pods/portforward", "delete pods"] {
            assert!(pod.iter().any(|p| p.describe() == wanted), "{wanted} missing from {pod:?}");
        }
        let read_only: Vec<Arc<str>> = ["get", "list"].map(Arc::from).into();
        assert!(object_permissions(&key("", "configmaps"), &read_only).is_empty());
        assert!(Permission::new("patch", "apps", "deployments/scale").is_about(&key("apps", "deployments")));
        assert!(!Permission::new("get", "", "pods/log").is_about(&key("apps", "deployments")));
    }

    #[test]
    fn only_answered_denials_hide() {
        let access = ObjectAccess {
            answers: vec![
                (Permission::new("delete", "", "pods"), false),
                (Permission::new("get", "", "pods/log"), true),
            ],
        };
        assert!(!access.allows("delete", "", "pods"));
        assert!(access.allows("get", "", "pods/log"));
        assert!(access.allows("create", "", "pods/exec"), "unanswered: shown");
        assert_eq!(access.denied().map(Permission::describe).collect::<Vec<_>>(), ["delete pods"]);
    }

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> AccessRule {
        let list = |items: &[&str]| items.iter().map(|i| Arc::from(*i)).collect();
        AccessRule { verbs: list(verbs), groups: list(groups), resources: list(resources), names: Vec::new() }
    }

    #[test]
    fn rules_match_like_rbac() {
        let rules = AccessRules {
            rules: vec![
                rule(&["get", "list"], &[""], &["pods", "pods/log"]),
                rule(&["*"], &["apps"], &["deployments"]),
            ],
            incomplete: false,
        };
        assert!(rules.allows("get", "", "pods/log", "web"));
        assert!(!rules.allows("create", "", "pods/exec", "web"));
        assert!(!rules.allows("delete", "", "pods", "web"));
        assert!(rules.allows("delete", "apps", "deployments", "web"));
        assert!(!rules.allows("patch", "apps", "deployments/scale", "web"), "a subresource needs its own rule");
        assert!(AccessRules { rules: Vec::new(), incomplete: true }.allows("delete", "", "pods", "x"));
    }
}
