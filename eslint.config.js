import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'dashboard/public/vendor/**', 'coverage/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read settings through pipelines/load-settings.ts only.',
        },
      ],
    },
  },
  {
    files: ['pipelines/load-settings.ts', 'test/**', 'bench/**', 'bin/**', 'live/secrets/**', 'deploy/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // the dependency-cruiser layer rules (CommonJS, as depcruise loads them)
    files: ['*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } },
  },
  {
    // no wall clock and no timers in the pipeline (kernel and stages): time comes from events, and the
    // code around the pipeline gets the real clock and timers from runtime/timers.ts, which the layer
    // rules keep out of here too. strategies/kit/testing.ts is the researchers' harness, not a stage.
    files: ['operators/**', 'pipelines/**', 'strategies/**'],
    ignores: ['strategies/kit/testing.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        ...['Date', 'performance'].map((object) => ({
          object,
          property: 'now',
          message: 'No wall clock inside the pipeline: time comes from events or the ClockPort.',
        })),
        ...['setTimeout', 'setInterval', 'setImmediate'].map((property) => ({
          object: 'globalThis',
          property,
          message: 'No timers inside the pipeline.',
        })),
      ],
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate'].map((name) => ({
          name,
          message: 'No timers inside the pipeline.',
        })),
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: ['timers', 'timers/promises', 'node:timers', 'node:timers/promises'].map((name) => ({
            name,
            message: 'No timers inside the pipeline.',
          })),
          patterns: [
            { group: ['**/runtime/*'], message: 'The pipeline has no wall clock: inject a ClockPort/Timers.' },
          ],
        },
      ],
    },
  },
  {
    // a function a reader can hold in mind (issue 13); tests are exempt, and so is the benchmark's
    // second implementation, a deliberately fused hand-written loop (bench/core/loop-strategy.ts)
    files: ['**/*.ts', '**/*.js'],
    ignores: ['test/**', 'bench/core/loop-strategy.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }] },
  },
);
