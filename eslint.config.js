// Lint rules, run by `npm test` (`npm run lint`). The layer rules are what
// matter most: they make meshcall's one-way dependencies a build error, as
// bulletproof-react does with import/no-restricted-paths.
//
//   protocol/  the wire: imports nothing of ours but lib/
//   party/     the room server: protocol/ and lib/, no WebRTC, no machines
//   machines/  the machines: protocol/ and lib/, never React or src/
//   src/       the app: shared/ <- features/ <- app/, one way, and no
//              feature reaches into another
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'
import importX from 'eslint-plugin-import-x'
import reactHooks from 'eslint-plugin-react-hooks'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const FEATURES = ['call', 'chat', 'home', 'inspector', 'lobby', 'toasts']

/** Each feature may import only itself, shared code and the layers below the app. */
const featureZones = FEATURES.map((feature) => ({
  target: `./src/features/${feature}`,
  from: './src/features',
  except: [`./${feature}`],
  message: 'features do not import each other: move what they share to src/shared',
}))

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/artifacts/', '.partykit/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    plugins: { 'import-x': importX },
    settings: {
      // Parse dependencies as TypeScript too, or no-cycle cannot follow them.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['tsconfig.json', 'party/tsconfig.json'], noWarnOnMultipleProjects: true }),
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './machines', from: './src', message: 'machines/ knows nothing of the app' },
            { target: './machines', from: './party', message: 'machines/ talks to the room server through protocol/ only' },
            { target: './party', from: ['./machines', './src'], message: 'party/ knows nothing of WebRTC beyond the wire protocol' },
            { target: './protocol', from: ['./machines', './src', './party'], message: 'protocol/ is the wire only' },
            { target: './lib', from: ['./machines', './src', './party', './protocol'], message: 'lib/ depends on nothing of ours' },
            { target: './src/shared', from: ['./src/features', './src/app'], message: 'shared code depends on no feature' },
            { target: './src/features', from: './src/app', message: 'features do not import the app' },
            ...featureZones,
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['machines/**', 'party/**', 'protocol/**', 'lib/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['react', 'react-dom', 'react-dom/*', '@xstate/react'], message: 'only src/ uses React' }] },
      ],
    },
  },
  {
    files: ['party/**', 'protocol/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['react', 'react-dom', 'react-dom/*', '@xstate/react'], message: 'only src/ uses React' },
            { group: ['@roamhq/wrtc', 'xstate'], message: 'the room server and the wire know nothing of WebRTC or the machines' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.tsx', 'src/**/*.ts'],
    plugins: { 'react-hooks': reactHooks },
    // The two classic rules; the React Compiler's stricter ones (refs read in
    // render, setState in effects) would flag working patterns meshcall uses on purpose.
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  {
    files: ['machines/**', 'party/**', 'protocol/**', 'lib/**', 'src/**'],
    rules: { 'no-console': ['error', { allow: ['warn', 'error'] }] },
  },
  prettier,
)
