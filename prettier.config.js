// Prettier formats every file it has a parser for (TypeScript, JavaScript, JSON, YAML); `make lint`
// checks it. printWidth is the project's line limit; the other settings are the ones that change
// the least of the code as it was written before Prettier came (measured over the whole tree).
/** @type {import('prettier').Config} */
export default {
  printWidth: 140,
  singleQuote: true,
  trailingComma: 'all',
  overrides: [
    // The manifests, the chart values and the examples write YAML as kubectl's docs do:
    // double quotes and flow maps without inner spaces ({app: web}).
    { files: '*.yaml', options: { singleQuote: false, bracketSpacing: false } },
  ],
};
