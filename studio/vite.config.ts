/// <reference types="vitest/config" />
// Vite builds the Studio into dist/ under the base /studio/ (the API serves it there).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/studio/",
  plugins: [react()],
  build: {
    outDir: "../api/static/studio",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 2000,
  },
  server: {
    // `npm run dev` proxies the API of `./dev up` so the dev server needs no CORS.
    proxy: { "/v1": "http://127.0.0.1:8000" },
  },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
    coverage: {
      provider: "v8",
      include: ["src/tree/**/*.ts"],
      reporter: ["text-summary", "text"],
      thresholds: { lines: 85, branches: 75, functions: 85, statements: 85 },
    },
  },
});
