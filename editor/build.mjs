// Bundle the editor into server/static/editor/ (what the server ships): one script, one
// stylesheet, no source maps, nothing fetched at run time. Run by `make install`.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

const out = new URL("../server/static/editor/", import.meta.url);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL("./src/main.js", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "linked",
  outfile: new URL("editor.js", out).pathname,
  logLevel: "warning",
});
await copyFile(new URL("./src/editor.css", import.meta.url), new URL("editor.css", out));
