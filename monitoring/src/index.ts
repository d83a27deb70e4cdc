export { buildDashboard, DASHBOARD_UID, VARIABLES } from './dashboard.ts';
export type { GeneratedFile } from './generate.ts';
export { GENERATED, renderDashboard, renderPrometheusRule, renderRules } from './generate.ts';
export type { Matchers } from './promql.ts';
export {
  counterName,
  H2_LOSS_COUNTERS,
  KERNEL_LOSS_COUNTERS,
  LABEL,
  LOSS_COUNTERS,
  METRIC,
  selector,
} from './promql.ts';
export type { AlertingRule, RecordingRule, RuleGroup, RuleOptions } from './rules.ts';
export {
  DEFAULT_RULE_OPTIONS,
  inlineRecords,
  LOSS_WINDOW,
  QUANTILES,
  RATE_WINDOW,
  ruleGroups,
} from './rules.ts';
