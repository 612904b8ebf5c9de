//! What the user may do, as the server's SelfSubjectRulesReview tells it, and the checks the UI
//! makes with it to hide what would only fail. Pure data.

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

#[cfg(test)]
mod tests {
    use super::*;

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
