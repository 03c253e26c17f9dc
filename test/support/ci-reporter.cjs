'use strict';
// The spec reporter, plus the one totals line CI reads ("N passed, M failed, K skipped"),
// printed last and also written to .test-results/totals.txt so .ci/run can repeat it at the very end.
const Mocha = require('mocha');
const fs = require('node:fs');
const path = require('node:path');

class CiReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const s = this.stats;
      const line = `${s.passes} passed, ${s.failures} failed, ${s.pending} skipped`;
      process.stdout.write(`\n${line}\n`);
      const dir = path.resolve(__dirname, '../../.test-results');
      fs.mkdirSync(dir, { recursive: true });
      fs.appendFileSync(path.join(dir, "totals.txt"), `${s.passes} ${s.failures} ${s.pending}\n`);
    });
  }
}
module.exports = CiReporter;
