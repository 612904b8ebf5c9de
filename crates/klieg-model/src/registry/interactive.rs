//! What extensions register that the user interacts with: commands (the palette and app-bar
//! buttons), views built as a tree of plain nodes (headings, text, badges, tables, charts,
//! buttons, forms, YAML), hover glances, and settings schemas. Plain data and non-blocking
//! callbacks: a callback only hands the moment to its extension's own thread and returns.

use super::{SectionBody, SectionBuilder, Text};
use crate::{CellTone, ClusterId, KindKey, ObjectKey};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where the user was when they ran a command: the clusters and namespace they look at, and
/// the object open in details.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandContext {
    pub cluster: Option<ClusterId>,
    /// Every cluster selected (the first is `cluster` unless an object is open elsewhere).
    pub clusters: Vec<ClusterId>,
    pub namespace: Option<Arc<str>>,
    pub object: Option<(KindKey, ObjectKey)>,
}

/// Hands a command to whoever carries it out; returns at once.
pub type CommandRunner = Arc<dyn Fn(&CommandContext) + Send + Sync>;

/// A command of the palette (and, when `app_bar`, a button of the app bar).
#[derive(Clone)]
pub struct CommandSpec {
    pub id: Arc<str>,
    pub title: Text,
    /// Who offers it (a plugin's name), shown beside the title.
    pub source: Text,
    pub app_bar: bool,
    pub order: i32,
    pub run: CommandRunner,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSpec").field("id", &self.id).field("title", &self.title).finish_non_exhaustive()
    }
}

/// What a form field or a setting holds.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldKind {
    Text,
    Number,
    Toggle,
    Choice(Vec<Arc<str>>),
    /// Masked while typed; a setting of this kind is kept in the OS keyring.
    Secret,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(Arc<str>),
    Number(f64),
    Toggle(bool),
}

impl FieldValue {
    /// The value as JSON, for the extension.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Text(text) => serde_json::Value::from(&**text),
            Self::Number(n) => serde_json::Value::from(*n),
            Self::Toggle(on) => serde_json::Value::from(*on),
        }
    }
}

/// One field of a form or of a settings page.
#[derive(Clone, Debug, PartialEq)]
pub struct FormField {
    pub key: Arc<str>,
    pub label: Arc<str>,
    pub kind: FieldKind,
    pub default: Option<FieldValue>,
    pub help: Option<Arc<str>>,
}

impl FormField {
    /// The value a new form starts with.
    pub fn initial(&self) -> FieldValue {
        if let Some(value) = &self.default {
            return value.clone();
        }
        match &self.kind {
            FieldKind::Number => FieldValue::Number(0.0),
            FieldKind::Toggle => FieldValue::Toggle(false),
            FieldKind::Choice(choices) => FieldValue::Text(choices.first().cloned().unwrap_or_else(|| Arc::from(""))),
            FieldKind::Text | FieldKind::Secret => FieldValue::Text(Arc::from("")),
        }
    }
}

/// One node of a view built as data.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewNode {
    Heading(Arc<str>),
    /// What a detail section shows: entries, masked values, text, links, a table, a chart.
    Body(SectionBody),
    Badges(Vec<(Arc<str>, CellTone)>),
    /// A block of YAML (or any code), monospace and selectable.
    Yaml(Arc<str>),
    /// Buttons side by side: (id, label).
    Buttons(Vec<(Arc<str>, Arc<str>)>),
    Form {
        id: Arc<str>,
        fields: Vec<FormField>,
        submit: Arc<str>,
    },
    Separator,
}

/// At most this many nodes per built view (a tree with more is refused whole).
pub const VIEW_MAX_NODES: usize = 2000;

/// A view's content as last built.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViewTree {
    /// Changes each time the content does.
    pub generation: u64,
    pub nodes: Vec<ViewNode>,
    /// Why the content could not be built (its extension stopped), shown in its place.
    pub error: Option<Arc<str>>,
    /// A build is under way.
    pub building: bool,
}

/// What the user did in a built view.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewInput {
    Opened { context: CommandContext },
    Button { id: Arc<str>, context: CommandContext },
    Submit { form: Arc<str>, values: BTreeMap<Arc<str>, FieldValue>, context: CommandContext },
}

/// A view whose content its extension builds (and rebuilds after each button or form), kept
/// as a snapshot the window reads each frame.
#[derive(Clone)]
pub struct LiveView {
    pub current: Arc<dyn Fn() -> Arc<ViewTree> + Send + Sync>,
    /// Hands the user's input to the extension's thread; returns at once.
    pub input: Arc<dyn Fn(ViewInput) + Send + Sync>,
}

impl std::fmt::Debug for LiveView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveView")
    }
}

impl PartialEq for LiveView {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.current, &other.current)
    }
}

/// A small card shown while the pointer rests on a row: built on the backend from the object.
#[derive(Clone)]
pub struct GlanceSpec {
    pub id: Arc<str>,
    pub title: Text,
    pub kinds: super::KindMatch,
    pub build: SectionBuilder,
}

impl std::fmt::Debug for GlanceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlanceSpec").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Glances as built for one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GlanceSnapshot {
    pub object: Option<(KindKey, ObjectKey)>,
    pub glances: Vec<super::Section>,
}
