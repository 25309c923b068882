// Type-aware linting: floating promises and unsafe any are errors, so async mistakes surface in CI.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

// services never import each other, and libs are used through their entry points only
const LAYOUT_PATTERNS = [
  {
    group: ['@model-persistence/*/*', '!@model-persistence/telemetry/register'],
    message: 'Import a lib through its entry point (or @model-persistence/telemetry/register).',
  },
  {
    group: ['**/services/*', '../../services/**', '../../../services/**'],
    message: 'Services never import each other.',
  },
  {
    group: ['**/libs/*/src/**', '../../libs/**'],
    message: 'Import libs as @model-persistence/<lib>.',
  },
];

module.exports = tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', '.cache/**', 'coverage/**', 'libs/contracts/schemas/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: __dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // the admin console (browser code, Preact): its own tsconfig (DOM, JSX)
    files: ['services/api/console/src/**/*.ts', 'services/api/console/src/**/*.tsx'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './services/api/console/tsconfig.json', tsconfigRootDir: __dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
      },
    },
  },
  {
    // services never import each other, and libs are used through their entry points only
    files: ['**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: LAYOUT_PATTERNS,
        },
      ],
    },
  },
  {
    // production code never reaches into test code: test kits, fixtures and int-specs live in <package>/test, so
    // the production import graph has no loop, even at folder level (libs/testing imports libs/database, …)
    files: ['libs/*/src/**/*.ts', 'services/*/src/**/*.ts'],
    ignores: ['libs/testing/**', '**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...LAYOUT_PATTERNS,
            {
              group: ['@model-persistence/testing', '**/test/**'],
              message: 'Production code never imports test code.',
            },
          ],
        },
      ],
    },
  },
);
