/** Messages between validators outside consensus (`node/types/src/wire.rs`). */
import { LIMITS } from './limits.js';
import { BlockCodec } from './block.js';
import { CertificateCodec } from './consensus.js';
import { readHash, SignedTransactionCodec, writeHash } from './tx.js';
export const TxBatchCodec = {
    typeName: 'TxBatch',
    maxEncodedSize: 4 + LIMITS.TX_GOSSIP_BATCH_MAX * LIMITS.TX_BYTES_MAX,
    write(w, txs) {
        w.list(txs, LIMITS.TX_GOSSIP_BATCH_MAX, 'txs', (w2, tx) => SignedTransactionCodec.write(w2, tx));
    },
    read(r) {
        return r.list(LIMITS.TX_GOSSIP_BATCH_MAX, 'txs', (r2) => SignedTransactionCodec.read(r2));
    },
};
/** The body of a borsh batch submission, `Vec<SignedTransaction>` of 1..=1,000. */
export const SubmitBatchCodec = {
    typeName: 'Vec<SignedTransaction>',
    maxEncodedSize: 4 + LIMITS.TX_SUBMIT_BATCH_MAX * LIMITS.TX_BYTES_MAX,
    write(w, txs) {
        w.list(txs, LIMITS.TX_SUBMIT_BATCH_MAX, 'txs', (w2, tx) => SignedTransactionCodec.write(w2, tx));
    },
    read(r) {
        return r.list(LIMITS.TX_SUBMIT_BATCH_MAX, 'txs', (r2) => SignedTransactionCodec.read(r2));
    },
};
export const BlockRequestCodec = {
    typeName: 'BlockRequest',
    maxEncodedSize: 33,
    write(w, request) {
        if (request.kind === 'by_id')
            writeHash(w.u8(0), request.id);
        else if (request.kind === 'by_height')
            w.u8(1).u64(request.height);
        else
            w.u8(2).u64(request.from).u32(request.count);
    },
    read(r) {
        const tag = r.tag(3, 'BlockRequest');
        if (tag === 0)
            return { kind: 'by_id', id: readHash(r) };
        if (tag === 1)
            return { kind: 'by_height', height: r.u64('height') };
        return { kind: 'range', from: r.u64('from'), count: r.u32('count') };
    },
};
export const CommittedBlockCodec = {
    typeName: 'CommittedBlock',
    maxEncodedSize: LIMITS.BLOCK_BYTES_MAX + LIMITS.CERTIFICATE_BYTES_MAX,
    write(w, committed) {
        BlockCodec.write(w, committed.block);
        CertificateCodec.write(w, committed.certificate);
    },
    read(r) {
        return { block: BlockCodec.read(r), certificate: CertificateCodec.read(r) };
    },
};
/** `BlockResponse::Range`: consecutive committed blocks. */
export const BlockResponseCodec = {
    typeName: 'BlockResponse',
    maxEncodedSize: LIMITS.SYNC_RESPONSE_BYTES_MAX,
    write(w, blocks) {
        w.u8(0).list(blocks, LIMITS.SYNC_RANGE_BLOCKS_MAX, 'blocks', (w2, b) => CommittedBlockCodec.write(w2, b));
    },
    read(r) {
        r.tag(1, 'BlockResponse');
        return r.list(LIMITS.SYNC_RANGE_BLOCKS_MAX, 'blocks', (r2) => CommittedBlockCodec.read(r2));
    },
};
