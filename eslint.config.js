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
    files: ['operators/**', 'pipelines/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'No wall clock inside the pipeline: time comes from events or the ClockPort.',
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'No timers inside the pipeline.' },
        { name: 'setInterval', message: 'No timers inside the pipeline.' },
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
  {
    // the one real-timers module every room shares (the pipeline itself never imports it)
    files: ['pipelines/timers.ts'],
    rules: { 'no-restricted-globals': 'off' },
  },
);
