// ESLint (flat config): a small rule set, and the house rules of the layout (README, "Layout") as import zones.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const ROLES = ['poller', 'verifier', 'maintenance', 'api'];
const role = (name) => `./services/${name}`;

/** Roles meet only through queues/: a role never imports another role. */
const roleZones = ROLES.map((name) => ({
  target: role(name),
  from: ROLES.filter((other) => other !== name).map(role),
  message: 'Roles meet only through queues/: a role never imports another role.',
}));

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'storage/', 'bench/results/', 'services/core/db/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits loses its error: mark a deliberate fire-and-forget with `void`.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    files: ['**/*.{ts,js,mjs}'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.mjs', '.json'] })] },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      // We match NUL bytes (PostgreSQL refuses them) and ANSI escapes on purpose; literal runs of spaces in test
      // patterns mirror the aligned output they check.
      'no-control-regex': 'off',
      'no-regex-spaces': 'off',
      'prefer-const': ['error', { destructuring: 'all' }],
      'import-x/no-cycle': 'off',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...roleZones,
            {
              target: './services/core',
              from: [...ROLES.map(role), './queues'],
              message:
                'services/core is infrastructure: it knows no role, and the contract (queues/) builds on it, never the reverse.',
            },
            {
              target: './queues',
              from: ROLES.map(role),
              message: 'queues/ is the contract between roles: it imports no role.',
            },
            {
              target: ['./services', './queues'],
              from: './sim',
              message: 'Production code never needs the simulator (only tests, scripts and the demo use sim/).',
            },
          ],
        },
      ],
    },
  },
  {
    // The browser modules of the dashboard and of the verification Web App (no build step).
    files: ['services/api/public/**/*.js', 'services/api/webapp/**/*.js'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'module' },
  },
);
