//! What the user may do on each cluster: the namespace's rules (SelfSubjectRulesReview) for the
//! sidebar, per-object answers (SelfSubjectAccessReview) for the details pane's actions, cached
//! per cluster and asked again when RBAC objects change, when an action is refused, or each
//! minute. Backend runtime.

use super::FleetState;
use futures::StreamExt;
use klieg_model::{AccessRule, AccessRules, ClusterId, KindKey, ObjectAccess, ObjectKey, Permission};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::watcher::{self, Event};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the rules are asked for again when nothing announced a change (a user who may not
/// watch RBAC objects, or an authorizer other than RBAC).
pub const ACCESS_REFRESH: Duration = Duration::from_secs(60);

/// RBAC changes arriving within this window are answered with one round of reviews.
const CHANGE_SETTLE: Duration = Duration::from_millis(300);

/// One SelfSubjectAccessReview's question: a permission in a namespace, for a name or any.
type Question = (Option<Arc<str>>, Arc<str>, Permission);

/// The answers the server gave for one cluster and its user, until something may have changed
/// them; `generation` counts those moments so followers can ask again.
pub struct AccessCache {
    generation: watch::Sender<u64>,
    answers: Mutex<HashMap<Question, bool>>,
    /// RBAC kinds watched everywhere: while all of them are, no change goes unseen.
    watched_everywhere: std::sync::atomic::AtomicUsize,
}

impl Default for AccessCache {
    fn default() -> Self {
        Self {
            generation: watch::Sender::new(0),
            answers: Mutex::new(HashMap::new()),
            watched_everywhere: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl AccessCache {
    fn answers(&self) -> parking_lot::MutexGuard<'_, HashMap<Question, bool>> {
        // A poisoned lock only means a task panicked mid-insert; the map is still usable.
        self.answers.lock()
    }

    /// Forgets every answer and tells followers to ask again.
    pub fn invalidate(&self) {
        self.answers().clear();
        self.generation.send_modify(|generation| *generation += 1);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The server's answers for each permission on the object `key` of `kind`, from the cache
    /// where asked before; the rest asked at once, together. Questions the server could not
    /// answer are left out (and so count as allowed).
    pub async fn object_access(
        &self,
        client: &kube::Client,
        kind: &KindKey,
        key: &ObjectKey,
        permissions: Vec<Permission>,
    ) -> ObjectAccess {
        let questions: Vec<Question> = permissions
            .into_iter()
            .map(|permission| {
                let name = if permission.is_about(kind) { key.name.clone() } else { Arc::from("") };
                (key.namespace.clone(), name, permission)
            })
            .collect();
        let cached: Vec<Option<bool>> = {
            let answers = self.answers();
            questions.iter().map(|question| answers.get(question).copied()).collect()
        };
        let generation = *self.generation.borrow();
        let asked = futures::future::join_all(questions.iter().zip(&cached).map(|(question, cached)| async move {
            match cached {
                Some(allowed) => Some(*allowed),
                None => match review(client, question).await {
                    Ok(allowed) => {
                        // An answer asked before an invalidation may be stale: not kept.
                        if *self.generation.borrow() == generation {
                            self.answers().insert(question.clone(), allowed);
                        }
                        Some(allowed)
                    }
                    Err(error) => {
                        tracing::debug!(%error, permission = %question.2.describe(), "SelfSubjectAccessReview failed");
                        None
                    }
                },
            }
        }))
        .await;
        let answers = questions
            .into_iter()
            .zip(asked)
            .filter_map(|((_, _, permission), allowed)| allowed.map(|allowed| (permission, allowed)))
            .collect();
        ObjectAccess { answers }
    }
}

/// Scopes of one bulk selection asked about at most; a selection spread wider is left to the
/// server to refuse row by row.
const BULK_SCOPES_MAX: usize = 64;

impl super::feed::Follower for BulkChecker {
    /// The bulk selection's kind and the scopes (cluster, namespace) it touches.
    type Query = (KindKey, Vec<klieg_model::AccessScope>);
    type Snapshot = klieg_model::BulkAccess;

    fn follow(&mut self, context: &super::feed::FeedContext, query: Option<Self::Query>) {
        match query {
            Some((kind, scopes)) => self.check(&context.clients(), kind, scopes),
            // Nothing selected: no question; a later selection is asked about afresh.
            None => self.task.stop(),
        }
    }

    fn follows_the_registry(&self) -> bool {
        true
    }
}

/// Answers what the user may do over the bulk selection: per scope (cluster and namespace) it
/// touches, the permissions of the bulk bar's actions, from each cluster's cache or asked.
pub struct BulkChecker {
    out: watch::Sender<Arc<klieg_model::BulkAccess>>,
    waker: super::Waker,
    task: super::TaskSlot,
    /// The bulk actions, whose permissions are asked.
    registry: klieg_model::LiveRegistry,
}

impl BulkChecker {
    pub fn new(
        out: watch::Sender<Arc<klieg_model::BulkAccess>>,
        waker: super::Waker,
        registry: klieg_model::LiveRegistry,
    ) -> Self {
        Self { out, waker, task: super::TaskSlot::default(), registry }
    }

    pub fn check(&mut self, clients: &super::ClientMap, kind: KindKey, mut scopes: Vec<klieg_model::AccessScope>) {
        scopes.sort();
        scopes.dedup();
        scopes.truncate(BULK_SCOPES_MAX);
        let asks: Vec<_> = scopes
            .into_iter()
            .filter_map(|scope| {
                let connected = clients.get(&scope.0)?;
                let served = connected.kinds.iter().find(|k| k.key() == kind)?;
                let permissions = self.registry.current().bulk_permissions(&kind, &served.verbs);
                Some((scope, connected.client.clone(), connected.access.clone(), permissions))
            })
            .collect();
        let (out, waker) = (self.out.clone(), self.waker.clone());
        self.task.set(tokio::spawn(async move {
            let answers = asks.into_iter().map(|(scope, client, cache, permissions)| {
                let kind = kind.clone();
                async move {
                    let key = ObjectKey { cluster: scope.0.clone(), namespace: scope.1.clone(), name: Arc::from("") };
                    let access = cache.object_access(&client, &kind, &key, permissions).await;
                    (scope, access)
                }
            });
            let scopes = futures::future::join_all(answers).await;
            out.send_replace(Arc::new(klieg_model::BulkAccess { kind: Some(kind), scopes }));
            waker();
        }));
    }
}

/// Asks one SelfSubjectAccessReview.
async fn review(client: &kube::Client, (namespace, name, permission): &Question) -> Result<bool, kube::Error> {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let (resource, subresource) = match permission.resource.split_once('/') {
        Some((resource, subresource)) => (resource, Some(subresource.to_string())),
        None => (&*permission.resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: namespace.as_deref().map(str::to_string),
                verb: Some(permission.verb.to_string()),
                group: Some(permission.group.to_string()),
                resource: Some(resource.to_string()),
                subresource,
                name: (!name.is_empty()).then(|| name.to_string()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let reviews: kube::Api<SelfSubjectAccessReview> = kube::Api::all(client.clone());
    let answer = reviews.create(&kube::api::PostParams::default(), &review).await?;
    Ok(answer.status.is_some_and(|status| status.allowed && !status.denied.unwrap_or(false)))
}

/// The rules that apply to the user in `namespace`, from a SelfSubjectRulesReview.
pub(crate) async fn access_rules(client: &kube::Client, namespace: &str) -> Result<AccessRules, kube::Error> {
    use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
    let reviews: kube::Api<SelfSubjectRulesReview> = kube::Api::all(client.clone());
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.to_string()) },
        ..SelfSubjectRulesReview::default()
    };
    let answer = reviews.create(&kube::api::PostParams::default(), &review).await?;
    let list = |items: Option<Vec<String>>| items.unwrap_or_default().iter().map(|i| Arc::from(i.as_str())).collect();
    Ok(AccessRules {
        incomplete: answer.status.as_ref().is_some_and(|s| s.incomplete),
        rules: answer
            .status
            .map(|s| s.resource_rules)
            .unwrap_or_default()
            .into_iter()
            .map(|rule| AccessRule {
                verbs: rule.verbs.iter().map(|v| Arc::from(v.as_str())).collect(),
                groups: list(rule.api_groups),
                resources: list(rule.resources),
                names: list(rule.resource_names),
            })
            .collect(),
    })
}

/// Namespaces whose rules are asked for at most, beside the context's.
const RULES_NAMESPACES_MAX: usize = 16;

/// The rules that apply in `context_namespace` and in each namespace the user chose: their
/// union, so a kind listable in any of them is offered. Incomplete if any answer is.
async fn rules_where_the_user_works(
    client: &kube::Client,
    context_namespace: &str,
    chosen: &[Arc<str>],
) -> Result<AccessRules, kube::Error> {
    let mut namespaces: Vec<&str> =
        std::iter::once(context_namespace).chain(chosen.iter().map(|ns| &**ns).take(RULES_NAMESPACES_MAX)).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let answers = futures::future::join_all(namespaces.iter().map(|ns| access_rules(client, ns))).await;
    let mut union = AccessRules::default();
    for answer in answers {
        let rules = answer?;
        union.incomplete |= rules.incomplete;
        for rule in rules.rules {
            if !union.rules.contains(&rule) {
                union.rules.push(rule);
            }
        }
    }
    Ok(union)
}

/// Keeps the cluster's rules current where the user works (the context's namespace and those
/// chosen in the window): asked now, again when the chosen namespaces change, whenever the cache
/// is invalidated (an RBAC object changed, an action was refused), and every `ACCESS_REFRESH`.
/// When the rules change, or cannot be complete, the per-object answers are forgotten too. A
/// server without the review leaves the rules unknown.
pub(super) async fn follow_access(
    client: &kube::Client,
    id: &ClusterId,
    fleet: &FleetState,
    namespace: &str,
    cache: &AccessCache,
) {
    let mut changes = cache.subscribe();
    let mut chosen = fleet.namespaces_tx.subscribe();
    let mut last: Option<AccessRules> = None;
    loop {
        changes.borrow_and_update();
        let namespaces = chosen.borrow_and_update().clone();
        match rules_where_the_user_works(client, namespace, &namespaces).await {
            // Published only when they changed, so an idle window stays idle.
            Ok(rules) if last.as_ref() != Some(&rules) => {
                let shared = Arc::new(rules.clone());
                fleet.update(id, |info| info.access = Some(shared.clone()));
                if last.is_some() {
                    cache.invalidate();
                    changes.borrow_and_update();
                }
                last = Some(rules);
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(cluster = %id, %error, "SelfSubjectRulesReview failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(ACCESS_REFRESH) => {
                // Answers expire where a change could go unseen: rules that cannot list
                // everything, or RBAC objects the user may not watch everywhere.
                let all_watched = cache.watched_everywhere.load(std::sync::atomic::Ordering::Relaxed) == RBAC_KINDS;
                if last.as_ref().is_none_or(|rules| rules.incomplete) || !all_watched {
                    cache.invalidate();
                    changes.borrow_and_update();
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                tokio::time::sleep(CHANGE_SETTLE).await;
            }
            changed = chosen.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// How many RBAC kinds there are to watch.
const RBAC_KINDS: usize = 4;

/// The RBAC kinds whose changes can change what the user may do.
fn rbac_kinds() -> [(ApiResource, bool); RBAC_KINDS] {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    [
        (ApiResource::erase::<RoleBinding>(&()), true),
        (ApiResource::erase::<Role>(&()), true),
        (ApiResource::erase::<ClusterRoleBinding>(&()), false),
        (ApiResource::erase::<ClusterRole>(&()), false),
    ]
}

/// Watches the RBAC objects the user may watch (everywhere, else in `namespace`) and invalidates
/// `cache` when one changes after the first list. Kinds the user may not watch are left to the
/// periodic refresh.
pub(super) async fn follow_rbac(client: &kube::Client, id: &ClusterId, namespace: &str, cache: &AccessCache) {
    let watches = rbac_kinds().into_iter().map(|(resource, namespaced)| {
        let (client, id, namespace) = (client.clone(), id.clone(), namespace.to_string());
        async move {
            let everywhere: kube::Api<Meta> = kube::Api::all_with(client.clone(), &resource);
            if watch_changes(everywhere, cache, true).await == Watch::Refused && namespaced {
                let here: kube::Api<Meta> = kube::Api::namespaced_with(client, &namespace, &resource);
                if watch_changes(here, cache, false).await == Watch::Refused {
                    tracing::debug!(cluster = %id, kind = %resource.kind, "may not watch; access refreshed periodically");
                }
            }
        }
    });
    futures::future::join_all(watches).await;
}

/// Metadata only: the watch needs to know that something changed, not what.
type Meta = kube::core::PartialObjectMeta<DynamicObject>;

#[derive(PartialEq)]
enum Watch {
    Refused,
    Ended,
}

/// Follows one RBAC kind's metadata (`everywhere`: in every namespace) until the server refuses
/// the watch (403) or the stream ends.
async fn watch_changes(api: kube::Api<Meta>, cache: &AccessCache, everywhere: bool) -> Watch {
    let stream = super::table_watch::backed_off(watcher::watcher(api, watcher::Config::default()));
    futures::pin_mut!(stream);
    let mut listed_once = false;
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init | Event::InitApply(_)) => {}
            Ok(Event::InitDone) => {
                // A re-list after a lost watch may hide changes made meanwhile.
                if listed_once {
                    cache.invalidate();
                } else if everywhere {
                    cache.watched_everywhere.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                listed_once = true;
            }
            Ok(Event::Apply(_) | Event::Delete(_)) => cache.invalidate(),
            Err(
                watcher::Error::InitialListFailed(kube::Error::Api(status))
                | watcher::Error::WatchStartFailed(kube::Error::Api(status)),
            ) if status.code == 403 => return Watch::Refused,
            Err(error) => tracing::debug!(%error, "RBAC watch failed; retrying"),
        }
    }
    Watch::Ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn invalidation_forgets_answers_and_wakes_followers() {
        let cache = AccessCache::default();
        let question: Question = (Some(Arc::from("shop")), Arc::from("web"), Permission::new("delete", "", "pods"));
        cache.answers().insert(question.clone(), false);
        let mut changes = cache.subscribe();
        changes.borrow_and_update();
        cache.invalidate();
        assert!(cache.answers().get(&question).is_none());
        assert!(changes.has_changed().unwrap_or(false));
    }
}
