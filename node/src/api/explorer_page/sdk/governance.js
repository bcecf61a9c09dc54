/**
 * Consortium governance (`node/types/src/governance.rs`): the actions a member proposes, the
 * signed applications that admit a provider or a validator, consensus parameters and voting
 * thresholds, encoded exactly as the Rust types (borsh; variant and field order are the wire
 * format), with the checks that need no state.
 *
 * An application's consensus, network and issuer keys each sign `tally/application\0 || len ||
 * chain_id || borsh(body)`, so a key only enters the consortium with its holder's consent and an
 * application cannot be replayed on another chain.
 */
import { encode } from './codec.js';
import { readAssetCode, readChainId, readKey, readMemberId, readSignature, writeAssetCode, writeChainId, writeKey, writeMemberId, writeSignature, } from './fields.js';
import { signingMessage, verifyRaw } from './keys.js';
import { LIMITS } from './limits.js';
/** The default threshold: more than two thirds of the members. */
export const DEFAULT_THRESHOLD = { numerator: 2, denominator: 3 };
/** The Rust `ConsensusParams::default()`. */
export const DEFAULT_CONSENSUS_PARAMS = {
    timeout_propose_ms: 1000n,
    timeout_notarize_ms: 1500n,
    timeout_max_ms: 30000n,
    block_txs_max: 5_000,
    block_bytes_max: 4 * 1024 * 1024,
};
/** Action names in variant order: the index is the borsh tag. */
export const ACTION_NAMES = [
    'add_member',
    'remove_member',
    'add_validator',
    'remove_validator',
    'rotate_validator_key',
    'set_consensus_params',
    'set_threshold',
];
// ---- codecs ----
export function writeThreshold(w, t) {
    w.u16(t.numerator).u16(t.denominator);
}
export function readThreshold(r) {
    return { numerator: r.u16('threshold numerator'), denominator: r.u16('threshold denominator') };
}
export function writeConsensusParams(w, p) {
    w.u64(p.timeout_propose_ms).u64(p.timeout_notarize_ms).u64(p.timeout_max_ms).u32(p.block_txs_max).u32(p.block_bytes_max);
}
export function readConsensusParams(r) {
    return {
        timeout_propose_ms: r.u64('timeout_propose_ms'),
        timeout_notarize_ms: r.u64('timeout_notarize_ms'),
        timeout_max_ms: r.u64('timeout_max_ms'),
        block_txs_max: r.u32('block_txs_max'),
        block_bytes_max: r.u32('block_bytes_max'),
    };
}
export function writeApplicationBody(w, b) {
    writeChainId(w, b.chain_id);
    writeMemberId(w, b.member);
    w.string(b.member_name, LIMITS.MEMBER_NAME_BYTES_MAX, 'member name');
    writeKey(w, b.issuer);
    writeAssetCode(w, b.asset_code);
    w.u8(b.asset_scale);
    w.string(b.validator_name, LIMITS.VALIDATOR_NAME_BYTES_MAX, 'validator name');
    writeKey(w, b.consensus_key);
    writeKey(w, b.network_key);
    w.string(b.p2p_listen, LIMITS.ADDRESS_BYTES_MAX, 'p2p listen address');
    w.string(b.http_listen, LIMITS.ADDRESS_BYTES_MAX, 'http listen address');
}
export function readApplicationBody(r) {
    return {
        chain_id: readChainId(r),
        member: readMemberId(r),
        member_name: r.string(LIMITS.MEMBER_NAME_BYTES_MAX, 'member name'),
        issuer: readKey(r),
        asset_code: readAssetCode(r),
        asset_scale: r.u8('asset scale'),
        validator_name: r.string(LIMITS.VALIDATOR_NAME_BYTES_MAX, 'validator name'),
        consensus_key: readKey(r),
        network_key: readKey(r),
        p2p_listen: r.string(LIMITS.ADDRESS_BYTES_MAX, 'p2p listen address'),
        http_listen: r.string(LIMITS.ADDRESS_BYTES_MAX, 'http listen address'),
    };
}
export function writeSignedApplication(w, a) {
    writeApplicationBody(w, a.body);
    writeSignature(w, a.proofs.consensus);
    writeSignature(w, a.proofs.network);
    w.option(a.proofs.issuer, writeSignature);
}
export function readSignedApplication(r) {
    const body = readApplicationBody(r);
    const consensus = readSignature(r);
    const network = readSignature(r);
    return { body, proofs: { consensus, network, issuer: r.option('issuer proof', readSignature) } };
}
/** Writes an action: its variant tag, then its fields in declaration order. */
export function writeAction(w, a) {
    const tag = ACTION_NAMES.indexOf(a.action);
    if (tag < 0)
        throw new RangeError(`unknown action ${JSON.stringify(a.action)}`);
    w.u8(tag);
    switch (a.action) {
        case 'add_member':
        case 'add_validator':
            return writeSignedApplication(w, a.application);
        case 'remove_member':
            return writeMemberId(w, a.member);
        case 'remove_validator':
            return writeKey(w, a.consensus_key);
        case 'rotate_validator_key':
            writeKey(w, a.consensus_key);
            return writeSignedApplication(w, a.application);
        case 'set_consensus_params':
            return writeConsensusParams(w, a.params);
        case 'set_threshold':
            return writeThreshold(w, a.threshold);
    }
}
/** Reads an action. */
export function readAction(r) {
    const action = ACTION_NAMES[r.tag(ACTION_NAMES.length, 'Action')];
    switch (action) {
        case 'add_member':
        case 'add_validator':
            return { action, application: readSignedApplication(r) };
        case 'remove_member':
            return { action, member: readMemberId(r) };
        case 'remove_validator':
            return { action, consensus_key: readKey(r) };
        case 'rotate_validator_key':
            return { action, consensus_key: readKey(r), application: readSignedApplication(r) };
        case 'set_consensus_params':
            return { action, params: readConsensusParams(r) };
        case 'set_threshold':
            return { action, threshold: readThreshold(r) };
    }
}
/** The largest application body: the bounded strings at their limits. */
const APPLICATION_BODY_BYTES_MAX = 4 + LIMITS.CHAIN_ID_BYTES_MAX + 4 + LIMITS.MEMBER_ID_BYTES_MAX + 4 + LIMITS.MEMBER_NAME_BYTES_MAX + 32 +
    4 + LIMITS.ASSET_CODE_BYTES_MAX + 1 + 4 + LIMITS.VALIDATOR_NAME_BYTES_MAX + 32 + 32 + 2 * (4 + LIMITS.ADDRESS_BYTES_MAX);
export const ApplicationBodyCodec = {
    typeName: 'ApplicationBody',
    maxEncodedSize: APPLICATION_BODY_BYTES_MAX,
    write: writeApplicationBody,
    read: readApplicationBody,
};
export const SignedApplicationCodec = {
    typeName: 'SignedApplication',
    maxEncodedSize: APPLICATION_BODY_BYTES_MAX + 64 + 64 + 1 + 64,
    write: writeSignedApplication,
    read: readSignedApplication,
};
export const ActionCodec = {
    typeName: 'Action',
    maxEncodedSize: 1 + 32 + SignedApplicationCodec.maxEncodedSize,
    write: writeAction,
    read: readAction,
};
// ---- applications: signing and proofs of possession ----
/** The message every key of an application signs: `tally/application\0`, the chain id, the encoded body. */
export function applicationSigningBytes(body) {
    return signingMessage('application', body.chain_id, encode(ApplicationBodyCodec, body));
}
/** Signs an application body with one of the keys it names (consensus, network or issuer). */
export function signApplication(body, key) {
    return key.sign('application', body.chain_id, encode(ApplicationBodyCodec, body));
}
/**
 * Checks the proofs of an application as the ledger does: the consensus and network keys'
 * (the operator's), then the issuer's. `null` when all three verify.
 */
export function verifyApplicationProofs(application) {
    const message = applicationSigningBytes(application.body);
    const { body, proofs } = application;
    if (verifyRaw(body.consensus_key, message, proofs.consensus) !== null)
        return 'bad-consensus-proof';
    if (verifyRaw(body.network_key, message, proofs.network) !== null)
        return 'bad-network-proof';
    if (proofs.issuer === null)
        return 'issuer-unsigned';
    if (verifyRaw(body.issuer, message, proofs.issuer) !== null)
        return 'bad-issuer-proof';
    return null;
}
// ---- thresholds and parameters: the checks that need no state ----
/**
 * Why a threshold cannot govern (Rust `Threshold::problem`), or `null`: it must be at least one
 * half and below one.
 */
export function thresholdProblem(t) {
    const { numerator, denominator } = t;
    if (denominator === 0)
        return 'the denominator is zero';
    if (numerator * 2 < denominator)
        return `${numerator}/${denominator} is below one half`;
    if (numerator >= denominator)
        return `${numerator}/${denominator} is one or more: no proposal could pass`;
    return null;
}
/** True when `yes` votes out of `members` pass: `yes × denominator > numerator × members`. */
export function thresholdPasses(t, yes, members) {
    return BigInt(yes) * BigInt(t.denominator) > BigInt(t.numerator) * BigInt(members);
}
/**
 * Every problem with consensus parameters, as [field, message] (Rust `ConsensusParams::problems`):
 * timeouts in 10 ms..=10 min, propose < notarize ≤ max, block_txs_max in 1..=10,000, and
 * block_bytes_max between a header plus the largest transaction and 8 MiB.
 */
export function consensusParamsProblems(p) {
    const problems = [];
    const [min, max] = [BigInt(LIMITS.TIMEOUT_MS_MIN), BigInt(LIMITS.TIMEOUT_MS_MAX)];
    for (const field of ['timeout_propose_ms', 'timeout_notarize_ms', 'timeout_max_ms']) {
        const value = p[field];
        if (value < min || value > max)
            problems.push([field, `${value} ms is out of range ${min}..=${max} ms`]);
    }
    if (p.timeout_notarize_ms <= p.timeout_propose_ms) {
        problems.push(['timeout_notarize_ms', `${p.timeout_notarize_ms} ms must be greater than timeout_propose_ms (${p.timeout_propose_ms} ms)`]);
    }
    if (p.timeout_max_ms < p.timeout_notarize_ms) {
        problems.push(['timeout_max_ms', `${p.timeout_max_ms} ms must be at least timeout_notarize_ms (${p.timeout_notarize_ms} ms)`]);
    }
    if (p.block_txs_max === 0 || p.block_txs_max > LIMITS.BLOCK_TXS_MAX) {
        problems.push(['block_txs_max', `${p.block_txs_max} is out of range 1..=${LIMITS.BLOCK_TXS_MAX}`]);
    }
    if (p.block_bytes_max < LIMITS.BLOCK_BYTES_MAX_FLOOR || p.block_bytes_max > LIMITS.BLOCK_BYTES_MAX) {
        problems.push([
            'block_bytes_max',
            `${p.block_bytes_max} is out of range ${LIMITS.BLOCK_BYTES_MAX_FLOOR}..=${LIMITS.BLOCK_BYTES_MAX} (a block must hold a header and the largest transaction)`,
        ]);
    }
    return problems;
}
