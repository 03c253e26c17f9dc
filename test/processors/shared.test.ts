import assert from 'node:assert/strict';
import { isShared, share, sharedJson } from '../../processors/shared.js';
import { objectAt, type Doc } from '../../processors/types.js';

describe('processors/shared', () => {
  it('writes a shared object\'s JSON once, at its first use, as JSON.stringify does', () => {
    const geo = share({ city_name: 'Zürich', location: { lat: 47.37, lon: 8.54 } });
    const first = sharedJson(geo);
    assert.equal(first, JSON.stringify(geo));
    assert.equal(sharedJson(geo), first);
    assert.equal(isShared(geo), true);
  });

  it('knows nothing of an object that was not shared', () => {
    const own = { address: '192.0.2.1' };
    assert.equal(isShared(own), false);
    assert.equal(sharedJson(own), undefined);
  });

  it('objectAt adds to a copy of a shared object, never to the object itself', () => {
    const shared = share({ address: '198.51.100.7', ip: '198.51.100.7' });
    const doc: Doc = { source: shared };
    const source = objectAt(doc, 'source');
    source.port = 443;
    assert.notEqual(source, shared);
    assert.equal(doc.source, source);
    assert.deepEqual(shared, { address: '198.51.100.7', ip: '198.51.100.7' });
    assert.deepEqual(doc.source, { address: '198.51.100.7', ip: '198.51.100.7', port: 443 });
    assert.equal(objectAt(doc, 'source'), source, 'a copy is the document\'s own: no second copy');
  });
});
