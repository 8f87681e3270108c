// Scaffolds packages/<name> with the workspace's conventions (tsup ESM + CJS + .d.ts, vitest).
// Usage: node scripts/new-package.mjs <name> "<description>" [--tf]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';

const [name, description, ...flags] = process.argv.slice(2);
if (!name || !description) {
  console.error('usage: node scripts/new-package.mjs <name> "<description>" [--tf] [--private]');
  process.exit(2);
}
const dir = `packages/${name}`;
if (existsSync(dir)) {
  console.error(`${dir} exists already`);
  process.exit(1);
}
const tf = flags.includes('--tf');
const pkg = {
  name: `@mtd/${name}`,
  version: '0.0.0',
  description,
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  ...(flags.includes('--private') ? { private: true } : {}),
  engines: { node: '>=20' },
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.ts',
  exports: {
    '.': {
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    },
  },
  files: ['dist'],
  scripts: {
    build: 'tsup src/index.ts --format esm,cjs --dts --clean --sourcemap',
    typecheck: 'tsc --noEmit',
    test: 'vitest run',
  },
  ...(tf ? { peerDependencies: { '@tensorflow/tfjs': '^4.22.0' } } : {}),
  devDependencies: {
    ...(tf ? { '@tensorflow/tfjs': '4.22.0' } : {}),
    'fast-check': '^4.3.0',
    tsup: '^8.5.0',
    typescript: '^5.8.0',
    vitest: '^3.2.0',
  },
};
mkdirSync(`${dir}/src`, { recursive: true });
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + '\n');
writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src'] }, null, 2) + '\n');
writeFileSync(
  `${dir}/vitest.config.ts`,
  "import { defineConfig } from 'vitest/config';\nimport { sharedTest } from '../../vitest.shared';\n\nexport default defineConfig({ test: sharedTest });\n",
);
writeFileSync(`${dir}/src/index.ts`, 'export {};\n');
console.log(`created ${dir}`);
