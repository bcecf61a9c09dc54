// Verification speed in Node.js (`npm run bench`): finality certificates per second (a 4-validator
// finalization, 3 signatures, the golden vector), binary Merkle inclusion proofs per second (a
// 10,000-transaction block's tx root, 14 siblings), sparse-Merkle state proofs per second (24
// siblings, about the depth of a state of 10 million entries) and single signatures. Each figure
// is the median of 5 runs of about one second. Not a test: nothing asserts a speed.

import * as sdk from '../src/index.js';
import { fromHex, utf8 } from '../src/bytes.js';
import { readJson } from './support.js';

function rate(work: () => void): number {
  for (let i = 0; i < 20; i++) work();
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < 1_000) {
    work();
    count++;
  }
  return count / ((performance.now() - start) / 1_000);
}

function median(work: () => void, runs = 5): number {
  const rates = Array.from({ length: runs }, () => rate(work)).sort((a, b) => a - b);
  return rates[Math.floor(runs / 2)]!;
}

const vectors = readJson<{ chain_id: string; values: { name: string; bytes: string }[] }>('node/types/tests/golden/vectors.json');
const certificate = sdk.decode(sdk.CertificateCodec, fromHex(vectors.values.find((v) => v.name === 'certificate_finalization')!.bytes, 'c'));
const set = sdk.validatorSet([11, 12, 13, 14].map((b) => sdk.SecretKey.fromSeed(new Uint8Array(32).fill(b)).publicKey));

const ids = Array.from({ length: 10_000 }, (_, i) => sdk.domainHash('txId', utf8(String(i))));
const leaves = ids.map((id) => sdk.merkleLeaf(id));
const txRoot = sdk.rootOfLeafHashes(leaves);
const proof = sdk.merkleProve(leaves, 4_321);

// A sparse-Merkle proof of depth 24 built from the hashing rules: siblings are arbitrary
// non-zero hashes, and the root is whatever the path leads to.
const key = sdk.domainHash('stateKey', utf8('an account balance'));
const valueHash = sdk.domainHash('stateValue', utf8('its value'));
const smtProof: sdk.SmtProof = {
  leaf: { key, value_hash: valueHash },
  siblings: Array.from({ length: 24 }, (_, i) => sdk.domainHash('smtNode', utf8(String(i)))),
};
const smtRoot = sdk.computeSmtRoot(smtProof, key);

const key0 = sdk.SecretKey.fromSeed(new Uint8Array(32).fill(5));
const message = new Uint8Array(200);
const signature = key0.signRaw(message);

const results = {
  certificates_per_s: median(() => sdk.verifyCertificate(certificate, vectors.chain_id, set)),
  merkle_proofs_per_s: median(() => sdk.verifyMerkleProof(proof, leaves[4_321]!, txRoot)),
  smt_proofs_per_s: median(() => sdk.verifySmtProof(smtProof, smtRoot, key, valueHash)),
  signatures_per_s: median(() => {
    if (sdk.verifyRaw(key0.publicKey, message, signature) !== null) throw new Error('bad signature');
  }),
};
console.log(`node ${process.version}, median of 5 runs of ~1 s each`);
for (const [name, value] of Object.entries(results)) console.log(`${name.padEnd(22)} ${Math.round(value)}`);
