//! UI-thread state: what the user selected and typed, and the settings that persist between
//! runs. No I/O and no egui drawing here; the app turns it into backend queries.

use crate::model::{
    ActionCall, ClusterId, Command, EditRequest, FleetSnapshot, KindKey, LabelSelector, ObjectKey, SelectorError,
    SortColumn, Target, ViewQuery,
};
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub enum ThemeChoice {
    #[default]
    System,
    Dark,
    Light,
}

/// Saved with eframe's storage; secrets never go here.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    pub theme: ThemeChoice,
    pub locale: String,
    pub selected_clusters: Vec<String>,
    pub selected_namespaces: Vec<String>,
    pub kind_group: String,
    pub kind_plural: String,
    pub wide_columns: bool,
    /// Where each cluster's Prometheus is, by cluster name; clusters left out are detected.
    pub prometheus: std::collections::BTreeMap<String, crate::model::PrometheusSource>,
    /// The range of Prometheus charts, in seconds.
    pub chart_range_secs: u64,
    /// Paused and switched-off clusters by name; clusters left out are live.
    pub cluster_modes: std::collections::BTreeMap<String, crate::model::ClusterMode>,
    /// Namespaces the user named for each cluster, offered beside the ones it lists (a user who
    /// may not list namespaces sees only the context's otherwise).
    pub cluster_namespaces: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            theme: ThemeChoice::System,
            locale: String::new(),
            selected_clusters: Vec::new(),
            selected_namespaces: Vec::new(),
            kind_group: String::new(),
            kind_plural: "pods".into(),
            wide_columns: false,
            prometheus: std::collections::BTreeMap::new(),
            chart_range_secs: crate::model::prometheus::CHART_RANGES_SECS[1],
            cluster_modes: std::collections::BTreeMap::new(),
            cluster_namespaces: std::collections::BTreeMap::new(),
        }
    }
}

/// What the details pane shows.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum DetailsTab {
    #[default]
    Overview,
    Yaml,
    /// Prometheus charts (pods, workloads, nodes, namespaces, claims).
    Metrics,
}

/// A YAML edit of one object. The text is the user's until they cancel: it survives the object
/// changing or vanishing, failed applies and conflicts.
#[derive(Debug, Clone)]
pub struct EditorState {
    pub target: Target,
    pub text: String,
    /// The YAML the edit started from, for the diff.
    pub original: Arc<str>,
    pub show_diff: bool,
    /// The request waiting for an answer.
    pub pending_request: Option<u64>,
    /// The last answer to an apply.
    pub last_request: Option<u64>,
    /// The server's version after a conflict: yaml and resourceVersion.
    pub conflict: Option<(Arc<str>, Arc<str>)>,
    /// YAML syntax error of `text`, recomputed when the text changes.
    pub syntax_error: Option<String>,
    validated_text_hash: u64,
}

impl EditorState {
    pub fn new(target: Target, yaml: Arc<str>) -> Self {
        let mut editor = Self {
            target,
            text: yaml.to_string(),
            original: yaml,
            show_diff: false,
            pending_request: None,
            last_request: None,
            conflict: None,
            syntax_error: None,
            validated_text_hash: 0,
        };
        editor.validate();
        editor
    }

    /// Re-parses the text if it changed since the last check (validation as you type).
    pub fn validate(&mut self) {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.text.hash(&mut hasher);
        let hash = hasher.finish();
        if hash == self.validated_text_hash {
            return;
        }
        self.validated_text_hash = hash;
        self.syntax_error = match serde_yaml::from_str::<serde_yaml::Value>(&self.text) {
            Ok(serde_yaml::Value::Mapping(_)) => None,
            Ok(_) => Some(rust_i18n::t!("edit.not_an_object").to_string()),
            Err(error) => Some(error.to_string()),
        };
    }

    /// After a conflict, the user chose to apply their text over the server's version: their
    /// text takes the server's resourceVersion, and nothing else of it changes.
    pub fn rebase_on_conflict(&mut self) {
        let Some((_, version)) = self.conflict.take() else { return };
        let mut replaced = false;
        let lines: Vec<String> = self
            .text
            .lines()
            .map(|line| {
                let trimmed = line.trim_start();
                if !replaced && trimmed.starts_with("resourceVersion:") {
                    replaced = true;
                    let indent = &line[..line.len() - trimmed.len()];
                    format!("{indent}resourceVersion: '{version}'")
                } else {
                    line.to_string()
                }
            })
            .collect();
        self.text = lines.join("\n");
        self.text.push('\n');
        self.validate();
    }

    /// After a conflict, the user chose the server's version: their text is replaced.
    pub fn take_theirs(&mut self) {
        if let Some((yaml, _)) = self.conflict.take() {
            self.text = yaml.to_string();
            self.original = yaml;
            self.validate();
        }
    }
}

/// An action waiting for the user to confirm it.
#[derive(Debug, Clone)]
pub struct PendingConfirmation {
    pub action: ActionCall,
    pub targets: Vec<Target>,
}

/// The log view: what it shows and how.
#[derive(Debug, Clone)]
pub struct LogsState {
    pub query: crate::model::LogQuery,
    pub search: String,
    pub only_matching: bool,
    /// Long lines wrap at the panel's width (rows then vary in height, still virtualised).
    pub wrap: bool,
    pub last_save_request: Option<u64>,
}

/// The "Add cluster" window. Its secret fields live only here and in the command that sends them.
#[derive(Debug, Clone, Default)]
pub struct AddClusterState {
    pub open: bool,
    pub paste_kubeconfig: bool,
    pub kubeconfig: String,
    pub name: String,
    pub server: String,
    pub ca_pem: String,
    pub token: String,
    pub insecure: bool,
    pub last_request: Option<u64>,
}

/// The "create from YAML" window.
#[derive(Debug, Clone, Default)]
pub struct CreateState {
    pub open: bool,
    pub cluster: Option<ClusterId>,
    pub namespace: String,
    pub text: String,
    pub last_request: Option<u64>,
}

#[derive(Debug, Default)]
pub struct UiState {
    pub settings: Settings,
    pub selected_clusters: BTreeSet<ClusterId>,
    pub selected_namespaces: BTreeSet<Arc<str>>,
    pub kind: Option<KindKey>,
    /// A registered view (the cluster overview) shown instead of the table; `None`: the table.
    pub view: Option<crate::model::registry::ViewId>,
    pub add_cluster: AddClusterState,
    pub text_filter: String,
    pub label_selector: String,
    pub sort: SortColumn,
    pub sort_descending: bool,
    pub open_object: Option<(KindKey, ObjectKey)>,
    pub details_tab: DetailsTab,
    /// Secret keys whose values are shown; cleared whenever another object opens.
    pub revealed_secret_keys: BTreeSet<String>,
    pub reveal_secrets_in_yaml: bool,
    pub namespace_search: String,
    /// Set once the first fleet snapshot has chosen default clusters.
    pub clusters_initialised: bool,
    /// The shown kind was checked against what the user may list (once, at start).
    pub kind_settled: bool,
    pub editor: Option<EditorState>,
    pub confirmation: Option<PendingConfirmation>,
    pub create: CreateState,
    /// Each backend action's input as last set (replicas, revision, a delete's propagation),
    /// by action id.
    pub action_inputs: std::collections::BTreeMap<Arc<str>, crate::model::InputValue>,
    pub logs: Option<LogsState>,
    /// Port-forward inputs: the pod's or Service's port, and the local one (0: pick a free port).
    pub forward_remote_port: u16,
    pub forward_local_port: u16,
    pub show_forwards: bool,
    /// The exec terminals' panel.
    pub terminals: TerminalsState,
    pub exec_shell: String,
    /// Rows chosen for a bulk action (Ctrl/Cmd-click), all of `bulk_kind`, from any cluster.
    pub bulk_selection: BTreeSet<ObjectKey>,
    pub bulk_kind: Option<KindKey>,
    /// Where a Shift-click range starts: the row last clicked.
    pub bulk_anchor: Option<ObjectKey>,
    pub exec_container: Option<Arc<str>>,
    /// Commands the UI produced this frame; the app sends them.
    pub outbox: Outbox,
}

/// The commands panels produce in a frame, and the ids that pair requests with their answers.
/// A panel that only sends commands is given this, not the whole state.
#[derive(Debug, Default)]
pub struct Outbox {
    commands: Vec<Command>,
    next_request_id: u64,
}

impl Outbox {
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// A new id for a request, so its answer can be found in the activity log.
    pub fn request_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }

    /// The frame's commands, in the order they were produced.
    pub fn take(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }
}

/// The exec terminals' panel: the open terminals in tab order, the one shown, and the size in
/// cells last sent for each.
#[derive(Debug, Default)]
pub struct TerminalsState {
    pub tabs: Vec<u64>,
    pub active: Option<u64>,
    pub sent_size: std::collections::HashMap<u64, (u16, u16)>,
}

impl TerminalsState {
    /// Shows a terminal just opened.
    pub fn opened(&mut self, id: u64) {
        self.tabs.push(id);
        self.active = Some(id);
    }

    /// Closes a terminal; the last remaining one is shown.
    pub fn close(&mut self, id: u64, outbox: &mut Outbox) {
        outbox.push(Command::CloseTerminal { id });
        self.tabs.retain(|t| *t != id);
        self.sent_size.remove(&id);
        if self.active == Some(id) {
            self.active = self.tabs.last().copied();
        }
    }
}

impl UiState {
    pub fn from_settings(settings: Settings) -> Self {
        let kind = Some(KindKey {
            group: Arc::from(settings.kind_group.as_str()),
            plural: Arc::from(settings.kind_plural.as_str()),
        });
        Self {
            selected_clusters: settings.selected_clusters.iter().map(|c| ClusterId::new(c)).collect(),
            selected_namespaces: settings.selected_namespaces.iter().map(|n| Arc::from(n.as_str())).collect(),
            clusters_initialised: !settings.selected_clusters.is_empty(),
            kind,
            settings,
            ..Self::default()
        }
    }

    /// Copies the selection into the settings that are saved.
    pub fn sync_settings(&mut self) {
        self.settings.selected_clusters = self.selected_clusters.iter().map(|c| c.to_string()).collect();
        self.settings.selected_namespaces = self.selected_namespaces.iter().map(|n| n.to_string()).collect();
        if let Some(kind) = &self.kind {
            self.settings.kind_group = kind.group.to_string();
            self.settings.kind_plural = kind.plural.to_string();
        }
    }

    /// The first time clusters are known: pick the saved ones that still exist, else the current context.
    pub fn initialise_clusters(&mut self, fleet: &FleetSnapshot) {
        if fleet.clusters.is_empty() {
            return;
        }
        self.selected_clusters.retain(|id| fleet.cluster(id).is_some());
        if self.selected_clusters.is_empty() {
            let current = fleet.clusters.iter().find(|c| c.is_current_context).or(fleet.clusters.first());
            if let Some(cluster) = current {
                self.selected_clusters.insert(cluster.id.clone());
            }
        }
        self.clusters_initialised = true;
    }

    pub fn label_selector_error(&self) -> Option<SelectorError> {
        LabelSelector::parse(&self.label_selector).err()
    }

    /// The Prometheus charts to follow: the open object's, while its Metrics tab shows.
    pub fn chart_query(&self, registry: &crate::model::Registry) -> Option<crate::model::ChartQuery> {
        if self.details_tab != DetailsTab::Metrics {
            return None;
        }
        let (kind, key) = self.open_object.as_ref()?;
        let subject = registry.chart_panel_for(kind)?.subject;
        Some(crate::model::ChartQuery { key: key.clone(), subject, range_secs: self.settings.chart_range_secs })
    }

    /// The backend query for the current selection. An invalid selector is not sent.
    pub fn view_query(&self, fleet: &FleetSnapshot) -> ViewQuery {
        ViewQuery {
            clusters: fleet
                .clusters
                .iter()
                .filter(|c| self.selected_clusters.contains(&c.id))
                .map(|c| c.id.clone())
                .collect(),
            kind: self.kind.clone(),
            namespaces: self.selected_namespaces.iter().cloned().collect(),
            text_filter: self.text_filter.clone(),
            label_selector: if self.label_selector_error().is_some() {
                String::new()
            } else {
                self.label_selector.clone()
            },
            sort: self.sort,
            sort_descending: self.sort_descending,
        }
    }

    /// Clicking a header sorts by it; clicking it again flips the direction.
    pub fn toggle_sort(&mut self, column: SortColumn) {
        if self.sort == column {
            self.sort_descending = !self.sort_descending;
        } else {
            self.sort = column;
            self.sort_descending = false;
        }
    }

    pub fn request_id(&mut self) -> u64 {
        self.outbox.request_id()
    }

    /// Runs `action` now, or asks first when `spec` says it destroys something.
    pub fn request_action(
        &mut self,
        spec: &crate::model::registry::ActionSpec,
        action: ActionCall,
        targets: Vec<Target>,
    ) {
        if spec.destructive {
            self.confirmation = Some(PendingConfirmation { action, targets });
        } else {
            self.run_action(action, targets);
        }
    }

    pub fn run_action(&mut self, action: ActionCall, targets: Vec<Target>) -> u64 {
        // A bulk action done is a selection used up.
        if !self.bulk_selection.is_empty() && targets.iter().all(|t| self.bulk_selection.contains(&t.key)) {
            self.bulk_selection.clear();
        }
        let request_id = self.request_id();
        self.outbox.push(Command::Act { request_id, targets, action });
        request_id
    }

    /// Sends the editor's text to be applied (or, with `dry_run`, checked by the server without
    /// storing); the text stays in the editor.
    pub fn apply_editor(&mut self, dry_run: bool) {
        let request_id = self.request_id();
        let Some(editor) = self.editor.as_mut() else { return };
        editor.pending_request = Some(request_id);
        editor.last_request = Some(request_id);
        editor.conflict = None;
        let request = EditRequest::Replace { target: editor.target.clone(), yaml: editor.text.clone(), dry_run };
        self.outbox.push(Command::Edit { request_id, request });
    }

    pub fn submit_create(&mut self, dry_run: bool) {
        let request_id = self.request_id();
        let Some(cluster) = self.create.cluster.clone() else { return };
        let namespace = Some(self.create.namespace.trim()).filter(|n| !n.is_empty()).map(Arc::from);
        self.create.last_request = Some(request_id);
        let request = EditRequest::Create { cluster, namespace, yaml: self.create.text.clone(), dry_run };
        self.outbox.push(Command::Edit { request_id, request });
    }

    /// Opens the log view on a pod or workload.
    pub fn open_logs(&mut self, target: Target) {
        let query = crate::model::LogQuery {
            target,
            container: None,
            previous: false,
            timestamps: false,
            follow: true,
            tail_lines: 1000,
        };
        self.logs = Some(LogsState {
            query,
            search: String::new(),
            only_matching: false,
            wrap: false,
            last_save_request: None,
        });
    }

    pub fn start_forward(&mut self, target: Target) {
        let id = self.request_id();
        let request = crate::model::ForwardRequest {
            target,
            remote_port: self.forward_remote_port,
            local_port: (self.forward_local_port != 0).then_some(self.forward_local_port),
        };
        self.outbox.push(Command::StartForward { id, request });
        self.show_forwards = true;
    }

    /// Adds a row to the bulk selection, or takes it out; another kind starts a new selection.
    pub fn toggle_bulk(&mut self, kind: KindKey, key: ObjectKey) {
        if self.bulk_kind.as_ref() != Some(&kind) {
            self.bulk_selection.clear();
            self.bulk_kind = Some(kind);
        }
        if !self.bulk_selection.remove(&key) {
            self.bulk_selection.insert(key);
        }
    }

    /// Adds rows to the bulk selection (Shift-click ranges, select all); another kind starts a
    /// new selection.
    pub fn select_bulk(&mut self, kind: KindKey, keys: impl IntoIterator<Item = ObjectKey>) {
        if self.bulk_kind.as_ref() != Some(&kind) {
            self.bulk_selection.clear();
            self.bulk_kind = Some(kind);
        }
        self.bulk_selection.extend(keys);
    }

    /// The bulk selection as action targets.
    pub fn bulk_targets(&self) -> Vec<Target> {
        let Some(kind) = &self.bulk_kind else { return Vec::new() };
        self.bulk_selection.iter().map(|key| Target { kind: kind.clone(), key: key.clone() }).collect()
    }

    /// Opens an exec terminal in the pod, running the chosen shell.
    pub fn open_terminal(&mut self, target: Target) {
        let id = self.request_id();
        let shell = if self.exec_shell.is_empty() { "sh".to_string() } else { self.exec_shell.clone() };
        let request = crate::model::ExecRequest {
            target,
            container: self.exec_container.clone(),
            command: vec![shell],
            rows: 24,
            cols: 80,
        };
        self.outbox.push(Command::OpenTerminal { id, request });
        self.terminals.opened(id);
    }

    pub fn stop_forward(&mut self, id: u64) {
        self.outbox.push(Command::StopForward { id });
    }

    pub fn save_logs(&mut self) {
        let request_id = self.request_id();
        if let Some(logs) = self.logs.as_mut() {
            logs.last_save_request = Some(request_id);
            self.outbox.push(Command::SaveLogs { request_id });
        }
    }

    pub fn open(&mut self, kind: KindKey, key: ObjectKey) {
        self.revealed_secret_keys.clear();
        self.reveal_secrets_in_yaml = false;
        self.open_object = Some((kind, key));
    }
}
