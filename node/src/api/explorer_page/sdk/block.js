/** Blocks and headers (`node/types/src/block.rs`). */
import { encode } from './codec.js';
import { equalBytes, toHex } from './bytes.js';
import { VerifyError } from './errors.js';
import { domainHash, merkleLeaf } from './hash.js';
import { LIMITS } from './limits.js';
import { rootOfLeafHashes } from './merkle.js';
import { receiptHash } from './receipt.js';
import { readChainId, readHash, SignedTransactionCodec, writeChainId, writeHash } from './tx.js';
export const HeaderCodec = {
    typeName: 'Header',
    maxEncodedSize: LIMITS.HEADER_BYTES_MAX,
    write(w, h) {
        writeChainId(w, h.chain_id);
        w.u64(h.height).u64(h.view);
        writeHash(w, h.parent_id);
        w.u64(h.time_ms).u16(h.proposer);
        writeHash(w, h.tx_root);
        writeHash(w, h.receipts_root);
        writeHash(w, h.state_root);
        writeHash(w, h.validators_hash);
    },
    read(r) {
        return {
            chain_id: readChainId(r),
            height: r.u64('height'),
            view: r.u64('view'),
            parent_id: readHash(r),
            time_ms: r.u64('time_ms'),
            proposer: r.u16('proposer'),
            tx_root: readHash(r),
            receipts_root: readHash(r),
            state_root: readHash(r),
            validators_hash: readHash(r),
        };
    },
};
export const BlockCodec = {
    typeName: 'Block',
    maxEncodedSize: LIMITS.BLOCK_BYTES_MAX,
    write(w, block) {
        HeaderCodec.write(w, block.header);
        w.list(block.txs, LIMITS.BLOCK_TXS_MAX, 'txs', (w2, tx) => SignedTransactionCodec.write(w2, tx));
    },
    read(r) {
        return {
            header: HeaderCodec.read(r),
            txs: r.list(LIMITS.BLOCK_TXS_MAX, 'txs', (r2) => SignedTransactionCodec.read(r2)),
        };
    },
};
/** The block id: `tally v1 block id` hash of the encoded header. */
export function blockId(header) {
    const h = 'header' in header ? header.header : header;
    return domainHash('blockId', encode(HeaderCodec, h));
}
/** The tx root over transaction ids, in block order. */
export function txRoot(ids) {
    return rootOfLeafHashes(ids.map((id) => merkleLeaf(id)));
}
/** The receipts root over receipts, in block order. */
export function receiptsRoot(receipts) {
    return rootOfLeafHashes(receipts.map((receipt) => merkleLeaf(receiptHash(receipt))));
}
/** The link to the block with this header. */
export function parentLinkOf(header) {
    return { id: blockId(header), height: header.height, time_ms: header.time_ms };
}
function headerError(field, message, expected, found) {
    return new VerifyError(`header:${field}`, message, expected, found);
}
/** The chain id and validators-hash rules (`Header::check_chain`). */
export function checkChain(header, chainId, validatorsHash) {
    if (header.chain_id !== chainId) {
        throw headerError('chain_id', `the header names chain \`${header.chain_id}\`, not \`${chainId}\``, chainId, header.chain_id);
    }
    if (!equalBytes(header.validators_hash, validatorsHash)) {
        throw headerError('validators_hash', `the header names validator set ${toHex(header.validators_hash)}, not ${toHex(validatorsHash)}`, toHex(validatorsHash), toHex(header.validators_hash));
    }
}
/**
 * The rules a header must meet to extend `parent` (`Header::check_child_of`), in the Rust order:
 * chain id, height = parent + 1, parent link, validators hash, time after the parent's.
 */
export function checkChildOf(header, parent, chainId, validatorsHash) {
    if (header.chain_id !== chainId) {
        throw headerError('chain_id', `the header names chain \`${header.chain_id}\`, not \`${chainId}\``, chainId, header.chain_id);
    }
    if (parent.height + 1n !== header.height) {
        throw headerError('height', `the header's height ${header.height} is not the parent's height ${parent.height} + 1`, String(parent.height + 1n), String(header.height));
    }
    if (!equalBytes(header.parent_id, parent.id)) {
        throw headerError('parent_id', `the header's parent link names block ${toHex(header.parent_id)}, not the parent ${toHex(parent.id)}`, toHex(parent.id), toHex(header.parent_id));
    }
    if (!equalBytes(header.validators_hash, validatorsHash)) {
        throw headerError('validators_hash', `the header names validator set ${toHex(header.validators_hash)}, not ${toHex(validatorsHash)}`, toHex(validatorsHash), toHex(header.validators_hash));
    }
    if (header.time_ms <= parent.time_ms) {
        throw headerError('time_ms', `the header's time ${header.time_ms} ms is not after the parent's ${parent.time_ms} ms`, `> ${parent.time_ms}`, String(header.time_ms));
    }
}
