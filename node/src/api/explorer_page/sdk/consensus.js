/**
 * Validator sets, votes, proposals and certificates (`node/types/src/consensus.rs`), and the
 * certificate check: bitmap shape, a quorum Q = n − f of distinct signers, every signature valid
 * under Tally's rule over `namespace || chain_id || encoded subject`.
 */
import { encode } from './codec.js';
import { equalBytes, toHex } from './bytes.js';
import { InputError, VerifyError } from './errors.js';
import { domainHash } from './hash.js';
import { keyProblemText, signingMessage, validateKeyStrict, verifyRaw } from './keys.js';
import { LIMITS } from './limits.js';
import { BlockCodec, blockId } from './block.js';
import { readHash, readKey, readSignature, writeHash, writeKey, writeSignature } from './tx.js';
/** Builds and checks a validator set; the error names the problem as the Rust code does. */
export function validatorSet(keys) {
    const n = keys.length;
    if (n < LIMITS.VALIDATORS_MIN) {
        throw new InputError('validator set', `${n} validators; at least ${LIMITS.VALIDATORS_MIN} are needed (f = ⌊(n − 1)/3⌋ ≥ 1)`);
    }
    if (n > LIMITS.VALIDATORS_MAX) {
        throw new InputError('validator set', `${n} validators; at most ${LIMITS.VALIDATORS_MAX} are allowed`);
    }
    keys.forEach((key, index) => {
        const problem = validateKeyStrict(key);
        if (problem !== null)
            throw new InputError('validator set', `validator ${index} key refused: ${keyProblemText(problem)}`);
        if (keys.slice(0, index).some((other) => equalBytes(other, key))) {
            throw new InputError('validator set', `validator ${index} appears twice`);
        }
    });
    return { keys: keys.map((key) => key.slice()) };
}
/** f = (n − 1) / 3. */
export function maxFaulty(set) {
    return Math.floor((set.keys.length - 1) / 3);
}
/** Q = n − f. */
export function quorum(set) {
    return set.keys.length - maxFaulty(set);
}
/** The leader of `view`: `validators[view mod n]`. */
export function leader(set, view) {
    return Number(view % BigInt(set.keys.length));
}
export const ValidatorSetCodec = {
    typeName: 'ValidatorSet',
    maxEncodedSize: LIMITS.VALIDATOR_SET_BYTES_MAX,
    write(w, set) {
        w.list(set.keys, LIMITS.VALIDATORS_MAX, 'keys', writeKey);
    },
    read(r) {
        const keys = r.list(LIMITS.VALIDATORS_MAX, 'keys', readKey);
        try {
            return validatorSet(keys);
        }
        catch (error) {
            return r.fail(error.message);
        }
    },
};
/** The hash every header carries: `tally v1 validator set` hash of the encoded set. */
export function validatorsHash(set) {
    return domainHash('validatorSet', encode(ValidatorSetCodec, set));
}
const SUBJECT_KINDS = ['notarize', 'nullify', 'finalize'];
export const SubjectCodec = {
    typeName: 'Subject',
    maxEncodedSize: 1 + 8 + 32,
    write(w, subject) {
        w.u8(SUBJECT_KINDS.indexOf(subject.kind)).u64(subject.view);
        if (subject.kind !== 'nullify')
            writeHash(w, subject.block_id);
    },
    read(r) {
        const kind = SUBJECT_KINDS[r.tag(3, 'Subject')];
        const view = r.u64('view');
        return kind === 'nullify' ? { kind, view } : { kind, view, block_id: readHash(r) };
    },
};
/** The signature namespace of a subject's kind. */
export function subjectNamespace(subject) {
    return subject.kind;
}
/** Signs a subject (what a validator does; here for tests and tools). */
export function signSubject(subject, chainId, key) {
    return key.sign(subject.kind, chainId, encode(SubjectCodec, subject));
}
export const VoteCodec = {
    typeName: 'Vote',
    maxEncodedSize: 128,
    write(w, vote) {
        SubjectCodec.write(w, vote.subject);
        w.u16(vote.signer);
        writeSignature(w, vote.signature);
    },
    read(r) {
        return { subject: SubjectCodec.read(r), signer: r.u16('signer'), signature: readSignature(r) };
    },
};
export const ProposalCodec = {
    typeName: 'Proposal',
    maxEncodedSize: LIMITS.BLOCK_BYTES_MAX + 256,
    write(w, p) {
        w.u64(p.view).u64(p.parent_view);
        BlockCodec.write(w, p.block);
        writeSignature(w, p.signature);
    },
    read(r) {
        return { view: r.u64('view'), parent_view: r.u64('parent_view'), block: BlockCodec.read(r), signature: readSignature(r) };
    },
};
/** The signed payload of a proposal: `(view, parent_view, block_id)` encoded. */
export function proposalPayload(view, parentView, id) {
    const out = new Uint8Array(48);
    const view64 = new DataView(out.buffer);
    view64.setBigUint64(0, view, true);
    view64.setBigUint64(8, parentView, true);
    out.set(id, 16);
    return out;
}
/** Verifies that the view's leader signed `proposal`. */
export function verifyProposal(proposal, chainId, set) {
    const index = leader(set, proposal.view);
    const payload = proposalPayload(proposal.view, proposal.parent_view, blockId(proposal.block));
    const problem = verifyRaw(set.keys[index], signingMessage('proposal', chainId, payload), proposal.signature);
    if (problem !== null)
        throw new VerifyError('certificate', `signature of validator ${index} does not verify`);
}
/** Verifies one vote against the validator set. */
export function verifyVote(vote, chainId, set) {
    const key = set.keys[vote.signer];
    if (key === undefined)
        throw new VerifyError('certificate', `validator ${vote.signer} is not in the validator set`);
    const message = signingMessage(vote.subject.kind, chainId, encode(SubjectCodec, vote.subject));
    if (verifyRaw(key, message, vote.signature) !== null) {
        throw new VerifyError('certificate', `signature of validator ${vote.signer} does not verify`);
    }
}
export const CertificateCodec = {
    typeName: 'Certificate',
    maxEncodedSize: LIMITS.CERTIFICATE_BYTES_MAX,
    write(w, c) {
        SubjectCodec.write(w, c.subject);
        w.bytes(c.signers, Math.ceil(LIMITS.VALIDATORS_MAX / 8), 'signers');
        w.list(c.signatures, LIMITS.VALIDATORS_MAX, 'signatures', writeSignature);
    },
    read(r) {
        return {
            subject: SubjectCodec.read(r),
            signers: r.bytesBounded(Math.ceil(LIMITS.VALIDATORS_MAX / 8), 'signers'),
            signatures: r.list(LIMITS.VALIDATORS_MAX, 'signatures', readSignature),
        };
    },
};
/** Assembles a certificate from votes on one subject (any order, no duplicates). */
export function certificateFromVotes(subject, votes, n) {
    const sorted = [...votes].sort((a, b) => a.signer - b.signer);
    const bitmap = new Uint8Array(Math.ceil(n / 8));
    sorted.forEach((vote, i) => {
        if (i > 0 && sorted[i - 1].signer === vote.signer)
            throw new RangeError(`validator ${vote.signer} signed twice`);
        if (vote.signer >= n)
            throw new RangeError(`validator ${vote.signer} is not in the validator set`);
        bitmap[vote.signer >> 3] |= 1 << (vote.signer & 7);
    });
    return { subject, signers: bitmap, signatures: sorted.map((vote) => vote.signature) };
}
/** The signer indices of a certificate, ascending. */
export function signerIndices(certificate) {
    const out = [];
    certificate.signers.forEach((byte, byteIndex) => {
        for (let bit = 0; bit < 8; bit++)
            if ((byte & (1 << bit)) !== 0)
                out.push(byteIndex * 8 + bit);
    });
    return out;
}
/**
 * Verifies a certificate against a validator set: bitmap length, no bit beyond the set, one
 * signature per signer, a quorum, then every signature (the first bad one, lowest signer, is
 * named). Checks in the order of `Certificate::verify`. Throws a `VerifyError` naming the problem.
 */
export function verifyCertificate(certificate, chainId, set) {
    const n = set.keys.length;
    const expected = Math.ceil(n / 8);
    if (certificate.signers.length !== expected) {
        throw new VerifyError('certificate', `signer bitmap is ${certificate.signers.length} bytes; ${expected} expected for this validator set`, String(expected), String(certificate.signers.length));
    }
    const signers = signerIndices(certificate);
    const beyond = signers.find((index) => index >= n);
    if (beyond !== undefined)
        throw new VerifyError('certificate', `signer bitmap sets bit ${beyond}, beyond the last validator`);
    if (signers.length !== certificate.signatures.length) {
        throw new VerifyError('certificate', `${signers.length} signers in the bitmap but ${certificate.signatures.length} signatures`);
    }
    const need = quorum(set);
    if (signers.length < need) {
        throw new VerifyError('certificate', `${signers.length} signatures; a quorum of ${need} is needed`, String(need), String(signers.length));
    }
    const message = signingMessage(certificate.subject.kind, chainId, encode(SubjectCodec, certificate.subject));
    signers.forEach((index, position) => {
        if (verifyRaw(set.keys[index], message, certificate.signatures[position]) !== null) {
            throw new VerifyError('certificate', `signature of validator ${index} does not verify`);
        }
    });
}
/** Hex of a subject's block id, or `null` for a nullification. */
export function subjectBlockIdHex(subject) {
    return subject.kind === 'nullify' ? null : toHex(subject.block_id);
}
