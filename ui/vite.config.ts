import { defineConfig } from "vitest/config";

// Tauri expects a fixed dev port and serves the built `dist/` in production builds.
export default defineConfig({
  clearScreen: false,
  server: { port: 1420, strictPort: true, watch: { ignored: ["**/src-tauri/**"] } },
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, sourcemap: false },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
