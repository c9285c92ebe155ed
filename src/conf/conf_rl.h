/* SPDX-License-Identifier: MIT */
/*
 * Rate limits as a module (core/module.h; doc/edge.md section 6): its
 * descriptor, which the module table (conf_mods.c) names. A route's
 * limits are read through edge/ratelimit_conf.h, the fleet's store
 * through the generation's fleet_store (core/conf_types.h).
 */
#ifndef SL_CONF_RL_H
#define SL_CONF_RL_H

#include "module.h"

extern struct sl_module sl_module_rl;

#endif
