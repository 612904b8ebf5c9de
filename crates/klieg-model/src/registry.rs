//! The registries through which every kind-specific feature enters Klieg: actions, detail
//! sections, column sets, sidebar entries, chart panels, kind icons, app-bar actions, relation
//! providers and event hooks. Built-ins register through the same calls a plugin makes
//! (`builtin::register`), so whatever a built-in can do, a registered extension can do.
//!
//! Everything here is plain data or a pure function over plain data (`serde_json::Value`
//! objects, rows' cells): no egui, no tokio, no kube. A registry is filled once at start and then
//! shared read-only (`Arc<Registry>`) by the UI thread and the backend runtime.

pub mod builtin;

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
}

pub type CellsBuilder = Arc<dyn Fn(&RowInput<'_>) -> Vec<Cell> + Send + Sync>;

/// Extra table columns for some kinds, computed once per row as it is ingested (never per frame).
#[derive(Clone)]
pub struct ColumnSetSpec {
    pub id: Arc<str>,
    pub kinds: KindMatch,
    pub columns: Vec<Column>,
    /// One cell per column; missing cells show empty.
    pub cells: CellsBuilder,
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

/// An edge between two objects, for a map view.
#[derive(Clone, Debug, PartialEq)]
pub struct Relation {
    pub from: ObjectKey,
    pub to: ObjectKey,
    pub to_kind: KindKey,
    pub label: Arc<str>,
}

pub type RelationBuilder = Arc<dyn Fn(&SectionInput<'_>) -> Vec<Relation> + Send + Sync>;

/// Finds the objects one object points at (its owners, a Service's pods, a claim's volume).
#[derive(Clone)]
pub struct RelationProvider {
    pub id: Arc<str>,
    pub kinds: KindMatch,
    pub relations: RelationBuilder,
}

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
}

pub type EventHook = Arc<dyn Fn(&AppEvent) + Send + Sync>;

/// Every registry. Filled once before the window and the backend start, then shared read-only.
#[derive(Clone, Default)]
pub struct Registry {
    actions: Vec<ActionSpec>,
    sections: Vec<SectionSpec>,
    columns: Vec<ColumnSetSpec>,
    sidebar: Vec<SidebarEntry>,
    charts: Vec<ChartPanelSpec>,
    icons: Vec<KindIcon>,
    app_bar: Vec<AppBarAction>,
    relations: Vec<RelationProvider>,
    hooks: Vec<EventHook>,
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

    /// The column sets for `kind`, in registration order.
    pub fn column_sets_for(&self, kind: &KindKey) -> Vec<ColumnSetSpec> {
        self.columns.iter().filter(|c| c.kinds.matches(kind)).cloned().collect()
    }

    pub fn sidebar_entries(&self) -> &[SidebarEntry] {
        &self.sidebar
    }

    pub fn chart_panel_for(&self, kind: &KindKey) -> Option<&ChartPanelSpec> {
        self.charts.iter().find(|c| c.kinds.matches(kind))
    }

    pub fn icon_for(&self, kind: &KindKey) -> Option<&str> {
        self.icons.iter().rev().find(|i| i.kinds.matches(kind)).map(|i| &*i.glyph)
    }

    pub fn app_bar_actions(&self) -> &[AppBarAction] {
        &self.app_bar
    }

    /// Every registered provider's edges from the object.
    pub fn relations_of(&self, input: &SectionInput<'_>) -> Vec<Relation> {
        self.relations.iter().filter(|r| r.kinds.matches(input.kind)).flat_map(|r| (r.relations)(input)).collect()
    }

    /// Tells every hook; a hook runs on the thread that saw the moment and must return quickly.
    pub fn emit(&self, event: &AppEvent) {
        for hook in &self.hooks {
            hook(event);
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

    /// Builds the sections of an object of `kind`, in order.
    pub fn build_sections(&self, input: &SectionInput<'_>) -> Vec<Section> {
        self.sections_for(input.kind)
            .filter_map(|spec| {
                let body = (spec.build)(input)?;
                Some(Section { id: spec.id.clone(), title: spec.title.clone(), body })
            })
            .collect()
    }
}
