//! UI-thread state: what the user selected and typed, and the settings that persist between
//! runs. No I/O and no egui drawing here; the app turns it into backend queries.

use crate::model::{ClusterId, FleetSnapshot, KindKey, LabelSelector, ObjectKey, SelectorError, SortColumn, ViewQuery};
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
        }
    }
}

/// What the details pane shows.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum DetailsTab {
    #[default]
    Overview,
    Yaml,
}

#[derive(Debug, Default)]
pub struct UiState {
    pub settings: Settings,
    pub selected_clusters: BTreeSet<ClusterId>,
    pub selected_namespaces: BTreeSet<Arc<str>>,
    pub kind: Option<KindKey>,
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

    pub fn open(&mut self, kind: KindKey, key: ObjectKey) {
        self.revealed_secret_keys.clear();
        self.reveal_secrets_in_yaml = false;
        self.open_object = Some((kind, key));
    }
}
