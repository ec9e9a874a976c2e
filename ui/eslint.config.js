import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Node test files (e2e, browser) and the mock script they inject into the page.
    files: ["e2e/**/*.mjs", "e2e-installed/**/*.mjs", "browser/**/*.mjs", "browser/**/*.js"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        setTimeout: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        TextEncoder: "readonly",
        window: "readonly",
        document: "readonly",
        performance: "readonly",
        getComputedStyle: "readonly",
      },
    },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: "error",
    },
  },
);
