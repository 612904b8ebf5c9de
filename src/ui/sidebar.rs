//! The left sidebar: clusters with their connection state, namespaces, and every kind the
//! selected clusters serve, grouped by category. UI thread.

use super::theme;
use crate::model::{
    Category, CellTone, ClusterInfo, ClusterMode, ClusterState, FleetSnapshot, KindKey, Registry, ResourceKind,
};
use crate::state::{Intent, Outbox, Selection, Settings};
use rust_i18n::t;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the sidebar changes: the selection, the per-cluster settings (modes, named namespaces)
/// and the outbox.
pub struct SidebarParts<'a> {
    pub selection: &'a mut Selection,
    pub settings: &'a mut Settings,
    pub outbox: &'a mut Outbox,
}

pub fn sidebar_ui(ui: &mut egui::Ui, parts: SidebarParts<'_>, fleet: &FleetSnapshot, registry: &Registry) {
    let SidebarParts { selection, settings, outbox } = parts;
    egui::Panel::left("sidebar").resizable(true).default_size(270.0).min_size(200.0).show(ui, |ui| {
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
            clusters_ui(ui, SidebarParts { selection, settings, outbox }, fleet);
            ui.separator();
            namespaces_ui(ui, selection, settings, fleet);
            ui.separator();
            kinds_ui(ui, selection, outbox, fleet, registry);
        });
    });
}

fn clusters_ui(ui: &mut egui::Ui, parts: SidebarParts<'_>, fleet: &FleetSnapshot) {
    let SidebarParts { selection, settings, outbox } = parts;
    ui.horizontal(|ui| {
        ui.strong(t!("sidebar.clusters"));
        if ui.small_button(t!("add_cluster.open")).on_hover_text(t!("add_cluster.open_help")).clicked() {
            outbox.intend(Intent::OpenAddCluster);
        }
    });
    if fleet.clusters.is_empty() {
        ui.label(egui::RichText::new(t!("sidebar.no_clusters")).weak());
    }
    for cluster in fleet.clusters.iter() {
        cluster_row_ui(ui, SidebarParts { selection, settings, outbox }, cluster);
    }
}

fn cluster_row_ui(ui: &mut egui::Ui, parts: SidebarParts<'_>, cluster: &ClusterInfo) {
    let SidebarParts { selection, settings, outbox } = parts;
    let visuals = ui.visuals().clone();
    let (tone, status) = match &cluster.state {
        ClusterState::Off => (CellTone::Normal, t!("cluster.off").to_string()),
        ClusterState::Connecting => (CellTone::Warning, t!("cluster.connecting").to_string()),
        ClusterState::Connected { server_version } => {
            (CellTone::Good, t!("cluster.connected", version = server_version).to_string())
        }
        ClusterState::Failed { kind, .. } => (CellTone::Bad, t!(kind.label_key()).to_string()),
        ClusterState::NeedsApproval { .. } => (CellTone::Warning, t!("cluster.needs_approval").to_string()),
    };
    ui.horizontal(|ui| {
        let mut selected = selection.clusters.contains(&cluster.id);
        let usable = !matches!(
            cluster.state,
            ClusterState::Failed { kind: crate::model::ClusterErrorKind::MalformedKubeconfig, .. }
        );
        let checkbox = ui.add_enabled(usable, egui::Checkbox::new(&mut selected, cluster.id.as_str()));
        if checkbox.changed() {
            if selected {
                selection.clusters.insert(cluster.id.clone());
            } else {
                selection.clusters.remove(&cluster.id);
            }
        }
        checkbox.on_hover_text(format!(
            "{}\n{}",
            t!("cluster.source", file = cluster.source),
            cluster.server_url.as_deref().unwrap_or("")
        ));
        if cluster.insecure_tls {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Warning), "⚠")
                .on_hover_text(t!("cluster.insecure_tls"));
        }
        cluster_mode_ui(ui, settings, cluster);
        if cluster.added_in_klieg && ui.small_button("×").on_hover_text(t!("add_cluster.remove_help")).clicked() {
            let request_id = outbox.request_id();
            outbox.push(crate::model::Command::RemoveCluster { request_id, name: cluster.id.to_string() });
        }
    });
    let status_label = ui.indent(("status", cluster.id.as_str()), |ui| {
        ui.horizontal(|ui| {
            let color = theme::tone_color(&visuals, tone);
            let (dot, _) = ui.allocate_exact_size(egui::vec2(8.0, 8.0), egui::Sense::hover());
            ui.painter().circle_filled(dot.center(), 4.0, color);
            ui.colored_label(color, status)
        })
        .inner
    });
    if let ClusterState::NeedsApproval { command, approval } = &cluster.state {
        exec_approval_ui(ui, settings, cluster, command, approval);
    }
    if let ClusterState::Failed { detail, .. } = &cluster.state {
        status_label.inner.on_hover_text(detail.as_ref());
        ui.indent(("detail", cluster.id.as_str()), |ui| {
            ui.add(egui::Label::new(egui::RichText::new(detail.as_ref()).small().weak()).truncate())
                .on_hover_text(detail.as_ref());
        });
    }
}

/// The command an exec credential plugin would run, shown whole, and the button that approves
/// it: nothing runs before. The approval is saved with the settings and sent by the app.
fn exec_approval_ui(ui: &mut egui::Ui, settings: &mut Settings, cluster: &ClusterInfo, command: &str, approval: &str) {
    ui.indent(("approval", cluster.id.as_str()), |ui| {
        ui.label(egui::RichText::new(t!("cluster.exec_command")).small());
        // Monospace at the small size (`.small()` would switch to the proportional font, where
        // `--` reads as a dash).
        let size = ui.style().text_styles.get(&egui::TextStyle::Small).map_or(10.0, |font| font.size);
        let text = egui::RichText::new(command).family(egui::FontFamily::Monospace).size(size);
        ui.add(egui::Label::new(text).wrap());
        let button = ui.button(t!("cluster.exec_approve")).on_hover_text(t!("cluster.exec_approve_help"));
        if button.clicked() {
            settings.approved_exec.insert(approval.to_string());
        }
    });
}

/// Live, paused or off: a small button naming the mode, opening the choices. The choice is saved
/// with the settings and sent to the backend by the app.
fn cluster_mode_ui(ui: &mut egui::Ui, settings: &mut Settings, cluster: &ClusterInfo) {
    let shown = settings.cluster_modes.get(cluster.id.as_str()).copied().unwrap_or(cluster.mode);
    let mut chosen = shown;
    ui.menu_button(t!(shown.label_key()), |ui| {
        for choice in ClusterMode::ALL {
            if ui.selectable_label(choice == shown, t!(choice.label_key())).clicked() {
                chosen = choice;
                ui.close();
            }
        }
    })
    .response
    .on_hover_text(t!("cluster.mode_help"));
    if chosen != shown {
        if chosen == ClusterMode::Live {
            settings.cluster_modes.remove(cluster.id.as_str());
        } else {
            settings.cluster_modes.insert(cluster.id.to_string(), chosen);
        }
    }
}

/// Whether `name` can be a namespace (an RFC 1123 label).
fn is_namespace_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn namespaces_ui(ui: &mut egui::Ui, state: &mut Selection, settings: &mut Settings, fleet: &FleetSnapshot) {
    let selected: Vec<&ClusterInfo> = fleet.clusters.iter().filter(|c| state.clusters.contains(&c.id)).collect();
    let named = |settings: &Settings, cluster: &ClusterInfo| -> Vec<Arc<str>> {
        let names = settings.cluster_namespaces.get(cluster.id.as_str());
        names.into_iter().flatten().map(|n| Arc::from(n.as_str())).collect()
    };
    let mut all: Vec<Arc<str>> =
        selected.iter().flat_map(|c| c.namespaces.iter().cloned().chain(named(settings, c))).collect();
    all.sort();
    all.dedup();
    let title = if state.namespaces.is_empty() {
        t!("sidebar.namespaces_all").to_string()
    } else {
        t!("sidebar.namespaces_some", count = state.namespaces.len()).to_string()
    };
    egui::CollapsingHeader::new(title).id_salt("namespaces").default_open(false).show(ui, |ui| {
        ui.add(egui::TextEdit::singleline(&mut state.namespace_search).hint_text(t!("sidebar.namespace_search")));
        let mut everything = state.namespaces.is_empty();
        if ui.checkbox(&mut everything, t!("sidebar.all_namespaces")).changed() && everything {
            state.namespaces.clear();
        }
        let needle = state.namespace_search.trim().to_lowercase();
        // A namespace the cluster does not list (the user may not list them) can be named.
        if is_namespace_name(&needle)
            && !all.iter().any(|ns| **ns == *needle)
            && ui
                .button(t!("sidebar.use_namespace", namespace = needle))
                .on_hover_text(t!("sidebar.use_namespace_help"))
                .clicked()
        {
            for cluster in &selected {
                let names = settings.cluster_namespaces.entry(cluster.id.to_string()).or_default();
                if !names.contains(&needle) {
                    names.push(needle.clone());
                }
            }
            state.namespaces.insert(Arc::from(needle.as_str()));
            state.namespace_search.clear();
        }
        for namespace in all.iter().filter(|ns| ns.to_lowercase().contains(&needle)) {
            let listed = selected.iter().any(|c| c.namespaces.contains(namespace));
            ui.horizontal(|ui| {
                let mut checked = state.namespaces.contains(namespace);
                if ui.checkbox(&mut checked, namespace.as_ref()).changed() {
                    if checked {
                        state.namespaces.insert(namespace.clone());
                    } else {
                        state.namespaces.remove(namespace);
                    }
                }
                // Named by the user, not listed by any cluster: it can be forgotten again.
                if !listed && ui.small_button("×").on_hover_text(t!("sidebar.forget_namespace")).clicked() {
                    for names in settings.cluster_namespaces.values_mut() {
                        names.retain(|name| **name != **namespace);
                    }
                    settings.cluster_namespaces.retain(|_, names| !names.is_empty());
                    state.namespaces.remove(namespace);
                }
            });
        }
    });
}

/// Kinds served by any selected cluster, one entry per (group, plural).
pub fn kinds_by_category(
    selected: &std::collections::BTreeSet<crate::model::ClusterId>,
    fleet: &FleetSnapshot,
) -> BTreeMap<Category, Vec<ResourceKind>> {
    let mut by_key: BTreeMap<KindKey, ResourceKind> = BTreeMap::new();
    for cluster in fleet.clusters.iter().filter(|c| selected.contains(&c.id)) {
        // Kinds the user may not list are left out (all shown while the rules are unknown).
        let may_list = |kind: &ResourceKind| {
            cluster.access.as_ref().is_none_or(|access| access.allows("list", &kind.group, &kind.plural, ""))
        };
        for kind in cluster.kinds.iter().filter(|k| may_list(k)) {
            by_key.entry(kind.key()).or_insert_with(|| kind.clone());
        }
    }
    let mut grouped: BTreeMap<Category, Vec<ResourceKind>> = BTreeMap::new();
    for kind in by_key.into_values() {
        grouped.entry(kind.category()).or_default().push(kind);
    }
    for kinds in grouped.values_mut() {
        kinds.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.group.cmp(&b.group)));
    }
    grouped
}

/// The width of the icon column before the kinds' names.
const KIND_ICON_WIDTH: f32 = 16.0;

fn kinds_ui(ui: &mut egui::Ui, state: &mut Selection, outbox: &mut Outbox, fleet: &FleetSnapshot, registry: &Registry) {
    // The registered views (the cluster overview, an extension's) above the kinds.
    for entry in registry.sidebar_entries() {
        let selected = state.view.as_ref() == Some(&entry.view);
        if ui.selectable_label(selected, super::text(&entry.label)).clicked() {
            state.view = Some(entry.view.clone());
        }
    }
    let grouped = kinds_by_category(&state.clusters, fleet);
    if grouped.is_empty() {
        ui.label(egui::RichText::new(t!("sidebar.no_kinds")).weak());
        return;
    }
    for category in Category::ALL {
        let Some(kinds) = grouped.get(&category) else {
            continue;
        };
        let default_open = matches!(category, Category::Workloads | Category::Network | Category::Config);
        egui::CollapsingHeader::new(t!(category.label_key()))
            .id_salt(category.label_key())
            .default_open(default_open)
            .show(ui, |ui| {
                for kind in kinds {
                    let key = kind.key();
                    let selected = state.view.is_none() && state.kind.as_ref() == Some(&key);
                    let duplicate = kinds.iter().filter(|k| k.kind == kind.kind).count() > 1;
                    let label =
                        if duplicate { format!("{} ({})", kind.kind, kind.group) } else { kind.kind.to_string() };
                    // The icon sits in a column of its own, so the kind's label stays its name.
                    let response = ui
                        .horizontal(|ui| {
                            let (slot, _) =
                                ui.allocate_exact_size(egui::vec2(KIND_ICON_WIDTH, 14.0), egui::Sense::hover());
                            if let Some(glyph) = registry.icon_for(&key) {
                                ui.put(slot, egui::Label::new(egui::RichText::new(glyph).weak()));
                            }
                            ui.selectable_label(selected, label)
                        })
                        .inner
                        .on_hover_text(format!("{} · {}", kind.plural, kind.api_version()));
                    if response.clicked() && !selected {
                        outbox.intend(Intent::ShowKind(key));
                    }
                }
            });
    }
}
