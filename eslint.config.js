// Lint enforces the architecture (../shared/STYLE.md): the folders are the layers, shared/ is pure
// contracts, the three runtimes never import each other, and each I/O library sits behind one adapter.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const runtimes = ['agent', 'collector', 'firmware-sim'];
const zones = [
  {
    target: './shared',
    from: ['./agent', './collector', './firmware-sim', './cli'],
    message: 'shared/ holds contracts only and imports no runtime folder.',
  },
  ...runtimes.map((r) => ({
    target: `./${r}`,
    from: [...runtimes.filter((o) => o !== r).map((o) => `./${o}`), './cli', './test', './bench'],
    message: `${r}/ may import shared/ only; the runtimes never import each other.`,
  })),
];

// Third-party I/O libraries: imported only by the adapter files in <runtime>/adapters/.
// A regex, not glob groups: a group like 'mqtt' would also match our own shared/mqtt/ folder.
const ioLibraryRegex =
  '^(serialport|@serialport/.+|onnxruntime-node|mqtt|aedes|better-sqlite3|node:https?)(/.*)?$';
const pureRegex =
  '^(serialport|@serialport/.+|onnxruntime-node|mqtt|aedes|better-sqlite3|node:https?|node:fs|node:fs/.+|fs|node:net|node:child_process|node:worker_threads)(/.*)?$';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.tmp/**', 'bin/**', 'scripts/*.mjs', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Without these, import-x cannot parse the .ts files it follows and no-cycle silently finds nothing.
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-self-import': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Named exports only (STYLE.md): no export *.' },
      ],
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: ioLibraryRegex, message: 'Import I/O libraries only in an adapters/ file.' }] },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ regex: pureRegex, message: 'shared/ is pure code: no I/O.' }],
        },
      ],
    },
  },
  {
    files: ['*/adapters/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' },
          ],
        },
      ],
    },
  },
);
