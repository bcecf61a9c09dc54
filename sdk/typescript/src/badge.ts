/**
 * Open Badges hashing and receipts (`client/src/badge.rs`): the badge hash is plain blake3 of
 * the RFC 8785 bytes of a JSON assertion (`jcs-blake3`), or of a compact JWS itself, one trailing
 * newline removed (`raw-blake3`), accepted only in strict base64url form. A batch is the binary
 * Merkle tree of `merkle.ts` over the badge hashes; a receipt is `{badge_hash, canon, path, root,
 * tx_id, height}`.
 */

import { base64urlnopad } from '@scure/base';
import { fromHex, toHex, equalBytes } from './bytes.js';
import { InputError, TallyError, VerifyError } from './errors.js';
import { merkleLeaf, plainHash, type Hash } from './hash.js';
import { canonicalize, jsonGet, jsonTypeName, parseJson, isJsonObject, jcsText, JCS_INPUT_BYTES_MAX, type JsonValue } from './jcs.js';
import { LIMITS } from './limits.js';
import { computeMerkleRoot, rootOfLeafHashes, merkleProve, type MerkleProof } from './merkle.js';
import type { AnchorBadges, BadgeCanon, BadgeFormat } from './tx.js';

/** Why a badge could not be hashed or classified. */
export class BadgeError extends TallyError {
  constructor(message: string) {
    super('badge', message);
  }
}

const OPEN_BADGES_2_CONTEXTS = ['https://w3id.org/openbadges/v2', 'https://openbadgespec.org/v2/context.json'];
const OPEN_BADGES_3_CONTEXT_PREFIX = 'https://purl.imsglobal.org/spec/ob/v3p0/context';
const VERIFIABLE_CREDENTIAL_CONTEXTS = ['https://www.w3.org/2018/credentials/v1', 'https://www.w3.org/ns/credentials/v2'];

const isBase64urlChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f;

function trimOneNewline(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  if (n >= 2 && bytes[n - 2] === 0x0d && bytes[n - 1] === 0x0a) return bytes.subarray(0, n - 2);
  if (n >= 1 && bytes[n - 1] === 0x0a) return bytes.subarray(0, n - 1);
  return bytes;
}

function firstNonWhitespace(bytes: Uint8Array): number | undefined {
  return bytes.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
}

/** Strict unpadded base64url: the alphabet only, no 4k+1 length, unused low bits zero. */
export function base64urlDecodeStrict(text: string): Uint8Array {
  if (text.length % 4 === 1) throw new BadgeError('has a length of 4k+1 characters, which no base64url encoding has');
  try {
    return base64urlnopad.decode(text);
  } catch (error) {
    const message = (error as Error).message;
    throw new BadgeError(/padding/i.test(message) ? 'ends in a non-canonical base64url character (unused bits set)' : 'is not base64url');
  }
}

interface CompactJws {
  token: Uint8Array;
  segments: [string, string, string];
}

function parseCompactJws(bytes: Uint8Array): CompactJws {
  const token = trimOneNewline(bytes);
  if (token.length === 0) throw new BadgeError('badge is empty');
  const offset = token.findIndex((b) => !isBase64urlChar(b) && b !== 0x2e);
  if (offset >= 0) {
    const byte = token[offset]!;
    const hint =
      byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x0c
        ? ' (whitespace is not allowed; only one trailing newline is removed)'
        : byte === 0x3d
          ? ' (a JWS uses base64url without padding)'
          : '';
    throw new BadgeError(`not a compact JWS: byte 0x${byte.toString(16).padStart(2, '0')} at offset ${offset} is not base64url or '.'${hint}`);
  }
  const parts = new TextDecoder().decode(token).split('.');
  if (parts.length !== 3) {
    throw new BadgeError(`not a compact JWS: it has ${parts.length} segments separated by '.', a compact JWS has 3 (header.payload.signature)`);
  }
  const names = ['header', 'payload', 'signature'];
  parts.forEach((segment, i) => {
    if (segment.length === 0) {
      throw new BadgeError(`not a compact JWS: the ${names[i]} segment is empty (detached payloads and unsigned tokens are not badges)`);
    }
    try {
      base64urlDecodeStrict(segment);
    } catch (error) {
      throw new BadgeError(`not a compact JWS: the ${names[i]} segment ${(error as Error).message}`);
    }
  });
  return { token, segments: parts as [string, string, string] };
}

function looksLikeCompactJws(bytes: Uint8Array): boolean {
  const token = trimOneNewline(bytes);
  return token.length > 0 && token.every((b) => isBase64urlChar(b) || b === 0x2e) && token.filter((b) => b === 0x2e).length === 2;
}

function checkSize(bytes: Uint8Array): void {
  if (bytes.length > JCS_INPUT_BYTES_MAX) {
    throw new BadgeError(`badge is ${bytes.length} bytes, more than the limit of ${JCS_INPUT_BYTES_MAX} bytes`);
  }
}

/** The protocol name of a canonicalization. */
export function canonName(canon: BadgeCanon): string {
  return canon;
}

/** The badge hash of `bytes` under `canon` (the receipt's canonicalization). */
export function badgeHash(bytes: Uint8Array, canon: BadgeCanon): Hash {
  checkSize(bytes);
  if (canon === 'jcs-blake3') {
    if (looksLikeCompactJws(bytes)) {
      throw new BadgeError('asked to hash with jcs-blake3, but the badge is a compact JWS; use raw-blake3');
    }
    const value = parseJson(jcsText(bytes));
    if (!isJsonObject(value)) throw new BadgeError(`badge JSON must be an object, found ${jsonTypeName(value)}`);
    return plainHash(canonicalize(jcsText(bytes)));
  }
  if (firstNonWhitespace(bytes) === 0x7b) {
    throw new BadgeError('asked to hash with raw-blake3, but the badge is JSON; use jcs-blake3');
  }
  return plainHash(parseCompactJws(bytes).token);
}

function formatOf(document: JsonValue): BadgeFormat {
  const context = jsonGet(document, '@context');
  if (context === undefined) throw new BadgeError('cannot tell the badge format: the document has no `@context`');
  let entries: string[];
  if (typeof context === 'string') entries = [context];
  else if (Array.isArray(context)) entries = context.filter((c): c is string => typeof c === 'string');
  else throw new BadgeError(`cannot tell the badge format: \`@context\` is a JSON ${jsonTypeName(context)}, not a string or an array`);
  const v2 = entries.some((e) => OPEN_BADGES_2_CONTEXTS.includes(e));
  const v3 = entries.some((e) => e.startsWith(OPEN_BADGES_3_CONTEXT_PREFIX) && e.endsWith('.json'));
  if (v2 && v3) throw new BadgeError('cannot tell the badge format: `@context` names both Open Badges 2.0 and 3.0');
  if (!v2 && !v3) {
    const credential = entries.some((e) => VERIFIABLE_CREDENTIAL_CONTEXTS.includes(e));
    throw new BadgeError(
      credential
        ? `cannot tell the badge format: a Verifiable Credential without the Open Badges 3.0 context (${OPEN_BADGES_3_CONTEXT_PREFIX}…) is not an Open Badge`
        : `cannot tell the badge format: \`@context\` names neither Open Badges 2.0 (${OPEN_BADGES_2_CONTEXTS[0]}) nor 3.0 (${OPEN_BADGES_3_CONTEXT_PREFIX}…)`,
    );
  }
  const format: BadgeFormat = v2 ? 'open_badges2' : 'open_badges3';
  const type = jsonGet(document, 'type');
  const types = typeof type === 'string' ? [type] : Array.isArray(type) ? type.filter((t): t is string => typeof t === 'string') : [];
  const [accepted, expected] =
    format === 'open_badges2'
      ? [['Assertion', 'https://w3id.org/openbadges#Assertion'], 'Assertion']
      : [['OpenBadgeCredential', 'AchievementCredential'], 'OpenBadgeCredential or AchievementCredential'];
  if (!types.some((t) => accepted.includes(t))) {
    const name = format === 'open_badges2' ? 'Open Badges 2.0' : 'Open Badges 3.0';
    throw new BadgeError(
      `the document is ${name}, but of type ${types.length === 0 ? '(none)' : types.join(', ')}, not ${expected}; anchor assertions (credentials), not badge classes or profiles`,
    );
  }
  return format;
}

/** Tells a badge's format and canonicalization from its content (`badge::detect`). */
export function detectBadge(bytes: Uint8Array): { format: BadgeFormat; canon: BadgeCanon } {
  const { document, canon } = badgeDocument(bytes);
  return { format: formatOf(document), canon };
}

/**
 * The badge's JSON document and how it is hashed (`badge::document`): a JSON object itself
 * (`jcs-blake3`); for a compact JWS (`raw-blake3`) its payload, or the payload's `vc` claim
 * (VC-JWT). The token's header must name a signing algorithm; the format is not checked.
 */
export function badgeDocument(bytes: Uint8Array): { document: JsonValue; canon: BadgeCanon } {
  checkSize(bytes);
  const first = firstNonWhitespace(bytes);
  if (first === undefined) throw new BadgeError('badge is empty');
  if (first === 0x7b) return { document: parseJson(jcsText(bytes)), canon: 'jcs-blake3' };
  if (!isBase64urlChar(first)) {
    throw new BadgeError(`badge is neither a JSON object nor a compact JWS (first byte 0x${first.toString(16).padStart(2, '0')})`);
  }
  const jws = parseCompactJws(bytes);
  const decodeJson = (index: number, part: string): JsonValue => {
    let value: JsonValue;
    try {
      value = parseJson(base64urlDecodeStrict(jws.segments[index]!));
    } catch (error) {
      throw new BadgeError(`the JWS ${part} cannot be read: not JSON: ${(error as Error).message}`);
    }
    if (!isJsonObject(value)) throw new BadgeError(`the JWS ${part} cannot be read: it is a JSON ${jsonTypeName(value)}, not an object`);
    return value;
  };
  const alg = jsonGet(decodeJson(0, 'header'), 'alg');
  if (alg === 'none') throw new BadgeError('the JWS header cannot be read: `alg` is "none": an unsigned token is not a credential');
  if (typeof alg !== 'string') throw new BadgeError('the JWS header cannot be read: it has no `alg` string');
  const payload = decodeJson(1, 'payload');
  const vc = jsonGet(payload, 'vc');
  const document = jsonGet(payload, '@context') !== undefined ? payload : vc !== undefined && isJsonObject(vc) ? vc : undefined;
  if (document === undefined) {
    throw new BadgeError('cannot tell the badge format: the JWS payload has neither an `@context` nor a `vc` claim holding one');
  }
  return { document, canon: 'raw-blake3' };
}

/**
 * The achievement a badge is for (`badge::achievement_id`): an Open Badges 3.0 credential's
 * `credentialSubject.achievement.id`; only when the achievement has no `id`, a 2.0 assertion's
 * badge class (an IRI, or an embedded class's `id`). Undefined when it names none or is not a
 * badge. Read from the JSON object, or from a compact JWS's payload (or its `vc` claim).
 */
export function badgeAchievementId(bytes: Uint8Array): string | undefined {
  let badge: JsonValue;
  try {
    badge = badgeDocument(bytes).document;
  } catch {
    return undefined;
  }
  const subject = jsonGet(badge, 'credentialSubject');
  const achievement = subject === undefined ? undefined : jsonGet(subject, 'achievement');
  const ownId = achievement === undefined ? undefined : jsonGet(achievement, 'id');
  let id: JsonValue | undefined = ownId;
  if (ownId === undefined) {
    const badgeClass = jsonGet(badge, 'badge');
    const classId = badgeClass === undefined ? undefined : jsonGet(badgeClass, 'id');
    id = classId !== undefined ? classId : badgeClass;
  }
  return typeof id === 'string' ? id : undefined;
}

/** Detects and hashes an assertion. */
export function hashAssertion(bytes: Uint8Array): { format: BadgeFormat; canon: BadgeCanon; hash: Hash } {
  const { format, canon } = detectBadge(bytes);
  return { format, canon, hash: badgeHash(bytes, canon) };
}

/** What an issuer hands a holder per anchored badge (the file `tally badge anchor` writes). */
export interface BadgeReceipt {
  badge_hash: Hash;
  canon: BadgeCanon;
  path: MerkleProof;
  root: Hash;
  tx_id: Hash | null;
  height: bigint | null;
}

/** The receipt file's limit, as the Rust client's. */
export const RECEIPT_JSON_BYTES_MAX = 16 * 1024;

function field<T>(object: Record<string, unknown>, name: string, check: (v: unknown) => T): T {
  if (!(name in object)) throw new InputError('badge receipt', `missing field \`${name}\``);
  return check(object[name]);
}

function integer(value: unknown, name: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n) return value;
  throw new InputError('badge receipt', `\`${name}\` must be a whole number`);
}

/** Reads a receipt file (JSON), strictly: known fields only, hex hashes, 1..=2^20 leaves. */
export function parseBadgeReceipt(input: string | Uint8Array): BadgeReceipt {
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  const size = new TextEncoder().encode(text).length;
  if (size > RECEIPT_JSON_BYTES_MAX) {
    throw new InputError('badge receipt', `receipt file is ${size} bytes, more than the limit of ${RECEIPT_JSON_BYTES_MAX} bytes`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InputError('badge receipt', `receipt file is not valid: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError('badge receipt', 'receipt file is not a JSON object');
  const object = raw as Record<string, unknown>;
  const known = ['badge_hash', 'canon', 'path', 'root', 'tx_id', 'height'];
  const unknown = Object.keys(object).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new InputError('badge receipt', `unknown field \`${unknown}\``);
  const hash = (name: string) => (v: unknown) => fromHex(v as string, `badge receipt \`${name}\``, 32);
  const canon = field(object, 'canon', (v) => {
    if (v !== 'jcs-blake3' && v !== 'raw-blake3') throw new InputError('badge receipt', '`canon` must be jcs-blake3 or raw-blake3');
    return v as BadgeCanon;
  });
  const path = field(object, 'path', (v) => {
    if (typeof v !== 'object' || v === null) throw new InputError('badge receipt', '`path` must be an object');
    const p = v as Record<string, unknown>;
    const siblings = p['siblings'];
    if (!Array.isArray(siblings) || siblings.length > LIMITS.MERKLE_PROOF_SIBLINGS_MAX) {
      throw new InputError('badge receipt', `\`path.siblings\` must be a list of at most ${LIMITS.MERKLE_PROOF_SIBLINGS_MAX} hashes`);
    }
    return {
      index: integer(p['index'], 'path.index'),
      leaf_count: integer(p['leaf_count'], 'path.leaf_count'),
      siblings: siblings.map((s, i) => fromHex(s as string, `badge receipt \`path.siblings[${i}]\``, 32)),
    };
  });
  if (path.leaf_count === 0n || path.leaf_count > BigInt(LIMITS.BADGE_BATCH_LEAVES_MAX)) {
    throw new InputError('badge receipt', `path.leaf_count is ${path.leaf_count}; a batch has 1 to ${LIMITS.BADGE_BATCH_LEAVES_MAX} badges`);
  }
  const txId = object['tx_id'];
  const height = object['height'];
  return {
    badge_hash: field(object, 'badge_hash', hash('badge_hash')),
    canon,
    path,
    root: field(object, 'root', hash('root')),
    tx_id: txId === null || txId === undefined ? null : hash('tx_id')(txId),
    height: height === null || height === undefined ? null : integer(height, 'height'),
  };
}

/** A batch's root and one receipt per badge (not yet anchored), in batch order. */
export function badgeBatch(badgeHashes: readonly Hash[], canon: BadgeCanon): { root: Hash; receipts: BadgeReceipt[] } {
  if (badgeHashes.length === 0) throw new BadgeError('a batch needs at least one badge');
  if (badgeHashes.length > LIMITS.BADGE_BATCH_LEAVES_MAX) {
    throw new BadgeError(`a batch holds at most ${LIMITS.BADGE_BATCH_LEAVES_MAX} badges, got ${badgeHashes.length}`);
  }
  const seen = new Map<string, number>();
  badgeHashes.forEach((h, i) => {
    const key = toHex(h);
    const first = seen.get(key);
    if (first !== undefined) throw new BadgeError(`badges ${first} and ${i} have the same hash ${key}; each badge is anchored once`);
    seen.set(key, i);
  });
  const leaves = badgeHashes.map((h) => merkleLeaf(h));
  const root = rootOfLeafHashes(leaves);
  const receipts = badgeHashes.map((h, i) => ({ badge_hash: h, canon, path: merkleProve(leaves, i), root, tx_id: null, height: null }));
  return { root, receipts };
}

/** Steps 1 and 2: the assertion's hash equals the receipt's, and the path leads to the root. */
export function verifyBadgePath(receipt: BadgeReceipt, assertion: Uint8Array): void {
  const actual = badgeHash(assertion, receipt.canon);
  if (!equalBytes(actual, receipt.badge_hash)) {
    throw new VerifyError('badge', `step 1 (badge hash): the assertion hashes to ${toHex(actual)}, the receipt says ${toHex(receipt.badge_hash)}`, toHex(receipt.badge_hash), toHex(actual));
  }
  const reached = computeMerkleRoot(receipt.path, merkleLeaf(receipt.badge_hash));
  if (!equalBytes(reached, receipt.root)) {
    throw new VerifyError('badge', `step 2 (Merkle path): the path from the badge hash leads to root ${toHex(reached)}, the receipt says ${toHex(receipt.root)}`, toHex(receipt.root), toHex(reached));
  }
}

/** Step 3's comparison: the receipt belongs to `anchor` (same root, batch size, canonicalization). */
export function verifyBadgeAnchor(receipt: BadgeReceipt, anchor: Omit<AnchorBadges, 'op'>): void {
  const mismatch = (what: string, expected: string, actual: string) =>
    new VerifyError('badge', `step 3 (anchor): the anchor has ${what} ${expected}, the receipt says ${actual}`, expected, actual);
  if (!equalBytes(anchor.batch_root, receipt.root)) throw mismatch('root', toHex(anchor.batch_root), toHex(receipt.root));
  if (BigInt(anchor.leaf_count) !== receipt.path.leaf_count) {
    throw mismatch('leaf count', String(anchor.leaf_count), String(receipt.path.leaf_count));
  }
  if (anchor.canon !== receipt.canon) throw mismatch('canonicalization', anchor.canon, receipt.canon);
}
