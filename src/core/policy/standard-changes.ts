/** Standard changes are policy templates: a request names one and must fit it. */
import type { ChangeRequest, RiskLevel } from '../change/request';
import { riskRank } from './risk';
import type { Policy } from './schema';
import { matchesPattern, type ScopeRefusal } from './scope';

/**
 * What keeps a `type: standard` request from being the standard change it names: no template,
 * an environment, service, kind of change or risk the template does not allow. `risk` is the
 * change's risk after the policy's rules (the declared risk when not given). Empty when it fits,
 * and for other types of change.
 */
export function checkStandardChange(
  request: ChangeRequest,
  policy: Pick<Policy, 'spec'>,
  risk: RiskLevel = request.spec.risk,
): ScopeRefusal[] {
  const { spec } = request;
  if (spec.type !== 'standard') return [];
  const templates = policy.spec.standardChanges;
  const names = Object.keys(templates).join(', ') || 'none in the policy';
  if (spec.standard === undefined) {
    return [
      {
        field: 'spec.standard',
        reason: `a standard change must name its policy template in spec.standard (${names})`,
      },
    ];
  }
  const template = Object.hasOwn(templates, spec.standard) ? templates[spec.standard] : undefined;
  if (!template) {
    return [
      {
        field: 'spec.standard',
        reason: `standard change '${spec.standard}' is not in the policy (spec.standardChanges: ${names})`,
      },
    ];
  }
  const where = `${spec.environment}/${spec.namespace}`;
  const refusals: ScopeRefusal[] = [];
  if (!template.environments.some((p) => matchesPattern(p, spec.environment))) {
    refusals.push({
      field: 'spec.environment',
      reason: `standard change '${spec.standard}' is for environments ${template.environments.join(', ')}, not ${spec.environment} (namespace ${spec.namespace})`,
    });
  }
  spec.services.forEach((service, i) => {
    if (!template.services.some((p) => matchesPattern(p, service))) {
      refusals.push({
        field: `spec.services[${i}]`,
        reason: `standard change '${spec.standard}' is for services ${template.services.join(', ')}, not ${service} in ${where}`,
      });
    }
  });
  const { rollout } = spec;
  if (template.changes === 'image') {
    if (rollout.manifests !== undefined) {
      refusals.push({
        field: 'spec.rollout.manifests',
        reason: `standard change '${spec.standard}' changes the image only, not manifests, in ${where}`,
      });
    }
  } else {
    const kinds = template.changes.kinds;
    if (rollout.image !== undefined) {
      refusals.push({
        field: 'spec.rollout.image',
        reason: `standard change '${spec.standard}' changes manifests of kinds ${kinds.join(', ')}, not the image, in ${where}`,
      });
    }
    (rollout.manifests ?? []).forEach((manifest, i) => {
      if (!kinds.includes(manifest.kind)) {
        refusals.push({
          field: `spec.rollout.manifests[${i}].kind`,
          reason: `standard change '${spec.standard}' may change ${kinds.join(', ')}, not ${manifest.kind} ${manifest.metadata.name} in ${where}`,
        });
      }
    });
  }
  if (riskRank(risk) > riskRank(template.maxRisk)) {
    refusals.push({
      field: 'spec.risk',
      reason: `standard change '${spec.standard}' goes up to ${template.maxRisk} risk; this change in ${where} is ${risk}`,
    });
  }
  return refusals;
}
