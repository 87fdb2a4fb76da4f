// Prints the closing line CI reads, "N passed, N failed", from vitest's JSON reports (one
// per lane). A failed static check (types, lint, format) counts as one failure each, and a
// lane that crashed before reporting, or exited non-zero with no failed test, counts as one.
import { readFileSync } from 'node:fs';

/** Arguments: the static failures, then `<report.json> <exit status>` for each lane. */
const [staticFailures = '0', ...lanes] = process.argv.slice(2);
let passed = 0;
let failed = Number(staticFailures);
for (let index = 0; index < lanes.length; index += 2) {
  const [reportFile, status] = [lanes[index], lanes[index + 1] ?? '1'];
  let laneFailed = 0;
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    passed += report.numPassedTests;
    laneFailed =
      report.numFailedTests +
      (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? 1 : 0);
  } catch {
    laneFailed = 1;
  }
  if (laneFailed === 0 && status !== '0') laneFailed = 1;
  failed += laneFailed;
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
