import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// What workflow code and the pure core may import: the pure core itself (src/core), workflow
// files (from workflows/ only), and packages that are deterministic and free of Node built-ins.
// Anything else could carry I/O, clocks or Node modules into the workflow bundle.
const pureCore = 'src/core';
const workflowSafePackages = [
  '@temporalio/workflow',
  '@temporalio/common',
  'zod',
  'luxon',
  '@noble/',
];

const boundaries = {
  rules: {
    'pure-imports': {
      meta: {
        type: 'problem',
        messages: {
          outside:
            "'{{source}}' is outside the pure core: workflows/ and src/core/ import only src/core/ (and workflows/ from workflows/).",
          pkg: "'{{source}}' is not a workflow-safe package (allowed: {{allowed}}).",
        },
      },
      create(context) {
        const root = import.meta.dirname;
        const file = relative(root, context.filename);
        const inWorkflows = file.startsWith('workflows/');
        function check(node, source, typeOnly) {
          if (typeOnly || typeof source !== 'string') return;
          if (source.startsWith('.')) {
            const target = relative(root, resolve(dirname(context.filename), source));
            const ok =
              target === pureCore ||
              target.startsWith(`${pureCore}/`) ||
              (inWorkflows && target.startsWith('workflows'));
            if (!ok) context.report({ node, messageId: 'outside', data: { source } });
            return;
          }
          if (
            !workflowSafePackages.some(
              (p) => source === p || source.startsWith(p.endsWith('/') ? p : `${p}/`),
            )
          )
            context.report({
              node,
              messageId: 'pkg',
              data: { source, allowed: workflowSafePackages.join(', ') },
            });
        }
        return {
          ImportDeclaration(node) {
            check(node, node.source.value, node.importKind === 'type');
          },
          ExportNamedDeclaration(node) {
            if (node.source) check(node, node.source.value, node.exportKind === 'type');
          },
          ExportAllDeclaration(node) {
            check(node, node.source.value, node.exportKind === 'type');
          },
          ImportExpression(node) {
            if (node.source.type === 'Literal') check(node, node.source.value, false);
          },
        };
      },
    },
  },
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.tools/**',
      '.changectl/**',
      'test-artifacts/**',
      '.scratch/**',
      'dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test collects describe/it itself; awaiting them is not how the runner is used.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts', 'src/core/**/*.ts'],
    plugins: { boundaries },
    rules: {
      'boundaries/pure-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code runs in the deterministic sandbox: no Node built-ins.',
          })),
          patterns: [
            {
              group: ['../activities', '../activities/*'],
              message: 'Workflows call activities through proxies: import their types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
