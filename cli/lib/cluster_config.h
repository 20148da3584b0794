// SPDX-License-Identifier: GPL-2.0-only
// From a scenario to the model's cluster configuration.
#pragma once

#include "ntblab/model/cluster.h"
#include "scenario.h"

namespace ntblab::cli {

/// The model configuration a scenario describes. Errors the model finds (e.g. a
/// link it cannot build) come back as ScenarioError naming the scenario's line.
model::ClusterConfig cluster_config(const Scenario& s);

}  // namespace ntblab::cli
