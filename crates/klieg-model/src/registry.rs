//! The registries through which every kind-specific feature enters Klieg: actions, detail
//! sections, column sets, sidebar entries, chart panels, kind icons, app-bar actions, relation
//! providers and event hooks. Built-ins register through the same calls a plugin makes
//! (`builtin::register`), so whatever a built-in can do, a registered extension can do.
//!
//! Everything here is plain data or a pure function over plain data (`serde_json::Value`
//! objects, rows' cells): no egui, no tokio, no kube. A registry is filled, then shared read-only
//! by the UI thread and the backend runtime through a `LiveRegistry`, which replaces it whole
//! when a plugin loads, reloads or stops.

pub mod builtin;
pub mod interactive;
pub mod live;
pub use interactive::{
    CommandContext, CommandRunner, CommandSpec, FieldKind, FieldValue, FormField, GlanceSnapshot, GlanceSpec, LiveView,
    VIEW_MAX_NODES, ViewInput, ViewNode, ViewTree,
};
pub use live::LiveRegistry;

use crate::{Cell, Column, KindKey, ObjectKey, Permission};
use std::sync::Arc;

/// A name shown to the user: a key of Klieg's translations, or text an extension supplies in
/// the user's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Text {
    Key(&'static str),
    Plain(Arc<str>),
}

impl Text {
    pub fn plain(text: &str) -> Self {
        Text::Plain(Arc::from(text))
    }
}

/// Which kinds a registered feature is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindMatch {
    /// Every kind (with `verb`, only kinds whose API serves it).
    Any,
    /// These kinds, by API group and plural.
    Kinds(Vec<KindKey>),
}

impl KindMatch {
    pub fn one(group: &str, plural: &str) -> Self {
        KindMatch::Kinds(vec![KindKey::new(group, plural)])
    }

    /// `group/plural` pairs.
    pub fn any_of(kinds: &[(&str, &str)]) -> Self {
        KindMatch::Kinds(kinds.iter().map(|(group, plural)| KindKey::new(group, plural)).collect())
    }

    pub fn matches(&self, kind: &KindKey) -> bool {
        match self {
            KindMatch::Any => true,
            KindMatch::Kinds(kinds) => kinds.contains(kind),
        }
    }
}

/// The resource a permission is about, relative to the object an action is offered on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NeedOn {
    /// The object's own kind.
    Object,
    /// A subresource of the object's kind (`scale`).
    Subresource(&'static str),
    /// A fixed resource (`pods/eviction` in the core group, `jobs` in `batch`).
    Resource { group: &'static str, resource: &'static str },
}

/// One permission an action needs: a verb on a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub verb: &'static str,
    pub on: NeedOn,
}

impl Need {
    pub const fn object(verb: &'static str) -> Self {
        Need { verb, on: NeedOn::Object }
    }

    pub const fn subresource(verb: &'static str, subresource: &'static str) -> Self {
        Need { verb, on: NeedOn::Subresource(subresource) }
    }

    pub const fn resource(verb: &'static str, group: &'static str, resource: &'static str) -> Self {
        Need { verb, on: NeedOn::Resource { group, resource } }
    }

    /// The permission, for an object of `kind`.
    pub fn permission(&self, kind: &KindKey) -> Permission {
        match &self.on {
            NeedOn::Object => Permission::new(self.verb, &kind.group, &kind.plural),
            NeedOn::Subresource(sub) => Permission::new(self.verb, &kind.group, &format!("{}/{sub}", kind.plural)),
            NeedOn::Resource { group, resource } => Permission::new(self.verb, group, resource),
        }
    }
}

/// The one value an action takes before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionInput {
    None,
    /// A whole number in `min..=max`, drawn beside the button with `prefix`.
    Count {
        prefix: Text,
        min: i64,
        max: i64,
        default: i64,
    },
    /// One of `options` (value, label; the first is the default), asked in the confirmation of
    /// a destructive action or beside the button otherwise.
    Choice {
        label: Text,
        options: Vec<(Arc<str>, Text)>,
    },
}

/// The value an action was invoked with.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum InputValue {
    #[default]
    None,
    Count(i64),
    Choice(Arc<str>),
}

impl InputValue {
    pub fn count(&self) -> Option<i64> {
        match self {
            InputValue::Count(value) => Some(*value),
            _ => None,
        }
    }

    pub fn choice(&self) -> Option<&str> {
        match self {
            InputValue::Choice(value) => Some(value),
            _ => None,
        }
    }
}

/// Where an action runs once invoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runs {
    /// On the backend: the UI sends the invocation and a handler registered with the backend
    /// under the action's id carries it out (with the user's credentials), reporting in the
    /// activity log.
    Backend,
    /// In the window: it opens a panel of the app (logs, the editor, a terminal, a forward).
    /// The app registers a window handler under the action's id.
    Window,
}

/// An action offered on objects.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionSpec {
    /// Unique; also the handler's key (`scale`, `cordon`, `example.com/label-reviewed`).
    pub id: Arc<str>,
    pub label: Text,
    pub kinds: KindMatch,
    /// A verb the kind's API must serve (from discovery) for the action to be offered.
    pub served_verb: Option<&'static str>,
    /// What RBAC must allow: the pane asks the server about exactly these.
    pub needs: Vec<Need>,
    /// Asks for confirmation first.
    pub destructive: bool,
    /// Said in the confirmation, under the targets (what a plugin's write will do).
    pub confirm_detail: Option<Text>,
    pub input: ActionInput,
    /// Offered over a bulk selection too.
    pub bulk: bool,
    pub runs: Runs,
    /// Buttons are drawn in ascending order.
    pub order: i32,
}

impl ActionSpec {
    /// A backend action with no input, offered one object at a time; adjust the fields after.
    pub fn new(id: &str, label: Text, kinds: KindMatch) -> Self {
        ActionSpec {
            id: Arc::from(id),
            label,
            kinds,
            served_verb: None,
            needs: Vec::new(),
            destructive: false,
            confirm_detail: None,
            input: ActionInput::None,
            bulk: false,
            runs: Runs::Backend,
            order: 500,
        }
    }

    /// Whether `kind`, whose API serves `verbs`, offers the action.
    pub fn applies_to(&self, kind: &KindKey, verbs: &[Arc<str>]) -> bool {
        self.kinds.matches(kind) && self.served_verb.is_none_or(|verb| verbs.iter().any(|v| &**v == verb))
    }

    /// The permissions it needs on an object of `kind`.
    pub fn permissions(&self, kind: &KindKey) -> impl Iterator<Item = Permission> + '_ {
        let kind = kind.clone();
        self.needs.iter().map(move |need| need.permission(&kind))
    }

    /// The input value it starts with.
    pub fn default_input(&self) -> InputValue {
        match &self.input {
            ActionInput::None => InputValue::None,
            ActionInput::Count { default, .. } => InputValue::Count(*default),
            ActionInput::Choice { options, .. } => {
                options.first().map_or(InputValue::None, |(value, _)| InputValue::Choice(value.clone()))
            }
        }
    }
}

/// An action invoked by the user: which one, and with what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionCall {
    pub id: Arc<str>,
    pub input: InputValue,
}

/// A link to another object, shown in a section (navigates on click).
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectLink {
    pub kind: KindKey,
    pub label: Arc<str>,
    pub key: ObjectKey,
}

/// A chart a section asks to have drawn: series of `[x, y]` points.
#[derive(Clone, Debug, PartialEq)]
pub struct SectionChart {
    pub unit: crate::ChartUnit,
    pub series: Vec<(Arc<str>, Vec<[f64; 2]>)>,
}

/// What a detail section shows: plain data the UI knows how to draw.
#[derive(Clone, Debug, PartialEq)]
pub enum SectionBody {
    /// Key and value pairs; long or multi-line values fold under their key.
    Entries(Vec<(Arc<str>, Arc<str>)>),
    /// Key and value pairs whose values stay masked until the user reveals each.
    Masked(Vec<(Arc<str>, Arc<str>)>),
    /// Free text, selectable.
    Text(Arc<str>),
    /// Links to other objects.
    Links(Vec<ObjectLink>),
    Table {
        columns: Vec<Arc<str>>,
        rows: Vec<Vec<Arc<str>>>,
    },
    Chart(SectionChart),
    /// The section's builder failed (it panicked); shown in its place as an error.
    Failed(Arc<str>),
}

/// At most this many entries, links or table rows are shown per section; the rest are counted.
pub const SECTION_MAX_ITEMS: usize = 1000;
/// At most this much of a section's text (or of one value) is shown.
pub const SECTION_MAX_TEXT_BYTES: usize = 256 * 1024;

fn capped_text(text: &Arc<str>) -> Arc<str> {
    if text.len() <= SECTION_MAX_TEXT_BYTES {
        return text.clone();
    }
    let mut end = SECTION_MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Arc::from(format!("{}…", &text[..end]))
}

fn capped<T: Clone>(items: &[T], each: impl Fn(&T) -> T) -> Vec<T> {
    items.iter().take(SECTION_MAX_ITEMS).map(each).collect()
}

impl SectionBody {
    /// The body within the named limits: lists cut at [`SECTION_MAX_ITEMS`], texts at
    /// [`SECTION_MAX_TEXT_BYTES`]; whatever a builder returns, the pane stays cheap to draw.
    pub fn within_limits(self) -> SectionBody {
        let pair = |(k, v): &(Arc<str>, Arc<str>)| (capped_text(k), capped_text(v));
        match self {
            SectionBody::Entries(entries) if needs_cap(&entries) => SectionBody::Entries(capped(&entries, pair)),
            SectionBody::Masked(values) if needs_cap(&values) => SectionBody::Masked(capped(&values, pair)),
            SectionBody::Text(text) => SectionBody::Text(capped_text(&text)),
            SectionBody::Links(links) if links.len() > SECTION_MAX_ITEMS => {
                SectionBody::Links(links.into_iter().take(SECTION_MAX_ITEMS).collect())
            }
            SectionBody::Table { columns, rows } => SectionBody::Table {
                columns: capped(&columns, capped_text),
                rows: capped(&rows, |row| capped(row, capped_text)),
            },
            SectionBody::Chart(SectionChart { unit, series }) => SectionBody::Chart(SectionChart {
                unit,
                series: capped(&series, |(name, points)| {
                    (capped_text(name), points.iter().take(SECTION_MAX_CHART_POINTS).copied().collect())
                }),
            }),
            other => other,
        }
    }
}

/// At most this many points per chart series.
pub const SECTION_MAX_CHART_POINTS: usize = 10_000;

fn needs_cap(pairs: &[(Arc<str>, Arc<str>)]) -> bool {
    pairs.len() > SECTION_MAX_ITEMS
        || pairs.iter().any(|(k, v)| k.len() > SECTION_MAX_TEXT_BYTES || v.len() > SECTION_MAX_TEXT_BYTES)
}

/// A registered builder panicked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ExtensionPanic(pub String);

/// Runs a registered builder or hook, turning a panic into an error: an extension's bug costs
/// its own output, never the task (the details follower, a table's ingest) that called it.
pub fn run_guarded<T>(run: impl FnOnce() -> T) -> Result<T, ExtensionPanic> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panicked".to_string());
        ExtensionPanic(message)
    })
}

/// A built section, as the details snapshot carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub id: Arc<str>,
    pub title: Text,
    pub body: SectionBody,
}

/// What a section builder sees: the object as the server returned it (managedFields stripped)
/// and where it lives.
pub struct SectionInput<'a> {
    pub object: &'a serde_json::Value,
    pub key: &'a ObjectKey,
    pub kind: &'a KindKey,
}

pub type SectionBuilder = Arc<dyn Fn(&SectionInput<'_>) -> Option<SectionBody> + Send + Sync>;

/// A section of the details pane, built on the backend each time the object changes.
#[derive(Clone)]
pub struct SectionSpec {
    pub id: Arc<str>,
    pub title: Text,
    pub kinds: KindMatch,
    /// Sections are shown in ascending order, after the built-in metadata.
    pub order: i32,
    /// `None`: nothing to show for this object.
    pub build: SectionBuilder,
}

impl std::fmt::Debug for SectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectionSpec").field("id", &self.id).field("kinds", &self.kinds).finish_non_exhaustive()
    }
}

/// What a column set's cells are computed from: one row as it arrives from the server.
pub struct RowInput<'a> {
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub labels: &'a [(Arc<str>, Arc<str>)],
    /// The server's own cells, in the order of its columns.
    pub cells: &'a [Cell],
    /// The object (metadata, spec, status, data) when a set of its kind asked for objects.
    pub object: Option<&'a serde_json::Value>,
}

pub type CellsBuilder = Arc<dyn Fn(&RowInput<'_>) -> Vec<Cell> + Send + Sync>;

/// Where a column set's cells come from.
#[derive(Clone)]
pub enum ColumnValues {
    /// Computed once per row as it is ingested (never per frame): one cell per column; missing
    /// cells show empty.
    Row(CellsBuilder),
    /// Live CPU and memory from metrics-server, polled by the backend while the table shows and
    /// joined to the rows by name (the columns appear once a cluster answers).
    Usage(crate::UsageKind),
}

/// Extra table columns for some kinds.
#[derive(Clone)]
pub struct ColumnSetSpec {
    pub id: Arc<str>,
    pub kinds: KindMatch,
    pub columns: Vec<Column>,
    pub values: ColumnValues,
    /// The cells need the object's spec, status or data (`RowInput::object`): the kind's table
    /// watch then asks for whole objects, which costs bandwidth and parsing per row.
    pub needs_object: bool,
}

impl std::fmt::Debug for ColumnSetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnSetSpec").field("id", &self.id).field("columns", &self.columns).finish_non_exhaustive()
    }
}

/// A sidebar entry beside the discovered kinds: opens a view.
#[derive(Clone, Debug, PartialEq)]
pub struct SidebarEntry {
    pub id: Arc<str>,
    pub label: Text,
    pub view: ViewId,
    pub order: i32,
}

/// A view the central panel can show instead of the table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewId(pub Arc<str>);

/// What an action registered at run time (a plugin's) does to its target, as its plugin planned
/// it; the backend carries it out with the user's credentials.
#[derive(Clone, Debug, PartialEq)]
pub enum PlannedAction {
    /// A JSON merge patch of the target.
    Patch(serde_json::Value),
    /// A JSON merge patch of the target's status subresource (what controllers read, as
    /// `cmctl renew` sets a Certificate's Issuing condition).
    PatchStatus(serde_json::Value),
    /// A command run on this machine: the program and its arguments, no shell.
    Exec(Vec<String>),
}

/// A registered view described as data: a title, an introduction, and tables of kinds, each
/// the generic table (sorting, filtering, virtualised rows, registered columns) for that kind.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewSpec {
    pub id: ViewId,
    pub title: Text,
    pub intro: Option<Text>,
    pub tables: Vec<ViewTable>,
    /// Content its extension builds as a tree of nodes, drawn above the tables.
    pub live: Option<LiveView>,
}

/// One table of a registered view: a tab naming it, and the kind it lists.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewTable {
    pub title: Text,
    pub kind: KindKey,
}

/// A chart panel of the details pane's Metrics tab, for some kinds.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartPanelSpec {
    pub id: Arc<str>,
    pub kinds: KindMatch,
    pub subject: crate::ChartSubject,
}

/// A glyph shown before a kind's name.
#[derive(Clone, Debug, PartialEq)]
pub struct KindIcon {
    pub kinds: KindMatch,
    pub glyph: Arc<str>,
}

/// What an app-bar button opens.
#[derive(Clone, Debug, PartialEq)]
pub enum AppBarTarget {
    /// A registered view, shown instead of the table (the button toggles it).
    View(ViewId),
    /// A window of the app (the forwards' list, "create from YAML"), opened by the window
    /// handler the app registers under the button's id.
    Window,
    /// A registered command, run with where the user is.
    Command(Arc<str>),
}

/// A button of the app bar (not about one object).
#[derive(Clone, Debug, PartialEq)]
pub struct AppBarAction {
    pub id: Arc<str>,
    pub label: Text,
    /// Shown on hover.
    pub hint: Option<Text>,
    pub opens: AppBarTarget,
    /// Buttons are drawn in ascending order.
    pub order: i32,
}

/// The kind of a related object: by API group and plural, or as objects name kinds (an
/// ownerReference's `apiVersion` and `kind`), resolved through the cluster's discovery.
#[derive(Clone, Debug, PartialEq)]
pub enum RelatedKind {
    Key(KindKey),
    Named { api_version: Arc<str>, kind: Arc<str> },
}

/// An edge from one object to another in the same cluster (its owner, its node, a volume it
/// mounts), for the details pane's Related list and for a map view.
#[derive(Clone, Debug, PartialEq)]
pub struct Relation {
    pub kind: RelatedKind,
    /// The object's namespace for a namespaced kind (ignored for cluster-scoped ones).
    pub namespace: Option<Arc<str>>,
    pub name: Arc<str>,
    /// How the object relates ("Owner", "Node", "Mounts").
    pub label: Text,
}

pub type RelationBuilder = Arc<dyn Fn(&SectionInput<'_>) -> Vec<Relation> + Send + Sync>;

/// Finds the objects one object points at (its owners, a pod's node, a claim's volume).
#[derive(Clone)]
pub struct RelationProvider {
    pub id: Arc<str>,
    pub kinds: KindMatch,
    pub relations: RelationBuilder,
}

/// At most this many relations are kept per object (a provider returning more is cut).
pub const MAX_RELATIONS: usize = 500;

/// Moments extensions can follow.
#[derive(Clone, Debug, PartialEq)]
pub enum AppEvent {
    ObjectOpened {
        kind: KindKey,
        key: ObjectKey,
    },
    /// An action (or edit) on `subject` (`cluster/namespace/name`) ended; `action` is its label.
    ActionFinished {
        action: Arc<str>,
        subject: Arc<str>,
        succeeded: bool,
    },
    ClusterConnected {
        cluster: crate::ClusterId,
    },
    ViewOpened {
        view: ViewId,
    },
}

pub type EventHook = Arc<dyn Fn(&AppEvent) + Send + Sync>;

/// Every registry. Filled, then shared read-only (a change builds a new one: `LiveRegistry`).
#[derive(Clone, Default)]
pub struct Registry {
    actions: Vec<ActionSpec>,
    sections: Vec<SectionSpec>,
    columns: Vec<ColumnSetSpec>,
    sidebar: Vec<SidebarEntry>,
    views: Vec<ViewSpec>,
    charts: Vec<ChartPanelSpec>,
    icons: Vec<KindIcon>,
    app_bar: Vec<AppBarAction>,
    relations: Vec<RelationProvider>,
    hooks: Vec<EventHook>,
    commands: Vec<CommandSpec>,
    glances: Vec<GlanceSpec>,
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("{what} {id:?} is registered already")]
    Duplicate { what: &'static str, id: String },
}

fn unique<'a>(
    what: &'static str,
    mut ids: impl Iterator<Item = &'a Arc<str>>,
    id: &Arc<str>,
) -> Result<(), RegistryError> {
    if ids.any(|existing| existing == id) {
        return Err(RegistryError::Duplicate { what, id: id.to_string() });
    }
    Ok(())
}

impl Registry {
    /// The registries with every built-in feature registered.
    pub fn with_builtins() -> Self {
        let mut registry = Registry::default();
        builtin::register(&mut registry);
        registry
    }

    pub fn add_action(&mut self, spec: ActionSpec) -> Result<(), RegistryError> {
        unique("action", self.actions.iter().map(|a| &a.id), &spec.id)?;
        self.actions.push(spec);
        self.actions.sort_by_key(|a| a.order);
        Ok(())
    }

    pub fn add_section(&mut self, spec: SectionSpec) -> Result<(), RegistryError> {
        unique("section", self.sections.iter().map(|s| &s.id), &spec.id)?;
        self.sections.push(spec);
        self.sections.sort_by_key(|s| s.order);
        Ok(())
    }

    pub fn add_column_set(&mut self, spec: ColumnSetSpec) -> Result<(), RegistryError> {
        unique("column set", self.columns.iter().map(|c| &c.id), &spec.id)?;
        self.columns.push(spec);
        Ok(())
    }

    pub fn add_sidebar_entry(&mut self, entry: SidebarEntry) -> Result<(), RegistryError> {
        unique("sidebar entry", self.sidebar.iter().map(|e| &e.id), &entry.id)?;
        self.sidebar.push(entry);
        self.sidebar.sort_by_key(|e| e.order);
        Ok(())
    }

    pub fn add_chart_panel(&mut self, spec: ChartPanelSpec) -> Result<(), RegistryError> {
        unique("chart panel", self.charts.iter().map(|c| &c.id), &spec.id)?;
        self.charts.push(spec);
        Ok(())
    }

    /// Later icons win over earlier ones for the kinds both match.
    pub fn add_kind_icon(&mut self, icon: KindIcon) {
        self.icons.push(icon);
    }

    pub fn add_app_bar_action(&mut self, action: AppBarAction) -> Result<(), RegistryError> {
        unique("app-bar action", self.app_bar.iter().map(|a| &a.id), &action.id)?;
        self.app_bar.push(action);
        self.app_bar.sort_by_key(|a| a.order);
        Ok(())
    }

    pub fn add_relation_provider(&mut self, provider: RelationProvider) -> Result<(), RegistryError> {
        unique("relation provider", self.relations.iter().map(|r| &r.id), &provider.id)?;
        self.relations.push(provider);
        Ok(())
    }

    pub fn add_event_hook(&mut self, hook: EventHook) {
        self.hooks.push(hook);
    }

    /// Adds a command to the palette (and to the app bar when it asks to be there).
    pub fn add_command(&mut self, command: CommandSpec) -> Result<(), RegistryError> {
        unique("command", self.commands.iter().map(|c| &c.id), &command.id)?;
        if command.app_bar {
            let button = AppBarAction {
                id: command.id.clone(),
                label: command.title.clone(),
                hint: Some(command.source.clone()),
                opens: AppBarTarget::Command(command.id.clone()),
                order: command.order,
            };
            self.add_app_bar_action(button)?;
        }
        self.commands.push(command);
        self.commands.sort_by_key(|c| c.order);
        Ok(())
    }

    pub fn commands(&self) -> &[CommandSpec] {
        &self.commands
    }

    pub fn command(&self, id: &str) -> Option<&CommandSpec> {
        self.commands.iter().find(|c| &*c.id == id)
    }

    pub fn add_glance(&mut self, glance: GlanceSpec) -> Result<(), RegistryError> {
        unique("glance", self.glances.iter().map(|g| &g.id), &glance.id)?;
        self.glances.push(glance);
        Ok(())
    }

    /// Whether any glance is registered for `kind` (the table then asks for them on hover).
    pub fn has_glances_for(&self, kind: &KindKey) -> bool {
        self.glances.iter().any(|g| g.kinds.matches(kind))
    }

    /// Every glance of the object's kind, built (one that panics or shows nothing is left out).
    pub fn build_glances(&self, input: &SectionInput<'_>) -> Vec<Section> {
        self.glances
            .iter()
            .filter(|g| g.kinds.matches(input.kind))
            .filter_map(|g| {
                let body = run_guarded(|| (g.build)(input)).ok().flatten()?;
                Some(Section { id: g.id.clone(), title: g.title.clone(), body: body.within_limits() })
            })
            .collect()
    }

    pub fn action(&self, id: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| &*a.id == id)
    }

    /// The actions `kind` (serving `verbs`) offers, in button order.
    pub fn actions_for<'a>(&'a self, kind: &'a KindKey, verbs: &'a [Arc<str>]) -> impl Iterator<Item = &'a ActionSpec> {
        self.actions.iter().filter(move |a| a.applies_to(kind, verbs))
    }

    pub fn sections_for<'a>(&'a self, kind: &'a KindKey) -> impl Iterator<Item = &'a SectionSpec> {
        self.sections.iter().filter(move |s| s.kinds.matches(kind))
    }

    /// The column sets computed at ingest for `kind`, in registration order.
    pub fn column_sets_for(&self, kind: &KindKey) -> Vec<ColumnSetSpec> {
        self.columns
            .iter()
            .filter(|c| c.kinds.matches(kind) && matches!(c.values, ColumnValues::Row(_)))
            .cloned()
            .collect()
    }

    /// The live usage columns `kind` has (pods and nodes), if any: the first registered.
    pub fn usage_columns_for(&self, kind: &KindKey) -> Option<(crate::UsageKind, &[Column])> {
        self.columns.iter().filter(|c| c.kinds.matches(kind)).find_map(|c| match c.values {
            ColumnValues::Usage(usage) => Some((usage, c.columns.as_slice())),
            ColumnValues::Row(_) => None,
        })
    }

    pub fn sidebar_entries(&self) -> &[SidebarEntry] {
        &self.sidebar
    }

    /// Adds a view described as data (opened by a sidebar entry or an app-bar button).
    pub fn add_view(&mut self, view: ViewSpec) -> Result<(), RegistryError> {
        unique("view", self.views.iter().map(|v| &v.id.0), &view.id.0)?;
        self.views.push(view);
        Ok(())
    }

    pub fn view(&self, id: &ViewId) -> Option<&ViewSpec> {
        self.views.iter().find(|v| v.id == *id)
    }

    pub fn chart_panel_for(&self, kind: &KindKey) -> Option<&ChartPanelSpec> {
        self.charts.iter().find(|c| c.kinds.matches(kind))
    }

    pub fn icon_for(&self, kind: &KindKey) -> Option<&str> {
        self.icons.iter().rev().find(|i| i.kinds.matches(kind)).map(|i| &*i.glyph)
    }

    pub fn kind_icons(&self) -> &[KindIcon] {
        &self.icons
    }

    pub fn app_bar_actions(&self) -> &[AppBarAction] {
        &self.app_bar
    }

    /// Every registered provider's edges from the object (a provider that panics adds none).
    pub fn relations_of(&self, input: &SectionInput<'_>) -> Vec<Relation> {
        self.relations
            .iter()
            .filter(|r| r.kinds.matches(input.kind))
            .flat_map(|r| run_guarded(|| (r.relations)(input)).unwrap_or_default())
            .take(MAX_RELATIONS)
            .collect()
    }

    /// Tells every hook; a hook runs on the thread that saw the moment and must return quickly.
    /// A hook that panics misses the moment; the others still hear it.
    pub fn emit(&self, event: &AppEvent) {
        for hook in &self.hooks {
            let _ = run_guarded(|| hook(event));
        }
    }

    /// Every permission the details pane may need for an object of `kind` whose API serves
    /// `verbs`: those of each action it offers, once, sorted. Derived from the registered
    /// actions, so the pane asks about exactly what its buttons need.
    pub fn object_permissions(&self, kind: &KindKey, verbs: &[Arc<str>]) -> Vec<Permission> {
        let mut wanted: Vec<Permission> = self.actions_for(kind, verbs).flat_map(|a| a.permissions(kind)).collect();
        wanted.sort();
        wanted.dedup();
        wanted
    }

    /// The permissions the bulk bar may need over rows of `kind`: those of its bulk actions.
    pub fn bulk_permissions(&self, kind: &KindKey, verbs: &[Arc<str>]) -> Vec<Permission> {
        let mut wanted: Vec<Permission> =
            self.actions_for(kind, verbs).filter(|a| a.bulk).flat_map(|a| a.permissions(kind)).collect();
        wanted.sort();
        wanted.dedup();
        wanted
    }

    /// Builds the sections of an object of `kind`, in order, each within the section limits. A
    /// builder that panics shows its error in its section's place.
    pub fn build_sections(&self, input: &SectionInput<'_>) -> Vec<Section> {
        self.sections_for(input.kind)
            .filter_map(|spec| {
                let body = match run_guarded(|| (spec.build)(input)) {
                    Ok(body) => body?.within_limits(),
                    Err(panic) => SectionBody::Failed(Arc::from(panic.0.as_str())),
                };
                Some(Section { id: spec.id.clone(), title: spec.title.clone(), body })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configmaps() -> KindKey {
        KindKey::new("", "configmaps")
    }

    #[test]
    fn a_panicking_builder_costs_only_its_own_section_and_hooks_go_on() {
        let mut registry = Registry::default();
        let spec = |id: &str, order, build: SectionBuilder| SectionSpec {
            id: Arc::from(id),
            title: Text::plain(id),
            kinds: KindMatch::Any,
            order,
            build,
        };
        registry.add_section(spec("broken", 1, Arc::new(|_| panic!("bad plugin")))).expect("new");
        registry.add_section(spec("fine", 2, Arc::new(|_| Some(SectionBody::Text(Arc::from("ok")))))).expect("new");
        let key = ObjectKey { cluster: crate::ClusterId::new("a"), namespace: None, name: Arc::from("x") };
        let object = serde_json::json!({});
        let sections = registry.build_sections(&SectionInput { object: &object, key: &key, kind: &configmaps() });
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].body, SectionBody::Failed(Arc::from("bad plugin")));
        assert_eq!(sections[1].body, SectionBody::Text(Arc::from("ok")));
        let heard = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        registry.add_event_hook(Arc::new(|_| panic!("bad hook")));
        let counter = heard.clone();
        registry.add_event_hook(Arc::new(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        registry.emit(&AppEvent::ClusterConnected { cluster: crate::ClusterId::new("a") });
        assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), 1, "the hook after a panicking one hears");
        registry
            .add_relation_provider(RelationProvider {
                id: Arc::from("broken"),
                kinds: KindMatch::Any,
                relations: Arc::new(|_| panic!("bad relations")),
            })
            .expect("new");
        assert!(registry.relations_of(&SectionInput { object: &object, key: &key, kind: &configmaps() }).is_empty());
    }

    #[test]
    fn oversized_bodies_are_cut_to_the_named_limits() {
        let many: Vec<(Arc<str>, Arc<str>)> =
            (0..SECTION_MAX_ITEMS + 50).map(|i| (Arc::from(i.to_string()), Arc::from("v"))).collect();
        let SectionBody::Entries(cut) = SectionBody::Entries(many).within_limits() else { panic!("entries") };
        assert_eq!(cut.len(), SECTION_MAX_ITEMS);
        // Cut on a character boundary: 'é' is two bytes, so the limit falls inside one.
        let text: String = std::iter::once('a').chain(std::iter::repeat_n('é', SECTION_MAX_TEXT_BYTES)).collect();
        let SectionBody::Text(cut) = SectionBody::Text(Arc::from(text)).within_limits() else { panic!("text") };
        assert!(cut.len() <= SECTION_MAX_TEXT_BYTES + '…'.len_utf8() && cut.ends_with('…'));
        let rows = vec![vec![Arc::from("cell"); 3]; SECTION_MAX_ITEMS * 2];
        let SectionBody::Table { rows, .. } =
            SectionBody::Table { columns: vec![Arc::from("c")], rows }.within_limits()
        else {
            panic!("table")
        };
        assert_eq!(rows.len(), SECTION_MAX_ITEMS);
        let small = SectionBody::Masked(vec![(Arc::from("k"), Arc::from("v"))]);
        assert_eq!(small.clone().within_limits(), small, "bodies within the limits are untouched");
    }
}
