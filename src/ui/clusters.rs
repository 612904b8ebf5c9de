//! The "Add cluster" window: paste a kubeconfig, or give a server URL, CA and token. The backend
//! writes the cluster to Klieg's own kubeconfig and its secrets to the OS keyring; the secret
//! fields are cleared here once it reports success. UI thread.

use super::theme;
use crate::model::{ActivityLog, AddCluster, CellTone, Command, Outcome};
use crate::state::{AddClusterState, Outbox};
use rust_i18n::t;

/// How the last add went, once answered.
fn add_outcome_ui(ui: &mut egui::Ui, request: Option<u64>, log: &ActivityLog) {
    let Some(answer) = request.and_then(|request| log.for_request(request).last()) else { return };
    let visuals = ui.visuals().clone();
    match &answer.outcome {
        Outcome::Running => {
            theme::spinner_ui(ui);
        }
        Outcome::Done { message } => {
            ui.colored_label(
                theme::tone_color(&visuals, CellTone::Good),
                t!("add_cluster.added", names = message.as_ref()),
            );
        }
        Outcome::Failed { message } | Outcome::Conflict { live_yaml: message, .. } => {
            ui.colored_label(theme::tone_color(&visuals, CellTone::Bad), message.as_ref());
        }
    }
}

/// Name, server, CA and token (the token masked), and "skip TLS verification" with its warning.
fn token_fields_ui(ui: &mut egui::Ui, form: &mut crate::state::AddClusterState) {
    egui::Grid::new("add_cluster_fields").num_columns(2).show(ui, |ui| {
        // Each field is labelled by its caption, for screen readers (and tests).
        let label = ui.label(t!("add_cluster.name"));
        ui.add(egui::TextEdit::singleline(&mut form.name).hint_text("prod-eu")).labelled_by(label.id);
        ui.end_row();
        let label = ui.label(t!("add_cluster.server"));
        ui.add(egui::TextEdit::singleline(&mut form.server).hint_text("https://203.0.113.10:6443"))
            .labelled_by(label.id);
        ui.end_row();
        let label = ui.label(t!("add_cluster.ca"));
        ui.add(egui::TextEdit::multiline(&mut form.ca_pem).desired_rows(3).hint_text("-----BEGIN CERTIFICATE-----"))
            .labelled_by(label.id);
        ui.end_row();
        let label = ui.label(t!("add_cluster.token"));
        ui.add(egui::TextEdit::singleline(&mut form.token).password(true)).labelled_by(label.id);
        ui.end_row();
    });
    ui.checkbox(&mut form.insecure, t!("add_cluster.insecure"));
    if form.insecure {
        ui.colored_label(theme::tone_color(ui.visuals(), CellTone::Warning), t!("cluster.insecure_tls"));
    }
}

pub fn add_cluster_window_ui(ctx: &egui::Context, form: &mut AddClusterState, outbox: &mut Outbox, log: &ActivityLog) {
    if !form.open {
        return;
    }
    let mut open = true;
    let mut submit = false;
    egui::Window::new(t!("add_cluster.title").to_string())
        .id(egui::Id::unique("add_cluster_window"))
        .open(&mut open)
        .default_size([560.0, 420.0])
        .pivot(egui::Align2::CENTER_CENTER)
        .default_pos(ctx.content_rect().center())
        .show(ctx, |ui| {
            ui.label(egui::RichText::new(t!("add_cluster.help")).weak());
            ui.horizontal(|ui| {
                ui.selectable_value(&mut form.paste_kubeconfig, false, t!("add_cluster.by_token"));
                ui.selectable_value(&mut form.paste_kubeconfig, true, t!("add_cluster.by_kubeconfig"));
            });
            // The button and the answer stay at the top, whatever the fields below hold.
            if ui.button(t!("add_cluster.add")).clicked() {
                submit = true;
            }
            add_outcome_ui(ui, form.last_request, log);
            ui.separator();
            if form.paste_kubeconfig {
                ui.add(
                    egui::TextEdit::multiline(&mut form.kubeconfig)
                        .code_editor()
                        .desired_rows(12)
                        .desired_width(f32::INFINITY)
                        .hint_text(t!("add_cluster.kubeconfig_hint")),
                );
            } else {
                token_fields_ui(ui, form);
            }
        });
    // Once added, the secrets leave the form.
    if let Some(request) = form.last_request
        && log.for_request(request).last().is_some_and(|a| matches!(a.outcome, Outcome::Done { .. }))
        && !(form.token.is_empty() && form.kubeconfig.is_empty())
    {
        form.token.clear();
        form.kubeconfig.clear();
    }
    if !open {
        *form = Default::default();
        return;
    }
    if submit {
        let request_id = outbox.request_id();
        let request = if form.paste_kubeconfig {
            AddCluster::Kubeconfig { yaml: form.kubeconfig.clone() }
        } else {
            AddCluster::Token {
                name: form.name.clone(),
                server: form.server.clone(),
                ca_pem: form.ca_pem.clone(),
                token: form.token.clone(),
                insecure: form.insecure,
            }
        };
        form.last_request = Some(request_id);
        outbox.push(Command::AddClusters { request_id, request });
    }
}
