// `npm run build`: compiles the services, the queue contract, the generated Prisma client and the admin CLIs
// to JavaScript under dist/, file by file in the same layout, so that `node dist/services/main.js` runs with
// no TypeScript at run time (the container image does exactly that).
//
// esbuild, not tsc: our sources import without extensions (moduleResolution "bundler"), which tsc emits
// unchanged and Node's ESM loader cannot resolve. esbuild resolves every relative import at build time and
// writes it as the emitted `.js` file; it also builds in well under a second. Type checking stays with
// `npm run typecheck`. Packages stay imports of node_modules, as in development.
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist';
const SOURCES = ['services', 'queues'];
const CLIS = ['scripts/bots.ts', 'scripts/admin-create.ts', 'scripts/rotate-key.ts'];

function walk(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

const files = SOURCES.flatMap(walk);
const entryPoints = [
  ...files.filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts')),
  ...CLIS,
];
const assets = files.filter((f) => !f.endsWith('.ts'));

/** Keeps every relative import a separate module and points it at the emitted `.js` file (`./db` → `./db/index.js`). */
const relativeImportsToJs = {
  name: 'relative-imports-to-js',
  setup(b) {
    b.onResolve({ filter: /^\.\.?(\/|$)/ }, async (args) => {
      if (args.kind === 'entry-point' || args.pluginData === 'resolving') return undefined;
      const resolved = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: 'resolving',
      });
      if (resolved.errors.length) return { errors: resolved.errors };
      if (!/\.[cm]?ts$/.test(resolved.path)) return { path: args.path, external: true };
      let target = path.relative(args.resolveDir, resolved.path).replace(/\.([cm]?)ts$/, '.$1js');
      if (!target.startsWith('.')) target = `./${target}`;
      return { path: target, external: true };
    });
  },
};

rmSync(OUT, { recursive: true, force: true });
const started = Date.now();
await build({
  entryPoints,
  outdir: OUT,
  outbase: '.',
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  plugins: [relativeImportsToJs],
});
// Files served or read beside the code (the dashboard's static files).
for (const asset of assets) cpSync(asset, path.join(OUT, asset));
console.log(
  `[build] ${entryPoints.length} modules and ${assets.length} assets compiled to ${OUT}/ in ${Date.now() - started} ms`,
);
