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
    // A guard against hangs, not a speed check: ELK layouts are slow on a loaded machine.
    testTimeout: 60_000,
    coverage: {
      provider: "v8",
      include: [
        "src/tree/**/*.ts",
        "src/charts/**/*.ts",
        "src/versions/**/*.ts",
        "src/tools/**/*.ts",
        "src/runs/**/*.ts",
        "src/chat/**/*.ts",
        "src/operate/**/*.ts",
      ],
      // React hooks (fetching, streaming) are exercised in Chromium by tests/studio.
      exclude: ["src/runs/use*.ts", "src/chat/use*.ts"],
      reporter: ["text-summary", "text"],
      // Measured 2026-12-02: 99.8% lines, 95.1% branches of the pure modules (the views are covered by tests/studio in Chromium).
      thresholds: { lines: 99, branches: 94, functions: 100, statements: 99 },
    },
  },
});
