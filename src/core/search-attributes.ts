import {
  defineSearchAttributeKey,
  SearchAttributeType,
} from '@temporalio/common/lib/search-attributes.js';

// The search attributes a change sets. Workflow-safe (workflows upsert them); registering them on
// a namespace is Node-side, in src/temporal/search-attributes.ts.
export const changeIdKey = defineSearchAttributeKey('ChangeId', SearchAttributeType.KEYWORD);
export const changeTypeKey = defineSearchAttributeKey('ChangeType', SearchAttributeType.KEYWORD);
export const changeStateKey = defineSearchAttributeKey('ChangeState', SearchAttributeType.KEYWORD);
export const environmentKey = defineSearchAttributeKey('Environment', SearchAttributeType.KEYWORD);
export const servicesKey = defineSearchAttributeKey('Services', SearchAttributeType.KEYWORD_LIST);
export const riskLevelKey = defineSearchAttributeKey('RiskLevel', SearchAttributeType.KEYWORD);
export const requestedByKey = defineSearchAttributeKey('RequestedBy', SearchAttributeType.KEYWORD);

/** Every search attribute changectl sets; registered on dev servers and by `changectl setup`. */
export const changeSearchAttributes = [
  changeIdKey,
  changeTypeKey,
  changeStateKey,
  environmentKey,
  servicesKey,
  riskLevelKey,
  requestedByKey,
] as const;
