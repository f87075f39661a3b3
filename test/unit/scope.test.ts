import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadChangeRequestFile, validateWith } from '../../src/load/change';
import { changeRequestSchema, type ChangeRequest } from '../../src/core/change/request';
import { loadPolicyFile } from '../../src/load/policy';
import type { Policy } from '../../src/core/policy/schema';
import {
  checkScope,
  environmentOfNamespace,
  kubeContextOf,
  type ScopeRefusal,
} from '../../src/core/policy/scope';
import { checkStandardChange } from '../../src/core/policy/standard-changes';

const example = (file: string) => fileURLToPath(new URL(`../../examples/${file}`, import.meta.url));

const policy: Policy = await loadPolicyFile(example('policy.yaml'));
const normal = await loadChangeRequestFile(example('normal-rolling.yaml'));
const standard = await loadChangeRequestFile(example('standard-config.yaml'));

/** The request with a change applied to a copy, validated again as the loader would. */
function variant(base: ChangeRequest, edit: (r: ChangeRequest) => void): ChangeRequest {
  const copy = structuredClone(base);
  edit(copy);
  return validateWith(changeRequestSchema, copy, 'variant');
}

function fields(refusals: ScopeRefusal[]): string[] {
  return refusals.map((r) => r.field);
}

const configMap = (name: string, namespace?: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(namespace ? { namespace } : {}) },
  data: {},
});

describe('scope: environments own namespaces', () => {
  it('finds the environment of a namespace, and its kube context', () => {
    assert.equal(environmentOfNamespace(policy, 'production'), 'production');
    assert.equal(environmentOfNamespace(policy, 'staging'), 'staging');
    assert.equal(environmentOfNamespace(policy, 'kube-system'), undefined);
    const withContext = structuredClone(policy);
    withContext.spec.environments.production!.kubeContext = 'prod-eu';
    assert.equal(kubeContextOf(withContext, 'production'), 'prod-eu');
    assert.equal(kubeContextOf(withContext, 'staging'), undefined);
    assert.equal(kubeContextOf(withContext, 'constructor'), undefined);
  });

  it('lets every example change through', async () => {
    for (const file of [
      'normal-rolling.yaml',
      'standard-config.yaml',
      'canary.yaml',
      'blue-green.yaml',
      'emergency.yaml',
    ]) {
      assert.deepEqual(checkScope(await loadChangeRequestFile(example(file)), policy), [], file);
    }
  });

  it("refuses staging's rules for production's namespace, naming both", () => {
    const bypass = variant(normal, (r) => {
      r.spec.environment = 'staging';
      r.spec.backup = undefined;
    });
    const refusals = checkScope(bypass, policy);
    assert.deepEqual(fields(refusals), ['spec.namespace']);
    assert.match(
      refusals[0]!.reason,
      /the change's namespace production belongs to environment production, not to staging \(namespaces: staging\)/,
    );
  });

  it('refuses an environment the policy does not declare', () => {
    const refusals = checkScope(
      variant(normal, (r) => (r.spec.environment = 'prod')),
      policy,
    );
    assert.deepEqual(fields(refusals), ['spec.environment']);
    assert.match(
      refusals[0]!.reason,
      /environment prod is not in the policy \(spec.environments: production, staging\), so it owns no namespace, not even production/,
    );
    assert.deepEqual(fields(checkScope(normal, { spec: { ...policy.spec, environments: {} } })), [
      'spec.environment',
    ]);
  });

  it("refuses a manifest in another environment's namespace, or in none", () => {
    const refusals = checkScope(
      variant(standard, (r) => {
        r.spec.rollout.manifests = [
          configMap('auth-service-pool', 'production'),
          configMap('auth-service-flags', 'kube-system'),
          configMap('auth-service-limits'),
        ];
      }),
      policy,
    );
    assert.deepEqual(fields(refusals), [
      'spec.rollout.manifests[0].metadata.namespace',
      'spec.rollout.manifests[1].metadata.namespace',
    ]);
    assert.match(
      refusals[0]!.reason,
      /ConfigMap auth-service-pool's namespace production belongs to environment production, not to staging/,
    );
    assert.match(refusals[1]!.reason, /namespace kube-system belongs to no environment/);
  });

  it('refuses objects of services the change does not declare', () => {
    const refusals = checkScope(
      variant(standard, (r) => {
        r.spec.rollout.manifests = [
          configMap('payments-db'),
          configMap('auth-servicex'),
          configMap('auth-service'),
        ];
      }),
      policy,
    );
    assert.deepEqual(fields(refusals), [
      'spec.rollout.manifests[0].metadata.name',
      'spec.rollout.manifests[1].metadata.name',
    ]);
    assert.match(
      refusals[0]!.reason,
      /ConfigMap payments-db in staging\/staging is not an object of the declared services \(auth-service\)/,
    );
  });

  it('refuses cluster-scoped objects, which no environment owns', () => {
    const refusals = checkScope(
      variant(standard, (r) => {
        r.spec.rollout.manifests = [
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name: 'auth-service-admin' },
          },
        ];
      }),
      policy,
    );
    assert.deepEqual(fields(refusals), ['spec.rollout.manifests[0].kind']);
    assert.match(refusals[0]!.reason, /ClusterRoleBinding auth-service-admin is cluster-scoped/);
  });

  it("refuses a backup (and so a restore) of another environment's namespace", () => {
    const refusals = checkScope(
      variant(standard, (r) => {
        r.spec.backup = {
          velero: {
            includeNamespaces: ['staging', 'production'],
            snapshotVolumes: true,
            ttl: '1h',
          },
        };
      }),
      policy,
    );
    assert.deepEqual(fields(refusals), ['spec.backup.velero.includeNamespaces[1]']);
    assert.match(refusals[0]!.reason, /production belongs to environment production/);
  });
});

describe('standard changes come from policy', () => {
  it('lets the example standard change through, and ignores other types', () => {
    assert.deepEqual(checkStandardChange(standard, policy), []);
    assert.deepEqual(checkStandardChange(normal, policy), []);
  });

  it('refuses a standard change that names no template, or one the policy does not have', () => {
    const unnamed = checkStandardChange(
      variant(standard, (r) => delete r.spec.standard),
      policy,
    );
    assert.deepEqual(fields(unnamed), ['spec.standard']);
    assert.match(
      unnamed[0]!.reason,
      /must name its policy template in spec.standard \(config-tuning\)/,
    );
    const unknown = checkStandardChange(
      variant(standard, (r) => (r.spec.standard = 'anything-goes')),
      policy,
    );
    assert.match(
      unknown[0]!.reason,
      /'anything-goes' is not in the policy \(spec.standardChanges: config-tuning\)/,
    );
  });

  it('refuses what the template does not allow: environment, service, kind, image, risk', () => {
    const strict = structuredClone(policy);
    strict.spec.standardChanges['config-tuning'] = {
      environments: ['staging'],
      services: ['auth-service'],
      changes: { kinds: ['ConfigMap'] },
      maxRisk: 'low',
    };
    const outside = variant(standard, (r) => {
      r.spec.environment = 'production';
      r.spec.namespace = 'production';
      r.spec.services = ['auth-service', 'api-gateway'];
      r.spec.risk = 'medium';
      r.spec.rollout.manifests = [
        configMap('auth-service-pool'),
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'auth-service-key' } },
      ];
    });
    const refusals = checkStandardChange(outside, strict);
    assert.deepEqual(fields(refusals), [
      'spec.environment',
      'spec.services[1]',
      'spec.rollout.manifests[1].kind',
      'spec.risk',
    ]);
    assert.match(
      refusals[0]!.reason,
      /for environments staging, not production \(namespace production\)/,
    );
    assert.match(
      refusals[1]!.reason,
      /for services auth-service, not api-gateway in production\/production/,
    );
    assert.match(refusals[2]!.reason, /may change ConfigMap, not Secret auth-service-key/);
    assert.match(
      refusals[3]!.reason,
      /goes up to low risk; this change in production\/production is medium/,
    );

    const image = variant(standard, (r) => {
      delete r.spec.rollout.manifests;
      r.spec.rollout.image = 'registry.example.com/auth-service:1.2.3';
    });
    assert.deepEqual(fields(checkStandardChange(image, strict)), ['spec.rollout.image']);
    strict.spec.standardChanges['config-tuning'].changes = 'image';
    assert.deepEqual(checkStandardChange(image, strict), []);
    assert.deepEqual(fields(checkStandardChange(standard, strict)), ['spec.rollout.manifests']);
  });

  it("uses the policy's raised risk when given, not the declared one", () => {
    assert.deepEqual(fields(checkStandardChange(standard, policy, 'high')), ['spec.risk']);
  });

  it('refuses a template name on a change that is not standard', () => {
    assert.throws(
      () => variant(normal, (r) => (r.spec.standard = 'config-tuning')),
      /spec.standard: a standard-change template applies to standard changes only, not to 'normal'/,
    );
  });
});
