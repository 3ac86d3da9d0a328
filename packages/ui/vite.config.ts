// Static files for `valence start` to serve: dist/index.html and hashed assets.
// No React plugin: esbuild compiles the TSX (automatic runtime); fast refresh is not worth a dependency.
import { defineConfig } from "vite";

export default defineConfig({
  root: new URL(".", import.meta.url).pathname,
  base: "/",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      // @xyflow/react marks itself "use client" for React Server Components; meaningless in a static app.
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE" || warning.code === "SOURCEMAP_ERROR") return;
        warn(warning);
      },
    },
  },
  server: {
    // `npm run dev -w @valence/ui` against a `valence start` on the default port.
    proxy: { "/api": "http://127.0.0.1:48008" },
  },
});
