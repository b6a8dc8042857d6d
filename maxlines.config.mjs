import tseslint from 'typescript-eslint';
export default [
  { files: ['**/*.ts', '**/*.js', '**/*.mjs'], languageOptions: { parser: tseslint.parser },
    rules: { 'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }] } },
  { ignores: ['node_modules/**', 'test/**', '**/*.test.ts'] },
];
