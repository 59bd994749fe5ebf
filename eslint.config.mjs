// Lint rules: typescript-eslint's recommended set, plus "no console in lib/ outside the CLI" (keys must never reach a log).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "coverage/**",
      ".tmp/**",
      "test/package/fixtures/**",
      // What next build writes in the Next.js example.
      "examples/nextjs/.next/**",
      "examples/nextjs/next-env.d.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  { files: ["lib/**/*.ts"], ignores: ["lib/cli/**"], rules: { "no-console": "error" } },
  {
    files: ["**/*.mjs", "**/*.cjs", "**/*.js"],
    languageOptions: {
      globals: {
        module: "writable",
        require: "readonly",
        __dirname: "readonly",
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        fetch: "readonly",
        Request: "readonly",
        document: "readonly",
        window: "readonly",
        TextDecoder: "readonly",
        FormData: "readonly",
        AbortController: "readonly",
      },
    },
  },
  {
    // The example's browser scripts: ES modules running in the page.
    files: ["example-server/public/**/*.js"],
    languageOptions: {
      sourceType: "module",
      globals: {
        document: "readonly",
        window: "readonly",
        fetch: "readonly",
        Option: "readonly",
        URLSearchParams: "readonly",
        AbortController: "readonly",
        TextDecoder: "readonly",
      },
    },
  },
);
