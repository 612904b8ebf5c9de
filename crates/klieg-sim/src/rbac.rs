//! RBAC for the simulator: who a bearer token is, the request attributes a path and method
//! stand for, and the authorizer that evaluates the stored Roles, ClusterRoles and their
//! bindings (as the apiserver's RBAC authorizer does), answering SelfSubjectAccessReview and
//! SelfSubjectRulesReview with the same rules. Called on the simulator's runtime under the store lock.

use super::store::{Store, metadata};
use serde_json::{Value, json};

/// An authenticated user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn new(name: &str, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        groups.push("system:authenticated".into());
        Self { name: name.into(), groups }
    }

    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

/// What a request asks to do, as the RBAC authorizer sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// Set for non-resource requests (`/version`, `/healthz`); the resource fields are empty.
    pub path: Option<String>,
}

impl Attributes {
    pub fn resource(verb: &str, group: &str, resource: &str, namespace: &str) -> Self {
        Self {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            ..Self::default()
        }
    }

    /// The apiserver's words for a refusal.
    pub fn forbidden_message(&self, user: &User) -> String {
        if let Some(path) = &self.path {
            return format!("forbidden: User \"{}\" cannot {} path \"{path}\"", user.name, self.verb);
        }
        let resource = if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        let subject = if self.name.is_empty() {
            format!("{} is forbidden", self.resource)
        } else {
            format!("{} \"{}\" is forbidden", self.resource, self.name)
        };
        let scope = if self.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", self.namespace)
        };
        format!(
            "{subject}: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            user.name, self.verb, self.group
        )
    }
}

/// The verb an HTTP method stands for on a resource path.
pub fn verb_for(method: &http::Method, named: bool, watch: bool, subresource: Option<&str>) -> &'static str {
    match (method.as_str(), named) {
        // Streams are authorized as `create` (as since Kubernetes 1.30), whatever the method.
        _ if matches!(subresource, Some("exec" | "attach" | "portforward")) => "create",
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

/// What everyone authenticated may do (the bootstrap `system:basic-user`, `system:discovery`
/// and `system:public-info-viewer` roles).
fn basic_rules() -> Vec<Value> {
    vec![
        json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}),
        json!({"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}),
        json!({"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]}),
    ]
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn subject_matches(subject: &Value, user: &User) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str() {
        Some("User") => name == user.name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        _ => false,
    }
}

/// The rules bound to `user` that apply in `namespace` ("" for cluster-scoped requests), each
/// with the binding and role that grant it.
fn rules_for(store: &Store, user: &User, namespace: &str) -> Vec<(Value, String)> {
    let mut rules: Vec<(Value, String)> = basic_rules().into_iter().map(|r| (r, "system:basic-user".into())).collect();
    let role_rules = |kind: &str, role_namespace: &str, name: &str| -> Vec<Value> {
        let (group, plural) = ("rbac.authorization.k8s.io", if kind == "Role" { "roles" } else { "clusterroles" });
        store
            .get_by_plural(group, plural, if kind == "Role" { role_namespace } else { "" }, name)
            .and_then(|role| role["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    let bindings = store.all_of("rbac.authorization.k8s.io", "clusterrolebindings").into_iter().chain(
        store
            .all_of("rbac.authorization.k8s.io", "rolebindings")
            .into_iter()
            .filter(|b| !namespace.is_empty() && b["metadata"]["namespace"].as_str() == Some(namespace)),
    );
    for binding in bindings {
        let subjects = binding["subjects"].as_array().cloned().unwrap_or_default();
        if !subjects.iter().any(|s| subject_matches(s, user)) {
            continue;
        }
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or_default();
        let role_name = binding["roleRef"]["name"].as_str().unwrap_or_default();
        let binding_kind =
            if binding["metadata"]["namespace"].is_string() { "RoleBinding" } else { "ClusterRoleBinding" };
        let why = format!(
            "{binding_kind} \"{}\" of {role_kind} \"{role_name}\" to User \"{}\"",
            binding["metadata"]["name"].as_str().unwrap_or_default(),
            user.name
        );
        for rule in role_rules(role_kind, namespace, role_name) {
            rules.push((rule, why.clone()));
        }
    }
    rules
}

fn rule_allows(rule: &Value, attributes: &Attributes) -> bool {
    let verbs = strings(&rule["verbs"]);
    if !verbs.iter().any(|v| *v == "*" || *v == attributes.verb) {
        return false;
    }
    if let Some(path) = &attributes.path {
        return strings(&rule["nonResourceURLs"]).iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => pattern == path,
        });
    }
    let groups = strings(&rule["apiGroups"]);
    if !groups.iter().any(|g| *g == "*" || *g == attributes.group) {
        return false;
    }
    let combined = if attributes.subresource.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    let resources = strings(&rule["resources"]);
    let resource_ok = resources.iter().any(|r| {
        *r == "*"
            || *r == combined
            || (attributes.subresource.is_empty() && *r == attributes.resource)
            || r.strip_prefix("*/").is_some_and(|sub| sub == attributes.subresource)
    });
    let names = strings(&rule["resourceNames"]);
    resource_ok && (names.is_empty() || names.contains(&attributes.name.as_str()))
}

/// Whether `user` may do what `attributes` say, and why (the granting binding).
pub fn authorize(store: &Store, user: &User, attributes: &Attributes) -> (bool, String) {
    if user.is_master() {
        return (true, String::new());
    }
    match rules_for(store, user, &attributes.namespace).into_iter().find(|(rule, _)| rule_allows(rule, attributes)) {
        Some((_, why)) => (true, format!("RBAC: allowed by {why}")),
        None => (false, String::new()),
    }
}

/// Answers a SelfSubjectAccessReview body.
pub fn access_review(store: &Store, user: &User, mut review: Value) -> Value {
    let spec = &review["spec"];
    let attributes = if let Some(resource) = spec.get("resourceAttributes") {
        let field = |key: &str| resource[key].as_str().unwrap_or_default().to_string();
        Attributes {
            verb: field("verb"),
            group: field("group"),
            resource: field("resource"),
            subresource: field("subresource"),
            namespace: field("namespace"),
            name: field("name"),
            path: None,
        }
    } else {
        let attributes = &spec["nonResourceAttributes"];
        Attributes {
            verb: attributes["verb"].as_str().unwrap_or_default().into(),
            path: Some(attributes["path"].as_str().unwrap_or_default().into()),
            ..Attributes::default()
        }
    };
    let (allowed, reason) = authorize(store, user, &attributes);
    review["status"] =
        if reason.is_empty() { json!({"allowed": allowed}) } else { json!({"allowed": allowed, "reason": reason}) };
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review["metadata"] = json!({"creationTimestamp": null});
    review
}

/// Answers a SelfSubjectRulesReview body: every rule that applies in `spec.namespace`.
pub fn rules_review(store: &Store, user: &User, mut review: Value) -> Value {
    let namespace = review["spec"]["namespace"].as_str().unwrap_or_default().to_string();
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    if user.is_master() {
        resource_rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        non_resource_rules.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
    }
    for (rule, _) in rules_for(store, user, &namespace) {
        if rule.get("nonResourceURLs").is_some() {
            non_resource_rules.push(json!({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}));
        } else {
            let mut entry =
                json!({"verbs": rule["verbs"], "apiGroups": rule["apiGroups"], "resources": rule["resources"]});
            if rule.get("resourceNames").is_some() {
                entry["resourceNames"] = rule["resourceNames"].clone();
            }
            resource_rules.push(entry);
        }
    }
    review["status"] =
        json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false});
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectRulesReview");
    review["metadata"] = json!({"creationTimestamp": null});
    review
}

/// The default ClusterRoles every cluster has (`cluster-admin`, `admin`, `edit`, `view`), with
/// the rules that matter to a client.
pub fn bootstrap_roles() -> Vec<Value> {
    let read = json!(["get", "list", "watch"]);
    let write = json!(["create", "delete", "deletecollection", "patch", "update"]);
    let readable = json!([
        {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status", "services", "endpoints", "configmaps", "persistentvolumeclaims", "replicationcontrollers", "serviceaccounts", "events", "limitranges", "resourcequotas", "namespaces"], "verbs": read},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"], "verbs": read},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": read},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": read},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": read},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
        {"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": read}
    ]);
    let editable = json!([
        {"apiGroups": [""], "resources": ["pods", "pods/exec", "pods/attach", "pods/portforward", "pods/eviction", "services", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts"], "verbs": write},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": read},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "replicasets", "statefulsets", "daemonsets"], "verbs": write},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": write},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": write}
    ]);
    let concat = |parts: &[&Value]| -> Value {
        Value::Array(parts.iter().flat_map(|p| p.as_array().cloned().unwrap_or_default()).collect())
    };
    let admin_only =
        json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["*"]}]);
    let role = |name: &str, rules: Value| json!({"metadata": metadata(name, None, &[("kubernetes.io/bootstrapping", "rbac-defaults")]), "rules": rules});
    vec![
        role(
            "cluster-admin",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        ),
        role("admin", concat(&[&readable, &editable, &admin_only])),
        role("edit", concat(&[&readable, &editable])),
        role("view", readable),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(objects: &[(&str, &str, Value)]) -> Store {
        let mut store = Store::new();
        let namespaces = store.kind("", "v1", "namespaces").cloned().expect("namespaces");
        for name in ["shop", "other"] {
            store.create(&namespaces, "", json!({"metadata": {"name": name}})).expect("namespace");
        }
        for (plural, namespace, object) in objects {
            let kind = store.kind("rbac.authorization.k8s.io", "v1", plural).cloned().expect("rbac kind");
            store.create(&kind, namespace, object.clone()).expect("created");
        }
        for role in bootstrap_roles() {
            let kind = store.kind("rbac.authorization.k8s.io", "v1", "clusterroles").cloned().expect("kind");
            store.create(&kind, "", role).expect("created");
        }
        store
    }

    #[test]
    fn role_bindings_grant_only_in_their_namespace_and_cluster_bindings_everywhere() {
        let store = store_with(&[
            (
                "roles",
                "shop",
                json!({"metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]}),
            ),
            (
                "rolebindings",
                "shop",
                json!({"metadata": {"name": "team-reads"}, "subjects": [{"kind": "User", "name": "team"}], "roleRef": {"kind": "Role", "name": "pod-reader"}}),
            ),
            (
                "clusterrolebindings",
                "",
                json!({"metadata": {"name": "ops-view"}, "subjects": [{"kind": "Group", "name": "ops"}], "roleRef": {"kind": "ClusterRole", "name": "view"}}),
            ),
        ]);
        let team = User::new("team", &[]);
        let ops = User::new("olga", &["ops"]);
        let ask = |user: &User, verb: &str, resource: &str, namespace: &str| {
            authorize(&store, user, &Attributes::resource(verb, "", resource, namespace)).0
        };
        assert!(ask(&team, "list", "pods", "shop"));
        assert!(!ask(&team, "list", "pods", "other"));
        assert!(!ask(&team, "delete", "pods", "shop"));
        assert!(!ask(&team, "list", "pods", ""), "a RoleBinding never grants cluster-wide");
        assert!(authorize(&store, &ops, &Attributes::resource("watch", "apps", "deployments", "")).0);
        assert!(!authorize(&store, &ops, &Attributes::resource("watch", "", "deployments", "")).0, "groups matter");
        assert!(ask(&ops, "list", "pods", ""));
        assert!(!ask(&ops, "list", "secrets", "shop"), "view does not read secrets");
        let mut log = Attributes::resource("get", "", "pods", "shop");
        log.subresource = "log".into();
        assert!(authorize(&store, &team, &log).0);
        log.subresource = "exec".into();
        assert!(!authorize(&store, &team, &log).0);
        let (_, why) = authorize(&store, &team, &Attributes::resource("get", "", "pods", "shop"));
        assert_eq!(why, "RBAC: allowed by RoleBinding \"team-reads\" of Role \"pod-reader\" to User \"team\"");
        let version = Attributes { verb: "get".into(), path: Some("/version".into()), ..Attributes::default() };
        assert!(authorize(&store, &team, &version).0);
        assert!(
            authorize(
                &store,
                &User::new("root", &["system:masters"]),
                &Attributes::resource("delete", "", "nodes", "")
            )
            .0
        );
    }

    #[test]
    fn reviews_answer_like_the_apiserver() {
        let store = store_with(&[(
            "rolebindings",
            "shop",
            json!({"metadata": {"name": "t"}, "subjects": [{"kind": "User", "name": "team"}], "roleRef": {"kind": "ClusterRole", "name": "edit"}}),
        )]);
        let team = User::new("team", &[]);
        let review = access_review(
            &store,
            &team,
            json!({"spec": {"resourceAttributes": {"namespace": "shop", "verb": "create", "resource": "pods", "subresource": "exec"}}}),
        );
        assert_eq!(review["status"]["allowed"], true);
        let rules = rules_review(&store, &team, json!({"spec": {"namespace": "shop"}}));
        let resource_rules = rules["status"]["resourceRules"].as_array().cloned().unwrap_or_default();
        assert!(resource_rules.iter().any(|r| strings(&r["resources"]).contains(&"secrets")));
        let elsewhere = rules_review(&store, &team, json!({"spec": {"namespace": "other"}}));
        assert!(
            elsewhere["status"]["resourceRules"]
                .as_array()
                .is_some_and(|r| r.iter().all(|r| !strings(&r["resources"]).contains(&"pods"))),
            "{elsewhere}"
        );
        let denied = Attributes::resource("list", "", "secrets", "other");
        assert_eq!(
            denied.forbidden_message(&team),
            "secrets is forbidden: User \"team\" cannot list resource \"secrets\" in API group \"\" in the namespace \"other\""
        );
    }
}
