// SPDX-License-Identifier: GPL-2.0
/* The capture program with the aggregates map it had before it became one value for all CPUs: a
 * per-CPU hash added to without atomics. Only bench/ab-cost.ts loads it, to measure what
 * the atomic adds cost per packet against this baseline in the same run; the agent never does. */
#define OWLK8S_PERCPU_AGGREGATES 1
#include "owlk8s.bpf.c"
