//! UI-thread state: what the user selected and typed, and the settings that persist between
//! runs. No I/O and no egui drawing here; the app turns it into backend queries.

use crate::model::registry::{ActionSpec, ViewId};
use crate::model::{
    ActionCall, ClusterId, Command, EditRequest, FleetSnapshot, InputValue, KindKey, LabelSelector, ObjectKey,
    SelectorError, SortColumn, Target, ViewQuery,
};
use std::collections::BTreeSet;
use std::sync::Arc;

mod draft;
pub use draft::Draft;

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
    /// Exec credential plugins the user approved to run, each bound to its command, environment,
    /// context and server (SHA-256 keys from the backend; no environment values).
    pub approved_exec: std::collections::BTreeSet<String>,
    /// Plugins the user turned on or off, by id, with the capabilities granted.
    pub plugins: std::collections::BTreeMap<String, PluginChoice>,
}

/// What the user chose for one plugin.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PluginChoice {
    pub enabled: bool,
    /// Capability tokens granted (`read:secrets`, `http:example.com`…).
    pub granted: std::collections::BTreeSet<String>,
    /// The user said not to confirm this plugin's writes again.
    pub trust_writes: bool,
    /// Its settings (secret ones are in the keyring, never here).
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
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
            approved_exec: std::collections::BTreeSet::new(),
            plugins: std::collections::BTreeMap::new(),
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
    /// Whether that request is a dry run (a dry run saves nothing).
    pub pending_dry_run: bool,
    /// Something that would throw the user's changes away, waiting for them to agree.
    pub discard: Option<Discard>,
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
            pending_dry_run: false,
            discard: None,
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

    /// Whether the text holds changes not applied to the server.
    pub fn is_dirty(&self) -> bool {
        *self.text != *self.original
    }

    /// The text was applied: it is the new starting point (the diff shows what came after).
    pub fn saved(&mut self) {
        self.original = Arc::from(self.text.as_str());
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

/// What would discard an edit's unapplied changes, asked before it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Discard {
    /// Close the editor.
    Close,
    /// Go back to the text the edit started from.
    Revert,
    /// Edit another object instead (its YAML, secret values masked).
    EditOther { target: Target, yaml: Arc<str> },
}

/// An action waiting for the user to confirm it.
#[derive(Debug, Clone, PartialEq)]
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

/// Which clusters, namespaces and kind (or registered view) the window shows: the sidebar's
/// state, read by the table and the app.
#[derive(Debug, Default)]
pub struct Selection {
    pub clusters: BTreeSet<ClusterId>,
    pub namespaces: BTreeSet<Arc<str>>,
    pub kind: Option<KindKey>,
    /// A registered view (the cluster overview) shown instead of the table; `None`: the table.
    pub view: Option<ViewId>,
    pub namespace_search: String,
    /// Set once the first fleet snapshot has chosen default clusters.
    pub clusters_initialised: bool,
    /// The shown kind was checked against what the user may list (once, at start).
    pub kind_settled: bool,
}

impl Selection {
    /// The first time clusters are known: pick the saved ones that still exist, else the current context.
    pub fn initialise_clusters(&mut self, fleet: &FleetSnapshot) {
        if fleet.clusters.is_empty() {
            return;
        }
        self.clusters.retain(|id| fleet.cluster(id).is_some());
        if self.clusters.is_empty() {
            let current = fleet.clusters.iter().find(|c| c.is_current_context).or(fleet.clusters.first());
            if let Some(cluster) = current {
                self.clusters.insert(cluster.id.clone());
            }
        }
        self.clusters_initialised = true;
    }
}

/// The table's own controls: its filters and its sort.
#[derive(Debug, Default)]
pub struct TableState {
    pub text_filter: String,
    pub label_selector: String,
    pub sort: SortColumn,
    pub sort_descending: bool,
    /// The row the pointer rests on, when its kind has glances (their object is read).
    pub hovered: Option<ObjectKey>,
}

impl TableState {
    pub fn label_selector_error(&self) -> Option<SelectorError> {
        LabelSelector::parse(&self.label_selector).err()
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
}

/// Rows chosen for a bulk action (Ctrl/Cmd-click), all of one kind, from any cluster.
#[derive(Debug, Default)]
pub struct BulkSelection {
    pub keys: BTreeSet<ObjectKey>,
    pub kind: Option<KindKey>,
    /// Where a Shift-click range starts: the row last clicked.
    pub anchor: Option<ObjectKey>,
}

impl BulkSelection {
    /// Adds a row to the selection, or takes it out; another kind starts a new selection.
    pub fn toggle(&mut self, kind: KindKey, key: ObjectKey) {
        self.switch_kind(kind);
        if !self.keys.remove(&key) {
            self.keys.insert(key);
        }
    }

    /// Adds rows (Shift-click ranges, select all); another kind starts a new selection.
    pub fn select(&mut self, kind: KindKey, keys: impl IntoIterator<Item = ObjectKey>) {
        self.switch_kind(kind);
        self.keys.extend(keys);
    }

    fn switch_kind(&mut self, kind: KindKey) {
        if self.kind.as_ref() != Some(&kind) {
            self.keys.clear();
            self.kind = Some(kind);
        }
    }

    /// The selection as action targets.
    pub fn targets(&self) -> Vec<Target> {
        let Some(kind) = &self.kind else { return Vec::new() };
        self.keys.iter().map(|key| Target { kind: kind.clone(), key: key.clone() }).collect()
    }
}

/// The details pane: the open object, the tab shown, and which secret values are revealed.
#[derive(Debug, Default)]
pub struct DetailsState {
    pub open: Option<(KindKey, ObjectKey)>,
    pub tab: DetailsTab,
    /// Secret keys whose values are shown; cleared whenever another object opens.
    pub revealed_secret_keys: BTreeSet<String>,
    pub reveal_secrets_in_yaml: bool,
}

impl DetailsState {
    pub fn open(&mut self, kind: KindKey, key: ObjectKey) {
        self.revealed_secret_keys.clear();
        self.reveal_secrets_in_yaml = false;
        self.open = Some((kind, key));
    }
}

/// What the user set beside the action buttons before pressing them (of the open object and of
/// the bulk bar), and the destructive action waiting for their confirmation.
#[derive(Debug, Default)]
pub struct ActionsState {
    /// Each backend action's input as last set (replicas, revision, a delete's propagation),
    /// by action id.
    pub inputs: std::collections::BTreeMap<Arc<str>, InputValue>,
    pub confirmation: Option<PendingConfirmation>,
    pub exec_shell: String,
    pub exec_container: Option<Arc<str>>,
    /// Port-forward inputs: the pod's or Service's port, and the local one (0: pick a free port).
    pub forward_remote_port: u16,
    pub forward_local_port: u16,
    /// A finished action's output shown in its window: its title and text.
    pub output: Option<(String, Arc<str>)>,
}

impl ActionsState {
    /// Asks `intents` to run `action` now, or to ask first when `spec` says it destroys something.
    pub fn request(spec: &ActionSpec, action: ActionCall, targets: Vec<Target>, outbox: &mut Outbox) {
        if spec.destructive {
            outbox.intend(Intent::Confirm(PendingConfirmation { action, targets }));
        } else {
            outbox.intend(Intent::Act { action, targets });
        }
    }

    /// The shell an exec terminal runs.
    pub fn shell(&self) -> String {
        if self.exec_shell.is_empty() { "sh".to_string() } else { self.exec_shell.clone() }
    }
}

/// A move from one panel into another (opening an object from the table, logs from the
/// details pane), asked while panels draw and applied once they all have
/// ([`UiState::apply_intents`]): a panel changes only its own state.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Open the object in the details pane.
    Open {
        kind: KindKey,
        key: ObjectKey,
    },
    OpenLogs(Target),
    /// Edit the object's YAML, starting from `yaml` (secret values masked).
    Edit {
        target: Target,
        yaml: Arc<str>,
    },
    OpenTerminal(Target),
    StartForward(Target),
    /// Show or hide the forwards' window.
    ToggleForwards,
    /// Open the "create from YAML" window.
    OpenCreate,
    /// Open the "Add cluster" window.
    OpenAddCluster,
    /// Show the table of a kind, sorted by name.
    ShowKind(KindKey),
    /// Show a registered view instead of the table (`None`: the table).
    ShowView(Option<ViewId>),
    /// Run an action now; a bulk action done uses the selection up.
    Act {
        action: ActionCall,
        targets: Vec<Target>,
    },
    /// Ask for confirmation before a destructive action.
    Confirm(PendingConfirmation),
}

/// The forwards' window.
#[derive(Debug, Default)]
pub struct ForwardsState {
    pub shown: bool,
}

/// The window's state, one part per panel. Each panel is drawn with its own part (and the
/// outbox); what crosses panels goes through [`Intent`]s.
#[derive(Debug, Default)]
pub struct UiState {
    pub settings: Settings,
    pub selection: Selection,
    pub table: TableState,
    pub bulk: BulkSelection,
    pub details: DetailsState,
    pub actions: ActionsState,
    pub editor: Option<EditorState>,
    /// An unsaved edit found on disk at start (the last session crashed or was closed with it),
    /// offered to the user until they open or discard it.
    pub recovered_draft: Option<Draft>,
    pub create: CreateState,
    pub add_cluster: AddClusterState,
    pub logs: Option<LogsState>,
    pub forwards: ForwardsState,
    /// The exec terminals' panel.
    pub terminals: TerminalsState,
    /// The Plugins page.
    pub plugins: PluginsPageState,
    pub palette: PaletteState,
    pub views: ViewsState,
    /// Commands and intents the panels produced this frame.
    pub outbox: Outbox,
}

impl UiState {
    /// Where the user is, for a command or view: the first selected cluster, the one chosen
    /// namespace, the object open in details.
    pub fn command_context(&self) -> crate::model::registry::CommandContext {
        let object = self.details.open.clone();
        let cluster = object
            .as_ref()
            .map(|(_, key)| key.cluster.clone())
            .or_else(|| self.selection.clusters.iter().next().cloned());
        let namespace = match (self.selection.namespaces.len(), self.selection.namespaces.first()) {
            (1, Some(one)) => Some(one.clone()),
            _ => object.as_ref().and_then(|(_, key)| key.namespace.clone()),
        };
        let clusters = self.selection.clusters.iter().cloned().collect();
        crate::model::registry::CommandContext { cluster, clusters, namespace, object }
    }
}

/// The Plugins page: which plugin's capabilities are being reviewed before a grant, and what
/// the user asked of the plugin host this frame.
#[derive(Debug, Default)]
pub struct PluginsPageState {
    pub reviewing: Option<String>,
    pub requests: Vec<PluginRequest>,
    /// Settings being typed, by (plugin, key), until applied.
    pub editing: std::collections::BTreeMap<(String, String), crate::model::registry::FieldValue>,
    /// Whose settings are shown.
    pub settings_open: Option<String>,
}

/// The command palette (Ctrl+K): open or not, what was typed, the highlighted command.
#[derive(Debug, Default)]
pub struct PaletteState {
    pub open: bool,
    pub query: String,
    pub selected: usize,
}

/// One form's values as typed, by field key.
pub type FormValues = std::collections::BTreeMap<Arc<str>, crate::model::registry::FieldValue>;

/// Registered views' forms and what their buttons and forms asked this frame.
#[derive(Debug, Default)]
pub struct ViewsState {
    /// Each form's values as typed, by (view, form).
    pub forms: std::collections::BTreeMap<(Arc<str>, Arc<str>), FormValues>,
    pub inputs: Vec<(ViewId, crate::model::registry::ViewInput)>,
    /// Commands chosen this frame (palette, app bar), run with where the user is.
    pub commands: Vec<Arc<str>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PluginRequest {
    /// Turn on with these capability tokens granted.
    Enable {
        id: String,
        granted: std::collections::BTreeSet<String>,
    },
    Disable {
        id: String,
    },
    Reload {
        id: String,
    },
    /// One of its settings (a secret one goes to the keyring).
    Setting {
        id: String,
        key: String,
        value: crate::model::registry::FieldValue,
        secret: bool,
    },
}

/// What panels produce in a frame — commands for the backend and intents for other panels —
/// and the ids that pair requests with their answers. A panel is given this beside its own state.
#[derive(Debug, Default)]
pub struct Outbox {
    commands: Vec<Command>,
    intents: Vec<Intent>,
    next_request_id: u64,
}

impl Outbox {
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    pub fn intend(&mut self, intent: Intent) {
        self.intents.push(intent);
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

impl LogsState {
    /// The log view of a pod or workload, following its last thousand lines.
    pub fn new(target: Target) -> Self {
        let query = crate::model::LogQuery {
            target,
            container: None,
            previous: false,
            timestamps: false,
            follow: true,
            tail_lines: 1000,
        };
        LogsState { query, search: String::new(), only_matching: false, wrap: false, last_save_request: None }
    }

    pub fn save(&mut self, outbox: &mut Outbox) {
        let request_id = outbox.request_id();
        self.last_save_request = Some(request_id);
        outbox.push(Command::SaveLogs { request_id });
    }
}

impl EditorState {
    /// Sends the text to be applied (or, with `dry_run`, checked by the server without
    /// storing); the text stays in the editor.
    pub fn apply(&mut self, dry_run: bool, outbox: &mut Outbox) {
        let request_id = outbox.request_id();
        self.pending_request = Some(request_id);
        self.pending_dry_run = dry_run;
        self.last_request = Some(request_id);
        self.conflict = None;
        let request = EditRequest::Replace { target: self.target.clone(), yaml: self.text.clone(), dry_run };
        outbox.push(Command::Edit { request_id, request });
    }
}

impl CreateState {
    pub fn submit(&mut self, dry_run: bool, outbox: &mut Outbox) {
        let Some(cluster) = self.cluster.clone() else { return };
        let request_id = outbox.request_id();
        let namespace = Some(self.namespace.trim()).filter(|n| !n.is_empty()).map(Arc::from);
        self.last_request = Some(request_id);
        let request = EditRequest::Create { cluster, namespace, yaml: self.text.clone(), dry_run };
        outbox.push(Command::Edit { request_id, request });
    }
}

impl UiState {
    pub fn from_settings(settings: Settings) -> Self {
        let kind = Some(KindKey {
            group: Arc::from(settings.kind_group.as_str()),
            plural: Arc::from(settings.kind_plural.as_str()),
        });
        let selection = Selection {
            clusters: settings.selected_clusters.iter().map(|c| ClusterId::new(c)).collect(),
            namespaces: settings.selected_namespaces.iter().map(|n| Arc::from(n.as_str())).collect(),
            clusters_initialised: !settings.selected_clusters.is_empty(),
            kind,
            ..Selection::default()
        };
        Self { selection, settings, ..Self::default() }
    }

    /// Copies the selection into the settings that are saved.
    pub fn sync_settings(&mut self) {
        self.settings.selected_clusters = self.selection.clusters.iter().map(|c| c.to_string()).collect();
        self.settings.selected_namespaces = self.selection.namespaces.iter().map(|n| n.to_string()).collect();
        if let Some(kind) = &self.selection.kind {
            self.settings.kind_group = kind.group.to_string();
            self.settings.kind_plural = kind.plural.to_string();
        }
    }

    /// The Prometheus charts to follow: the open object's, while its Metrics tab shows.
    pub fn chart_query(&self, registry: &crate::model::Registry) -> Option<crate::model::ChartQuery> {
        if self.details.tab != DetailsTab::Metrics {
            return None;
        }
        let (kind, key) = self.details.open.as_ref()?;
        let subject = registry.chart_panel_for(kind)?.subject;
        Some(crate::model::ChartQuery { key: key.clone(), subject, range_secs: self.settings.chart_range_secs })
    }

    /// The backend query for the current selection. An invalid selector is not sent.
    pub fn view_query(&self, fleet: &FleetSnapshot) -> ViewQuery {
        ViewQuery {
            clusters: fleet
                .clusters
                .iter()
                .filter(|c| self.selection.clusters.contains(&c.id))
                .map(|c| c.id.clone())
                .collect(),
            kind: self.selection.kind.clone(),
            namespaces: self.selection.namespaces.iter().cloned().collect(),
            text_filter: self.table.text_filter.clone(),
            label_selector: if self.table.label_selector_error().is_some() {
                String::new()
            } else {
                self.table.label_selector.clone()
            },
            sort: self.table.sort,
            sort_descending: self.table.sort_descending,
        }
    }

    /// Applies the intents the panels produced this frame, in order; says whether there were any
    /// (the window then draws again to show their effect).
    pub fn apply_intents(&mut self) -> bool {
        let intents = std::mem::take(&mut self.outbox.intents);
        let any = !intents.is_empty();
        for intent in intents {
            self.apply(intent);
        }
        any
    }

    /// Applies one intent now.
    pub fn apply(&mut self, intent: Intent) {
        match intent {
            Intent::Open { kind, key } => self.details.open(kind, key),
            Intent::OpenLogs(target) => self.logs = Some(LogsState::new(target)),
            Intent::Edit { target, yaml } => match self.editor.as_mut() {
                // Unapplied changes are not thrown away without asking.
                Some(editor) if editor.is_dirty() && editor.target != target => {
                    editor.discard = Some(Discard::EditOther { target, yaml });
                }
                // The same object again keeps the edit as it is.
                Some(editor) if editor.target == target => {}
                _ => self.editor = Some(EditorState::new(target, yaml)),
            },
            Intent::OpenTerminal(target) => self.open_terminal(target),
            Intent::StartForward(target) => self.start_forward(target),
            Intent::ToggleForwards => self.forwards.shown = !self.forwards.shown,
            Intent::OpenCreate => {
                self.create.open = true;
                if self.create.cluster.is_none() {
                    self.create.cluster = self.selection.clusters.iter().next().cloned();
                }
            }
            Intent::OpenAddCluster => self.add_cluster.open = true,
            Intent::ShowKind(kind) => {
                self.selection.view = None;
                self.selection.kind = Some(kind);
                self.table.sort = SortColumn::Name;
                self.table.sort_descending = false;
            }
            Intent::ShowView(view) => self.selection.view = view,
            Intent::Act { action, targets } => {
                self.run_action(action, targets);
            }
            Intent::Confirm(pending) => self.actions.confirmation = Some(pending),
        }
    }

    /// Sends `action` over `targets`; returns the request's id.
    pub fn run_action(&mut self, action: ActionCall, targets: Vec<Target>) -> u64 {
        // A bulk action done is a selection used up.
        if !self.bulk.keys.is_empty() && targets.iter().all(|t| self.bulk.keys.contains(&t.key)) {
            self.bulk.keys.clear();
        }
        let request_id = self.outbox.request_id();
        self.outbox.push(Command::Act { request_id, targets, action });
        request_id
    }

    fn start_forward(&mut self, target: Target) {
        let id = self.outbox.request_id();
        let request = crate::model::ForwardRequest {
            target,
            remote_port: self.actions.forward_remote_port,
            local_port: (self.actions.forward_local_port != 0).then_some(self.actions.forward_local_port),
        };
        self.outbox.push(Command::StartForward { id, request });
        self.forwards.shown = true;
    }

    /// Opens an exec terminal in the pod, running the chosen shell.
    fn open_terminal(&mut self, target: Target) {
        let id = self.outbox.request_id();
        let request = crate::model::ExecRequest {
            target,
            container: self.actions.exec_container.clone(),
            command: vec![self.actions.shell()],
            rows: 24,
            cols: 80,
        };
        self.outbox.push(Command::OpenTerminal { id, request });
        self.terminals.opened(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Target {
        let key = ObjectKey { cluster: ClusterId::new("a"), namespace: Some(Arc::from("ns")), name: Arc::from(name) };
        Target { kind: KindKey::new("", "pods"), key }
    }

    #[test]
    fn intents_apply_after_the_panels_and_a_bulk_action_uses_its_selection_up() {
        let mut state = UiState::default();
        let pods = KindKey::new("", "pods");
        state.bulk.select(pods.clone(), [target("web-1").key, target("web-2").key]);
        state.outbox.intend(Intent::Open { kind: pods.clone(), key: target("web-1").key });
        state.outbox.intend(Intent::OpenLogs(target("web-1")));
        assert!(state.details.open.is_none() && state.logs.is_none(), "nothing moves while panels draw");
        assert!(state.apply_intents());
        assert_eq!(state.details.open, Some((pods.clone(), target("web-1").key)));
        assert_eq!(state.logs.as_ref().map(|l| l.query.target.clone()), Some(target("web-1")));
        assert!(!state.apply_intents(), "intents apply once");
        // An action on the open object keeps the selection; one over the selection uses it up.
        let action = ActionCall { id: Arc::from("restart"), input: InputValue::None };
        state.apply(Intent::Act { action: action.clone(), targets: vec![target("other")] });
        assert_eq!(state.bulk.keys.len(), 2);
        state.apply(Intent::Act { action, targets: state.bulk.targets() });
        assert!(state.bulk.keys.is_empty());
        let sent = state.outbox.take();
        assert_eq!(sent.len(), 2);
        assert!(matches!(&sent[1], Command::Act { targets, .. } if targets.len() == 2));
    }

    #[test]
    fn editing_another_object_over_unapplied_changes_asks_first() {
        let mut state = UiState::default();
        let yaml = |text: &str| Arc::from(text);
        state.apply(Intent::Edit { target: target("first"), yaml: yaml("a: 1\n") });
        // Clean: another object simply replaces it.
        state.apply(Intent::Edit { target: target("second"), yaml: yaml("b: 1\n") });
        assert_eq!(state.editor.as_ref().map(|e| e.target.key.name.to_string()).as_deref(), Some("second"));
        let editor = state.editor.as_mut().expect("editor");
        editor.text = "b: 2\n".into();
        assert!(editor.is_dirty());
        // Dirty: the edit stays and the question waits; the same object again changes nothing.
        state.apply(Intent::Edit { target: target("third"), yaml: yaml("c: 1\n") });
        let editor = state.editor.as_ref().expect("editor");
        assert_eq!((&*editor.target.key.name, editor.text.as_str()), ("second", "b: 2\n"));
        assert!(matches!(&editor.discard, Some(Discard::EditOther { target, .. }) if &*target.key.name == "third"));
        state.apply(Intent::Edit { target: target("second"), yaml: yaml("b: 1\n") });
        assert_eq!(state.editor.as_ref().map(|e| e.text.as_str()), Some("b: 2\n"));
        // Once applied, the text is the new starting point: nothing left to lose.
        let editor = state.editor.as_mut().expect("editor");
        editor.saved();
        assert!(!editor.is_dirty());
    }

    #[test]
    fn a_new_kind_starts_a_new_bulk_selection_and_opening_hides_revealed_secrets() {
        let mut bulk = BulkSelection::default();
        bulk.toggle(KindKey::new("", "pods"), target("web-1").key);
        bulk.toggle(KindKey::new("", "pods"), target("web-2").key);
        bulk.toggle(KindKey::new("", "pods"), target("web-1").key);
        assert_eq!(bulk.keys.len(), 1);
        bulk.toggle(KindKey::new("apps", "deployments"), target("web").key);
        assert_eq!(bulk.targets().len(), 1);
        assert_eq!(bulk.targets()[0].kind, KindKey::new("apps", "deployments"));
        let mut details = DetailsState::default();
        details.revealed_secret_keys.insert("password".into());
        details.reveal_secrets_in_yaml = true;
        details.open(KindKey::new("", "secrets"), target("other").key);
        assert!(details.revealed_secret_keys.is_empty() && !details.reveal_secrets_in_yaml);
    }
}
