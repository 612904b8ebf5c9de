//! The apiserver process is stopped and restarted while a table is watched: the table must
//! recover with every change made around the outage, and no duplicate or lost rows. Uses its
//! own control plane, so the other tests are not disturbed.

use crate::common::{TestCluster, suite};

#[test]
fn table_recovers_after_apiserver_restart_without_duplicates_or_losses() {
    suite::table_recovers_after_the_server_restarts(&TestCluster::start(false));
}
