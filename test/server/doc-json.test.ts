import assert from 'node:assert/strict';
import { docJson, identityOpenIn, quoted, sourceText, type SourceText } from '../../server/doc-json.js';
import { readRecords } from '../../server/input.js';
import { ANSWER_PIECE_CHARS, answerJson, writeAnswer } from '../../server/routes/enrich.js';
import type { Doc } from '../../processors/types.js';
import { batches, streamRecords, toNdjson } from '../../bench/records.js';
import { IP, MINUTE, T0, cloudTrailRecord, testPipeline } from '../support/geo-fixture.js';

/** Reads NDJSON lines as /enrich does, keeping each record's text. */
function read(lines: string[]): { records: unknown[]; texts: (SourceText | undefined)[] } {
  const texts: (SourceText | undefined)[] = [];
  const records = readRecords(Buffer.from(lines.join('\n')), { contentType: 'application/x-ndjson', contentEncoding: undefined, maxBytes: 1e9 }, texts);
  return { records, texts };
}

/** The splice leaves its mark: session_name first in userIdentity, where JSON.stringify puts it last. */
const spliced = (json: string): boolean => /"userIdentity"\s*:\s*\{"session_name"/.test(json);

/** A record whose processors added the usual fields, by hand (no pipeline). */
function enrichByHand(record: Doc): Doc {
  record['@timestamp'] = '2024-03-04T09:00:00Z';
  record.source = { address: '81.2.69.160', ip: '81.2.69.160', geo: { city_name: 'London', location: { lat: 51.5, lon: -0.13 } } };
  if (record.userIdentity && typeof record.userIdentity === 'object') (record.userIdentity as Doc).session_name = 'alice';
  return record;
}

function roundTrip(line: string): { json: string; expected: unknown } {
  const { records, texts } = read([line]);
  const doc = enrichByHand(records[0] as Doc);
  const json = docJson(doc, texts[0]);
  return { json, expected: JSON.parse(JSON.stringify(doc)) };
}

describe('server/doc-json', () => {
  it('quoted writes a string exactly as JSON.stringify does', () => {
    const strings = [
      '', '2024-03-04T09:00:00Z', 'alice@example.com', 'a"b', 'back\\slash', 'tab\there', 'line\nbreak', '\u0000', '\u001f', '\u007f',
      'Zürich', 'São Paulo', '東京', '\u2028', '\ud83d\ude00', '\ud83d', 'tail\udc00', ' ~ ', '</script>',
    ];
    for (const text of strings) assert.equal(quoted(text), JSON.stringify(text), JSON.stringify(text));
    for (let c = 0; c <= 0xffff; c++) assert.equal(quoted(`x${String.fromCharCode(c)}y`), JSON.stringify(`x${String.fromCharCode(c)}y`), `code unit ${c}`);
  });

  it('writes pipeline documents as the same JSON value JSON.stringify gives, splicing into the record text', async () => {
    const t = testPipeline();
    const lines: string[] = [];
    for (const batch of batches(streamRecords({ count: 3_000, keys: 300, seed: 4 }), 3_000)) lines.push(...toNdjson(batch).toString('utf8').split('\n').filter(Boolean));
    // Located journeys, so that source.geo and impossible_travel are added too.
    const key = 'AKIADOCJSONTEST001';
    lines.push(JSON.stringify(cloudTrailRecord({ key, ip: IP.london, at: T0 })));
    lines.push(JSON.stringify(cloudTrailRecord({ key, ip: IP.tokyo, at: T0 + 30 * MINUTE, type: 'AssumedRole', role: 'Admin', session: 'bob/with/slashes' })));
    const { records, texts } = read(lines);
    const result = await t.run(records);
    assert.ok(result.alerts.length >= 1, 'the London-Tokyo journey raised an alert');
    let splices = 0;
    for (const [i, doc] of result.docs.entries()) {
      const json = docJson(doc, texts[i]);
      assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(doc)), `record ${i}: ${lines[i]!.slice(0, 120)}`);
      if (spliced(json)) splices++;
    }
    assert.ok(splices > lines.length * 0.9, `${splices} of ${lines.length} documents were spliced, not re-serialised`);
    const withTravel = result.docs.map((d, i) => docJson(d, texts[i])).filter((j) => j.includes('"impossible_travel"'));
    assert.ok(withTravel.length >= 1, 'the alerted document carries impossible_travel');
  });

  it('answers /enrich with the same value as JSON.stringify of {docs, alerts}', async () => {
    const t = testPipeline();
    const lines = [0, 40].map((m, i) => JSON.stringify(cloudTrailRecord({ key: 'AKIADOCJSONTEST002', ip: i ? IP.sydney : IP.london, at: T0 + m * MINUTE })));
    const { records, texts } = read([...lines, '{"not":"cloudtrail"}', '[1,2]', 'nonsense']);
    const result = await t.run(records);
    const answer = { docs: result.docs, alerts: result.alerts, alerts_stored: true };
    assert.deepEqual(JSON.parse(answerJson(answer, texts)), JSON.parse(JSON.stringify(answer)));
    assert.deepEqual(JSON.parse(answerJson({ docs: [], alerts: [] })), { docs: [], alerts: [] });
  });

  it('writes a large answer in pieces of about ANSWER_PIECE_CHARS that join to the whole answer', async () => {
    const t = testPipeline();
    const lines: string[] = [];
    for (const batch of batches(streamRecords({ count: 400, keys: 50, seed: 7 }), 400)) lines.push(...toNdjson(batch).toString('utf8').split('\n').filter(Boolean));
    const { records, texts } = read(lines);
    const result = await t.run(records);
    const answer = { docs: result.docs, alerts: result.alerts };
    const pieces: string[] = [];
    writeAnswer(answer, texts, (piece) => pieces.push(piece));
    const whole = answerJson(answer, texts);
    assert.equal(pieces.join(''), whole);
    assert.deepEqual(JSON.parse(whole), JSON.parse(JSON.stringify(answer)));
    assert.ok(whole.length > 10 * ANSWER_PIECE_CHARS, `an answer of ${whole.length} characters`);
    assert.ok(pieces.length >= whole.length / (2 * ANSWER_PIECE_CHARS), `${pieces.length} pieces`);
    // Each piece stops at the first document that takes it past the size: over it by less than one document.
    const longestDoc = Math.max(...result.docs.map((d, i) => docJson(d, texts[i]).length));
    for (const piece of pieces) assert.ok(piece.length < ANSWER_PIECE_CHARS + longestDoc + 1, `a piece of ${piece.length} characters`);
  });

  it('finds userIdentity through whitespace and after values holding braces, quotes and escapes', () => {
    const lines = [
      '{ "eventVersion" : "1.08" , "userIdentity" : { "type" : "IAMUser", "userName": "alice" } , "eventTime": "2024-03-04T09:00:00Z" }',
      '{"a":{"b":[1,{"c":"}{]["}],"d":"\\"userIdentity\\":{"},"e":"\\u00e9","n":-1.5e3,"t":true,"z":null,"userIdentity":{"type":"Root"},"s":"\\n\\t"}',
      '{"requestParameters":{"x":"{\\"y\\":1}"},"userIdentity":{}}',
      '{"eventVersion":"1.0\\"8","userIdentity":{"type":"IAMUser"}}',
      '{"eventVersion":"1.09","userIdentity":{"type":"IAMUser"},"eventName":"GetObject"}',
    ];
    for (const line of lines) {
      assert.ok(identityOpenIn(line) > 0, line);
      const { json, expected } = roundTrip(line);
      assert.ok(spliced(json), `spliced: ${json}`);
      assert.deepEqual(JSON.parse(json), expected);
    }
    assert.equal(JSON.parse(roundTrip(lines[2]!).json).userIdentity.session_name, 'alice', 'into an empty userIdentity, without a stray comma');
  });

  it('leaves a record to JSON.stringify when the text is ambiguous: a duplicate (plain or escaped), nested or escaped userIdentity key, or a \\u escape after it', () => {
    const lines = [
      '{"userIdentity":{"type":"IAMUser"},"userIdentity":{"type":"Root"}}',
      '{"userIdentity":{"type":"IAMUser"},"requestParameters":{"userIdentity":{"type":"x"}}}',
      '{"user\\u0049dentity":{"type":"IAMUser"}}',
      '{"userIdentity":"not an object"}',
      '{"eventVersion":"1.09","userIdentity":{"type":"IAMUser"},"x":{"userIdentity":1}}',
      // A later duplicate spelled with escapes: JSON.parse keeps it, so session_name belongs there.
      '{"eventVersion":"1.09","userIdentity":{"type":"IAMUser"},"userIdentit\\u0079":{"type":"Root"}}',
      '{"a":1,"userIdentity":{"type":"IAMUser"},"\\u0075serIdentity":{"type":"Root"}}',
      '{"userIdentity":{"type":"IAMUser"},"userAgent":"caf\\u00e9"}',
    ];
    for (const line of lines) {
      const { json, expected } = roundTrip(line);
      assert.equal(json, JSON.stringify(expected), line);
    }
  });

  it('keeps no text for a record that already has a field the processors add', () => {
    for (const line of [
      '{"source":{"address":"1.2.3.4"}}',
      '{"@timestamp":"2020-01-01T00:00:00Z"}',
      '{"impossible_travel":{}}',
      '{"userIdentity":{"session_name":"given"}}',
    ]) {
      assert.equal(sourceText(JSON.parse(line) as Doc, line), undefined, line);
    }
    assert.ok(sourceText({ eventName: 'x' }, '{"eventName":"x"}'));
  });

  it('writes source keys that are not the usual ones, __proto__ and constructor included', () => {
    const record = JSON.parse('{"eventName":"x"}') as Doc;
    const text = sourceText(record, '{"eventName":"x"}');
    record.source = JSON.parse('{"address":"a","constructor":1,"__proto__":{"q":"\\""},"port":2}') as Doc;
    assert.deepEqual(JSON.parse(docJson(record, text)), JSON.parse(JSON.stringify(record)));
  });

  it('writes each member of source as JSON.stringify does, whatever its values and their order', () => {
    const sources: Doc[] = [
      { address: 'ec2.amazonaws.com' },
      { address: '::ffff:1.2.3.4', ip: '::ffff:1.2.3.4', geo: { city_name: 'Zürich "Z"' } },
      { address: '1.2.3.4', ip: '1.2.3.5', geo: 'not an object' },
      { ip: 'x', address: 'x', skipped: undefined, fn: () => 1, geo: null, n: 1.5, tag: 'x', nested: { a: ['x'] } },
      { geo: { location: { lat: 1, lon: 2 } }, address: 'a\u2028"b' },
    ];
    for (const source of sources) {
      const record = JSON.parse('{"eventName":"x"}') as Doc;
      const text = sourceText(record, '{"eventName":"x"}');
      record.source = source;
      assert.equal(docJson(record, text), JSON.stringify(record), JSON.stringify(source));
    }
  });

  it('writes a source that has its own toJSON as JSON.stringify does', () => {
    const record = { eventName: 'x' } as Doc;
    const text = sourceText(record, '{"eventName":"x"}');
    record.source = new Date(0) as unknown as Doc;
    assert.deepEqual(JSON.parse(docJson(record, text)), JSON.parse(JSON.stringify(record)));
  });

  it('writes an empty record, and a record with nothing added, correctly', () => {
    const empty = {} as Doc;
    const text = sourceText(empty, ' { } ')!;
    empty['@timestamp'] = 'T';
    assert.deepEqual(JSON.parse(docJson(empty, text)), { '@timestamp': 'T' });
    const plain = { a: 1 } as Doc;
    assert.equal(docJson(plain, sourceText(plain, '{"a":1.0}')), '{"a":1.0}', 'the client text as it was');
  });

  it('writes the error entry, not the record text, when the record was replaced', () => {
    const record = { eventName: 'x' } as Doc;
    const text = sourceText(record, '{"eventName":"x"}');
    const error = { error: { type: 'processing_failed', reason: 'boom' } };
    assert.equal(docJson(error, text), JSON.stringify(error));
  });
});
