import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveNodeName } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';

describe('resolveNodeName', () => {
  it('takes configuration, then OWLK8S_NODE_NAME, then the seed’s nodename', () => {
    const env = { OWLK8S_NODE_NAME: 'from-env', nodename: 'from-seed' };
    assert.equal(resolveNodeName('configured', env), 'configured');
    assert.equal(resolveNodeName(undefined, env), 'from-env');
    assert.equal(resolveNodeName(undefined, { nodename: 'from-seed' }), 'from-seed');
    assert.equal(resolveNodeName('  ', { OWLK8S_NODE_NAME: ' n1 ' }), 'n1');
  });

  it('without any, throws ConfigError saying how to set it', () => {
    assert.throws(
      () => resolveNodeName(undefined, {}),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /OWLK8S_NODE_NAME/);
        assert.match(e.message, /fieldPath: spec.nodeName/);
        return true;
      },
    );
  });
});
