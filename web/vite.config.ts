import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The web app builds into dist/web next to the compiled server, which serves it (src/http/web.ts).
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: 'public',
  // Preact through esbuild's automatic JSX runtime: no Babel plugin needed.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 700,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite web` during development: the API, chat and media come from a running `onair serve`.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/live': { target: 'http://127.0.0.1:8080', ws: true },
      '/connection': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
});
