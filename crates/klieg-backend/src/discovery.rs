//! Finds every listable kind a server offers, built-in and CRDs, at each group's preferred
//! version. Uses aggregated discovery where the server has it, else one request per group,
//! concurrently, tolerating groups that fail (an aggregated API that is down). Backend runtime.

use futures::{StreamExt, stream};
use klieg_model::{ResourceKind, Scope};
use rust_i18n::t;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{}", t!("backend.discovery_groups", error = .0))]
    Groups(#[source] kube::Error),
}

/// The kinds found, and the group versions that could not be read.
#[derive(Debug, Default)]
pub struct DiscoveryResult {
    pub kinds: Vec<ResourceKind>,
    /// The server has `metrics.k8s.io` (metrics-server): get and list only, so not among `kinds`.
    pub metrics: bool,
    pub failed_groups: Vec<(String, String)>,
}

const METRICS_GROUP: &str = "metrics.k8s.io";

pub async fn discover(client: &kube::Client) -> Result<DiscoveryResult, DiscoveryError> {
    if let Ok(aggregated) = kube::Discovery::new(client.clone()).run_aggregated().await {
        let metrics = aggregated.groups().any(|group| group.name() == METRICS_GROUP);
        let mut kinds: Vec<ResourceKind> = aggregated
            .groups()
            // Each kind at its most stable version, so kinds only in an older version
            // (batch/v1beta1 CronJob on 1.20) are found too.
            .flat_map(|group| group.resources_by_stability())
            .filter(|(_, caps)| caps.supports_operation("list") && caps.supports_operation("watch"))
            .map(|(resource, caps)| {
                let scope = match caps.scope {
                    kube::discovery::Scope::Namespaced => Scope::Namespaced,
                    kube::discovery::Scope::Cluster => Scope::Cluster,
                };
                to_kind(&resource.group, &resource.version, &resource.kind, &resource.plural, scope, caps.operations)
            })
            .collect();
        // Servers without aggregated discovery may answer with an ordinary group list, which
        // parses as an empty aggregated one; only a non-empty answer counts.
        if !kinds.is_empty() {
            sort_kinds(&mut kinds);
            return Ok(DiscoveryResult { kinds, metrics, failed_groups: Vec::new() });
        }
    }

    let groups = client.list_api_groups().await.map_err(DiscoveryError::Groups)?;
    // Every version of every group: a kind missing from the preferred version (batch/v1beta1
    // CronJob on 1.20, where batch/v1 is preferred) is taken from the most stable other one.
    let metrics = groups.groups.iter().any(|group| group.name == METRICS_GROUP);
    let mut group_versions: Vec<(String, String)> = vec![(String::new(), "v1".to_string())];
    let mut preferred: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for group in groups.groups {
        if let Some(version) =
            group.preferred_version.map(|v| v.version).or_else(|| group.versions.first().map(|v| v.version.clone()))
        {
            preferred.insert(group.name.clone(), version);
        }
        for version in group.versions {
            group_versions.push((group.name.clone(), version.version));
        }
    }
    let answers: Vec<_> = stream::iter(group_versions)
        .map(|(group, version)| async move {
            let answer = if group.is_empty() {
                client.list_core_api_resources(&version).await
            } else {
                client.list_api_group_resources(&format!("{group}/{version}")).await
            };
            (group, version, answer)
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let mut result = DiscoveryResult { metrics, ..DiscoveryResult::default() };
    for (group, version, answer) in answers {
        match answer {
            Ok(list) => {
                for resource in list.resources {
                    let listable =
                        resource.verbs.iter().any(|v| v == "list") && resource.verbs.iter().any(|v| v == "watch");
                    if resource.name.contains('/') || !listable {
                        continue;
                    }
                    let scope = if resource.namespaced { Scope::Namespaced } else { Scope::Cluster };
                    result.kinds.push(to_kind(&group, &version, &resource.kind, &resource.name, scope, resource.verbs));
                }
            }
            Err(error) => result.failed_groups.push((format!("{group}/{version}"), error.to_string())),
        }
    }
    // Preferred version first, then by stability; the first of each kind stays.
    result.kinds.sort_by_key(|k| {
        let is_preferred = preferred.get(&*k.group).is_some_and(|v| *v == *k.version) || k.group.is_empty();
        (k.group.clone(), k.plural.clone(), !is_preferred, version_rank(&k.version))
    });
    result.kinds.dedup_by(|later, first| later.group == first.group && later.plural == first.plural);
    sort_kinds(&mut result.kinds);
    Ok(result)
}

/// Orders versions most stable first: v2 before v1 before v1beta2 before v1beta1 before alphas.
fn version_rank(version: &str) -> (u8, std::cmp::Reverse<u32>, std::cmp::Reverse<u32>) {
    let rest = version.strip_prefix('v').unwrap_or(version);
    let digits = |text: &str| text.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0);
    let major = digits(rest);
    let after = &rest[rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())..];
    let (stage, minor) = if let Some(beta) = after.strip_prefix("beta") {
        (1, digits(beta))
    } else if let Some(alpha) = after.strip_prefix("alpha") {
        (2, digits(alpha))
    } else {
        (0, 0)
    };
    (stage, std::cmp::Reverse(major), std::cmp::Reverse(minor))
}

fn to_kind(group: &str, version: &str, kind: &str, plural: &str, scope: Scope, verbs: Vec<String>) -> ResourceKind {
    ResourceKind {
        group: Arc::from(group),
        version: Arc::from(version),
        kind: Arc::from(kind),
        plural: Arc::from(plural),
        scope,
        verbs: verbs.iter().map(|v| Arc::from(v.as_str())).collect(),
    }
}

/// Sorted by kind, with the same kind from several groups kept apart (events, ingresses).
/// Legacy duplicates (`extensions`, `events.k8s.io` Event) are dropped in favour of the main group.
fn sort_kinds(kinds: &mut Vec<ResourceKind>) {
    kinds.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.group.cmp(&b.group)));
    let shadowed = |k: &ResourceKind, all: &[ResourceKind]| {
        let legacy = matches!(&*k.group, "extensions" | "events.k8s.io");
        legacy
            && all
                .iter()
                .any(|o| o.kind == k.kind && o.group != k.group && !matches!(&*o.group, "extensions" | "events.k8s.io"))
    };
    let keep: Vec<bool> = kinds.iter().map(|k| !shadowed(k, kinds)).collect();
    let mut index = 0;
    kinds.retain(|_| {
        index += 1;
        keep[index - 1]
    });
}

#[cfg(test)]
mod tests {
    use super::version_rank;

    #[test]
    fn versions_order_by_stability() {
        let mut versions = vec!["v1beta1", "v1alpha1", "v1", "v2beta2", "v1beta2", "v2"];
        versions.sort_by_key(|v| version_rank(v));
        assert_eq!(versions, ["v2", "v1", "v2beta2", "v1beta2", "v1beta1", "v1alpha1"]);
    }
}
