// SPDX-License-Identifier: GPL-2.0-only
// From a scenario to the model's cluster configuration.
#pragma once

#include "ntblab/model/cluster.h"
#include "ntblab/scenario/scenario.h"

namespace ntblab::scenario {

/// The model configuration a scenario describes. Errors the model finds (e.g. a
/// link it cannot build) come back as ScenarioError naming the scenario's line.
model::ClusterConfig cluster_config(const Scenario& s);
/// The same before the model's checks (ClusterConfig::validate): what the
/// scenario says, e.g. for naming the cluster's parts (node_links.h).
model::ClusterConfig unchecked_cluster_config(const Scenario& s);

}  // namespace ntblab::scenario
