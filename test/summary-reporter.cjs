// Prints the plain closing line CI reads: "N passed, N failed[, N skipped]", and writes it
// to $ANNOTARY_SUMMARY_FILE so hack/test.sh can repeat it as the very last line.
const { writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    process.stdout.write(`\n${line}\n`);
    if (process.env.ANNOTARY_SUMMARY_FILE) writeFileSync(process.env.ANNOTARY_SUMMARY_FILE, `${line}\n`);
  }
}
module.exports = SummaryReporter;
