/**
 * `npm run bundle`: the program as one ES module, `dist-bundle/main.js`, for the image (the Dockerfile copies
 * it to /app/dist/main.js): no node_modules in the final stage, so the image carries only the code the
 * program runs, and Node starts it without resolving thousands of files.
 *
 * esbuild (a devDependency; its binary comes from the npm registry as the optional dependency
 * @esbuild/<platform>, no install script needed). CommonJS dependencies (undici, pino…) call `require`, which
 * an ES module lacks: the banner gives them one.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';

const root = join(import.meta.dirname, '..');
export const BUNDLE = join(root, 'dist-bundle', 'main.js');
const clientNode = join(root, 'node_modules/@kubernetes/client-node/dist');

/**
 * @kubernetes/client-node's index, and its config.js, import the generated API clients and models (~600 KB
 * of classes, ~70 MiB of heap once evaluated) that this program never uses: it needs only KubeConfig and
 * the HTTP library (src/kube/client.ts). Both imports are pointed at the few modules that define those.
 */
const clientNodeSlim: Plugin = {
  name: 'client-node-slim',
  setup(b) {
    b.onResolve({ filter: /^@kubernetes\/client-node$/ }, () => ({
      path: 'index',
      namespace: 'client-node-slim',
    }));
    b.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (args) =>
      args.importer === join(clientNode, 'config.js')
        ? { path: 'gen', namespace: 'client-node-slim' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'client-node-slim' }, (args) => ({
      resolveDir: clientNode,
      loader: 'js',
      contents:
        args.path === 'index'
          ? [
              "export { KubeConfig } from './config.js';",
              "export { IsomorphicFetchHttpLibrary } from './gen/http/isomorphic-fetch.js';",
              "export { RequestContext } from './gen/http/http.js';",
            ].join('\n')
          : [
              "export { createConfiguration } from './gen/configuration.js';",
              "export { ServerConfiguration } from './gen/servers.js';",
            ].join('\n'),
    }));
  },
};

export async function bundle(outfile = BUNDLE): Promise<string> {
  mkdirSync(join(outfile, '..'), { recursive: true });
  await build({
    entryPoints: [join(root, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [clientNodeSlim],
    banner: {
      js: "import { createRequire as __sdCreateRequire } from 'node:module'; const require = __sdCreateRequire(import.meta.url);",
    },
  });
  return outfile;
}

if (import.meta.main) process.stdout.write(`${await bundle()}\n`);
