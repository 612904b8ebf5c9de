//! The client-facing suite (tests/common/suite.rs) against the real kube-apiserver v1.20.2.

mod common;

use common::{TestCluster, suite};

#[test]
fn contexts_load_from_merged_files_and_connect() {
    suite::contexts_load_from_merged_files_and_connect(TestCluster::shared());
}

#[test]
fn discovery_lists_built_in_kinds_and_a_crd() {
    suite::discovery_lists_built_in_kinds_and_a_crd(TestCluster::shared());
}

#[test]
fn table_shows_adds_changes_and_deletes_live() {
    suite::table_shows_adds_changes_and_deletes_live(TestCluster::shared());
}

#[test]
fn crd_printer_columns_become_table_columns() {
    suite::crd_printer_columns_become_table_columns(TestCluster::shared());
}

#[test]
fn broken_kubeconfigs_give_one_clear_error_each_while_a_good_one_works() {
    suite::broken_kubeconfigs_give_one_clear_error_each_while_a_good_one_works(TestCluster::shared());
}

#[test]
fn access_reviews_and_requests_follow_rbac() {
    suite::access_reviews_and_requests_follow_rbac(TestCluster::shared());
}

#[test]
fn actions_change_objects_and_report_each_result() {
    suite::actions_change_objects_and_report_each_result(TestCluster::shared());
}

#[test]
fn yaml_edits_apply_refuse_conflicts_and_create_many() {
    suite::yaml_edits_apply_refuse_conflicts_and_create_many(TestCluster::shared());
}

#[test]
fn pod_streams_logs_exec_and_port_forward() {
    // The apiserver proxies logs, exec and port-forward to the node's kubelet: a fake one here.
    let kubelet = klieg::sim::kubelet::FakeKubelet::start().expect("fake kubelet");
    suite::pod_streams_logs_exec_and_port_forward(TestCluster::shared(), Some(kubelet.port));
}

#[test]
fn kubeconfig_edits_are_picked_up_live() {
    suite::kubeconfig_edits_are_picked_up_live(TestCluster::shared());
}
