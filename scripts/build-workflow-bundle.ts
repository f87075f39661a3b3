// Writes the prebuilt workflow bundle the worker loads in production (CHANGECTL_WORKFLOW_BUNDLE),
// so that a production worker starts without webpack and runs exactly the code that was built.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { projectRoot } from '../src/stack/tools';
import { workflowsPath } from '../worker/worker';

const outputPath = resolve(projectRoot, process.argv[2] ?? 'dist/workflow-bundle.js');

const started = Date.now();
const { code } = await bundleWorkflowCode({ workflowsPath });
await mkdir(dirname(outputPath), { recursive: true });
await writeFile(outputPath, code);
console.log(
  `wrote ${relative(process.cwd(), outputPath) || outputPath} (${Math.round(code.length / 1024)} KiB) in ${Date.now() - started} ms`,
);
