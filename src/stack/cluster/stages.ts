/**
 * KWOK's stages: how fake nodes and pods move through their lifecycles. Taken from KWOK's own
 * `fast` stages (node initialise and lease heartbeat, pod ready, complete and delete), with a
 * delay before a pod turns Ready so that a rollout progresses over time as on a cluster. A pod
 * annotated `pod-ready.stage.kwok.x-k8s.io/delay` (a duration) waits that long instead. A pod
 * with an image tagged `...-broken` never turns Ready: it shows CrashLoopBackOff, so a rollout to
 * it stalls until its progress deadline.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

const stageFiles = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'pod/fast/pod-ready.yaml',
  'pod/fast/pod-complete.yaml',
  'pod/fast/pod-delete.yaml',
];

interface Stage {
  kind?: string;
  metadata?: { name?: string };
  spec?: {
    delay?: Record<string, unknown>;
    selector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  };
}

const brokenImage = '.spec.containers | map(.image | endswith("-broken")) | any';

const podCrashLoopStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-crash-loop
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '${brokenImage}'
      operator: 'In'
      values: ['true']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        reason: ContainersNotReady
        status: "False"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        reason: ContainersNotReady
        status: "False"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 3
        state:
          waiting:
            message: back-off restarting failed container
            reason: CrashLoopBackOff
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`;

/** The text of KWOK's `-c` config: every stage, pod-ready delayed by podReadyDelayMs. */
export async function kwokStagesConfig(
  stagesDir: string,
  podReadyDelayMs: number,
): Promise<string> {
  const docs: string[] = [];
  for (const file of stageFiles) {
    const text = await readFile(join(stagesDir, file), 'utf8');
    for (const doc of parseAllDocuments(text)) {
      const stage = doc.toJS() as Stage | null;
      if (!stage || stage.kind !== 'Stage') continue;
      if (stage.metadata?.name === 'pod-ready' && stage.spec) {
        stage.spec.delay = {
          durationMilliseconds: podReadyDelayMs,
          durationFrom: {
            expressionFrom: '.metadata.annotations["pod-ready.stage.kwok.x-k8s.io/delay"]',
          },
        };
        stage.spec.selector?.matchExpressions?.push({
          key: brokenImage,
          operator: 'NotIn',
          values: ['true'],
        });
      }
      docs.push(stringify(stage));
    }
  }
  docs.push(podCrashLoopStage);
  return docs.join('---\n');
}
