// Prints the closing line CI reads, "N passed, N failed", from vitest's JSON report.
// A failed static check (types, lint, format) counts as one failure each, and a run that
// crashed before reporting counts as failed too.
import { readFileSync } from 'node:fs';

const [reportFile, staticFailures = '0', vitestStatus = '0'] = process.argv.slice(2);
let passed = 0;
let failed = Number(staticFailures);
try {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  passed = report.numPassedTests;
  failed +=
    report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? 1 : 0);
} catch {
  failed += 1;
}
if (failed === 0 && vitestStatus !== '0') failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
