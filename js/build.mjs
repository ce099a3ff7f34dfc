// Bundle the front-end: segwidget/static/{widget.js, page.js, widget.css}.
//   node js/build.mjs [--outdir DIR]
// widget.js is the anywidget ESM entry, page.js the standalone page's module, widget.css
// the stylesheet both use. Minified, target es2020, no source maps, so the committed files are
// reproducible byte for byte (tests/test_js.py rebuilds and compares).

import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const at = process.argv.indexOf("--outdir");
const outdir = at > 0 ? path.resolve(process.argv[at + 1]) : path.join(root, "segwidget", "static");

const common = {
  bundle: true,
  minify: true,
  target: "es2020",
  legalComments: "none",
  logLevel: "warning",
  absWorkingDir: root,
};

await Promise.all([
  build({ ...common, entryPoints: ["js/src/widget.js"], outfile: path.join(outdir, "widget.js"), format: "esm" }),
  build({ ...common, entryPoints: ["js/src/page.js"], outfile: path.join(outdir, "page.js"), format: "esm" }),
  build({ ...common, entryPoints: ["js/src/styles.css"], outfile: path.join(outdir, "widget.css") }),
]);
console.log(`built widget.js, page.js, widget.css in ${path.relative(process.cwd(), outdir) || "."}`);
