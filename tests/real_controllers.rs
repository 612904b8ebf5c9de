//! Client-facing behaviour that needs the controller-manager (garbage collection), against its
//! own real v1.20.2 control plane.

use crate::common::{TestCluster, suite};

#[test]
fn patches_apply_and_deletion_behave_like_the_apiserver() {
    suite::patches_apply_and_deletion_behave_like_the_apiserver(&TestCluster::start(true));
}
