// Builds the vendored colab-cdn-widget-manager (vendor/, pinned commit in vendor/VENDORED.md)
// the way its own build.js does: src/index.css bundled into text, src/index.ts into one ESM
// file, here with this repository's esbuild. Output: build/colab-box/manager.js at the
// repository root. Run by scripts/colab_box_env.sh after `npm ci` in this folder.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
// esbuild is the repository's own (root package.json); the manager's deps are this folder's.
const esbuild = createRequire(join(root, "package.json"))("esbuild");
const src = join(here, "vendor", "colab-cdn-widget-manager", "src");
const out = join(root, "build", "colab-box");
mkdirSync(out, { recursive: true });

const css = await esbuild.build({
  entryPoints: [join(src, "index.css")],
  bundle: true,
  write: false,
  outfile: "index.css",
  loader: { ".svg": "dataurl", ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".eot": "dataurl", ".png": "dataurl", ".gif": "dataurl" },
  nodePaths: [join(here, "node_modules")],
  logLevel: "error",
});
const cssText = css.outputFiles.find((f) => f.path.endsWith(".css")).text;

await esbuild.build({
  entryPoints: [join(src, "index.ts")],
  bundle: true,
  format: "esm",
  outfile: join(out, "manager.js"),
  nodePaths: [join(here, "node_modules")],
  // src/index.ts imports '../lib/index.css.txt', which its build.js writes first
  plugins: [
    {
      name: "css-text",
      setup(build) {
        build.onResolve({ filter: /index\.css\.txt$/ }, (a) => ({ path: a.path, namespace: "css-text" }));
        build.onLoad({ filter: /.*/, namespace: "css-text" }, () => ({ contents: cssText, loader: "text" }));
      },
    },
  ],
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "error",
});
console.log(`built ${join(out, "manager.js")}`);
