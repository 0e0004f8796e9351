// Lint enforces the architecture (../shared/STYLE.md): the folders are the layers, shared/ is pure
// contracts, the three runtimes never import each other, and each I/O library sits behind one adapter.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const runtimes = ['agent', 'collector', 'firmware-sim'];
// A runtime's public entry points: the only files of it that cli/ may import.
const entryPoints = ['./index.ts', './cli.ts'];
const zones = [
  {
    target: './shared',
    from: ['./agent', './collector', './firmware-sim', './cli'],
    message: 'shared/ holds contracts only and imports no runtime folder.',
  },
  {
    // shared/platform/ is the fenced I/O layer the runtimes share (ONNX session, SQLite, config loader,
    // logger, clock); the contracts around it stay pure and never reach into it.
    // Globs, because `except` is relative to `from`, not to `target`: every file of shared/ outside
    // platform/ is the target, so platform files may still import each other (golden.ts uses onnx.ts).
    target: ['./shared/*.ts', './shared/!(platform)/**'],
    from: './shared/platform',
    message: 'Only runtimes may use shared/platform/; the rest of shared/ is pure contracts.',
  },
  ...runtimes.map((r) => ({
    target: `./${r}`,
    from: [...runtimes.filter((o) => o !== r).map((o) => `./${o}`), './cli', './test', './bench'],
    message: `${r}/ may import shared/ only; the runtimes never import each other.`,
  })),
  ...runtimes.map((r) => ({
    target: './cli',
    from: `./${r}`,
    except: entryPoints,
    message: `cli/ parses, wires and prints: import ${r}/ through its public entry points (index.ts, cli.ts) only.`,
  })),
];

// Third-party I/O libraries: imported only by the adapter files in <runtime>/adapters/ and shared/platform/.
// A regex, not glob groups: a group like 'mqtt' would also match our own shared/mqtt/ folder.
const ioLibraryRegex =
  '^(serialport|@serialport/.+|onnxruntime-node|mqtt|aedes|better-sqlite3|fastify|@fastify/.+|node:https?)(/.*)?$';
const pureRegex =
  '^(serialport|@serialport/.+|onnxruntime-node|mqtt|aedes|better-sqlite3|fastify|@fastify/.+|node:https?|node:fs|node:fs/.+|fs|node:net|node:child_process|node:worker_threads)(/.*)?$';

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
      // basePath: zones resolve against this file's folder, not process.cwd(), so linting from a
      // subfolder (or the lint-rules test's copy in a temp dir) applies the same zones.
      'import-x/no-restricted-paths': ['error', { zones, basePath: import.meta.dirname }],
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
    ignores: ['shared/platform/**'],
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
    files: ['*/adapters/*.ts', 'shared/platform/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
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
  {
    // The dashboard's browser modules: plain ES modules served as they are (no build step), so no type
    // information; they run in the page, with the browser's globals.
    files: ['collector/dashboard/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'document',
          'location',
          'addEventListener',
          'removeEventListener',
          'requestAnimationFrame',
          'fetch',
          'EventSource',
          'localStorage',
          'ResizeObserver',
          'console',
          'setInterval',
          'clearInterval',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
);
