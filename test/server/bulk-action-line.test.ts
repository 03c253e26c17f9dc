import assert from 'node:assert/strict';
import { parseActionLine, parseBulkBody, plainActionLine } from '../../server/routes/bulk.js';
import { Rng } from '../fuzz/bodies.js';

/**
 * `_bulk` action lines: the comparison that reads the usual `{"index":{"_index":..,"_id":..}}` must
 * give what JSON.parse and writing the metadata back give, and leave every other line to them.
 */

describe('_bulk action lines', () => {
  it('reads the usual index and create lines as the JSON way does, and forwards them as sent', () => {
    for (const line of [
      '{"index":{"_index":"cloudtrail-2026.11","_id":"3038ebd2-c98a-4c65-9b6e-e22506292313"}}',
      '{"create":{"_index":"ct","_id":"a"}}',
      '{"index":{"_index":"","_id":""}}',
      '{"index":{"_index":"São Paulo ü","_id":"id with spaces/and:colons"}}',
    ]) {
      const plain = plainActionLine(line);
      assert.ok(plain, line);
      assert.deepEqual(plain, parseActionLine(line, 0), line);
      assert.equal(plain.actionLine, line);
    }
  });

  it('leaves every other spelling to JSON.parse', () => {
    for (const line of [
      '{"index":{"_id":"a","_index":"ct"}}', // another member order
      '{"index": {"_index":"ct","_id":"a"}}', // whitespace
      '{"index":{"_index":"ct","_id":"a","pipeline":"p"}}', // more metadata
      '{"index":{"_index":"ct"}}', // no id
      '{"index":{"_index":"c\\"t","_id":"a"}}', // an escape
      '{"index":{"_index":"ct","_id":"\\u0041"}}',
      '{"index":{"_index":"ct","_id":"a"}} ', // not trimmed
      '{"update":{"_index":"ct","_id":"a"}}',
      '{"index":{"_index":"ct","_id":"a"}}}',
      '{"index":{"_index":"ct","_id":"a"',
    ]) {
      assert.equal(plainActionLine(line), undefined, line);
    }
  });

  it('agrees with the JSON way on generated lines, or declines them', () => {
    const rng = new Rng(20261126, 4);
    // Pieces of action lines, well-formed and not: the comparison must never accept a line the JSON
    // way reads otherwise, or refuses.
    const parts = ['{"index":{"_index":"', '{"create":{"_index":"', '","_id":"', '"}}', '"', '\\', '\\"', 'ct', 'a-1', 'é', '\u0001', '\ud83d', '\ud83d\ude00', ' ', '}', ',"x":1', ''];
    let accepted = 0;
    for (let c = 0; c < 20_000; c++) {
      let line: string;
      if (c % 2 === 0) {
        // Mostly the usual shape, with a random index and id.
        const word = (): string => Array.from({ length: rng.int(0, 4) }, () => parts[rng.int(4, parts.length - 1)]).join('');
        line = `${parts[rng.int(0, 1)]}${word()}","_id":"${word()}"}}`;
      } else {
        line = Array.from({ length: rng.int(1, 7) }, () => parts[rng.int(0, parts.length - 1)]).join('');
      }
      const plain = plainActionLine(line);
      if (plain === undefined) continue;
      accepted++;
      assert.deepEqual(plain, parseActionLine(line, 0), JSON.stringify(line));
    }
    assert.ok(accepted > 1000, `the usual shape is accepted often enough to be compared (${accepted})`);
  });

  it('source lines: a missing or blank one is a 400; an update keeps its line as sent; a record keeps its trimmed text', () => {
    for (const lines of [['{"index":{"_index":"ct"}}'], ['{"index":{"_index":"ct"}}', '  \t'], ['{"create":{}}', '']]) {
      assert.throws(
        () => parseBulkBody(lines),
        (err: Error & { code?: string; status?: number }) => err.code === 'body_unparseable' && err.status === 400 && /action line \[1\] has no source line/.test(err.message),
        JSON.stringify(lines),
      );
    }
    const parsed = parseBulkBody(['{"update":{"_id":"a"}}', ' {"doc":{"x":1}} ', '{"index":{}}', '  {"eventName":"x"}\t']);
    assert.equal(parsed.actions[0]!.rawSource, ' {"doc":{"x":1}} ');
    assert.deepEqual(parsed.records, [{ eventName: 'x' }]);
    assert.equal(parsed.texts[0]!.text, '{"eventName":"x"}');
  });
});
