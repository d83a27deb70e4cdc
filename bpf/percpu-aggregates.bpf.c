// SPDX-License-Identifier: GPL-2.0
/* The capture program with its series' counts per CPU, added to without atomics (agg_values a
 * per-CPU array: before agg_values, the aggregates hash was per-CPU). Only bench/ab-cost.ts loads
 * it, to measure what the atomic adds cost per packet against this baseline in the same run; its
 * aggregates are not readable through Capture (whose reads expect one value for all CPUs), and the
 * agent never loads it. */
#define OWLK8S_PERCPU_AGGREGATES 1
#include "owlk8s.bpf.c"
