/**
 * The canonical codec: borsh, as `node/types/src/codec.rs` uses it, written and read by hand
 * with a small typed writer and reader.
 *
 * Decoding is strict in the same ways as the Rust `codec::decode`: the input may not exceed the
 * type's maximum encoded size; every list, byte string and string carries its own length limit,
 * checked before anything is allocated for it; trailing bytes are refused; and the value must
 * re-encode to exactly the input bytes, so every value has one encoding.
 */
import { equalBytes } from './bytes.js';
import { DecodeError } from './errors.js';
const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;
/** Appends borsh values to a growing buffer. */
export class Writer {
    buffer;
    length = 0;
    constructor(capacity = 256) {
        this.buffer = new Uint8Array(capacity);
    }
    reserve(extra) {
        if (this.length + extra <= this.buffer.length)
            return;
        let capacity = this.buffer.length * 2;
        while (capacity < this.length + extra)
            capacity *= 2;
        const grown = new Uint8Array(capacity);
        grown.set(this.buffer.subarray(0, this.length));
        this.buffer = grown;
    }
    /** The bytes written so far. */
    finish() {
        return this.buffer.slice(0, this.length);
    }
    u8(value) {
        if (!Number.isInteger(value) || value < 0 || value > 0xff)
            throw new RangeError(`u8 out of range: ${value}`);
        this.reserve(1);
        this.buffer[this.length++] = value;
        return this;
    }
    u16(value) {
        if (!Number.isInteger(value) || value < 0 || value > 0xffff)
            throw new RangeError(`u16 out of range: ${value}`);
        this.reserve(2);
        this.buffer[this.length++] = value & 0xff;
        this.buffer[this.length++] = value >>> 8;
        return this;
    }
    u32(value) {
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
            throw new RangeError(`u32 out of range: ${value}`);
        }
        this.reserve(4);
        for (let i = 0; i < 4; i++)
            this.buffer[this.length++] = (value >>> (8 * i)) & 0xff;
        return this;
    }
    /** Little-endian unsigned integer of `size` bytes. */
    uint(value, size, max, name) {
        if (typeof value !== 'bigint' || value < 0n || value > max)
            throw new RangeError(`${name} out of range: ${value}`);
        this.reserve(size);
        let rest = value;
        for (let i = 0; i < size; i++) {
            this.buffer[this.length++] = Number(rest & 0xffn);
            rest >>= 8n;
        }
        return this;
    }
    u64(value) {
        return this.uint(value, 8, U64_MAX, 'u64');
    }
    u128(value) {
        return this.uint(value, 16, U128_MAX, 'u128');
    }
    /** A u64 written big-endian (the ledger's `OrderedU64`, used in ordered state keys). */
    u64BigEndian(value) {
        if (typeof value !== 'bigint' || value < 0n || value > U64_MAX)
            throw new RangeError(`u64 out of range: ${value}`);
        this.reserve(8);
        for (let i = 7; i >= 0; i--)
            this.buffer[this.length++] = Number((value >> BigInt(8 * i)) & 0xffn);
        return this;
    }
    bool(value) {
        return this.u8(value ? 1 : 0);
    }
    /** Bytes with no length prefix (fixed-size arrays). */
    raw(bytes) {
        this.reserve(bytes.length);
        this.buffer.set(bytes, this.length);
        this.length += bytes.length;
        return this;
    }
    /** Exactly `size` bytes (a fixed-size array such as a key or a hash). */
    fixed(bytes, size, name) {
        if (!(bytes instanceof Uint8Array) || bytes.length !== size) {
            throw new RangeError(`${name} must be ${size} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
        }
        return this.raw(bytes);
    }
    /** A `Vec<u8>`: u32 length, then the bytes. */
    bytes(bytes, max, name) {
        if (bytes.length > max)
            throw new RangeError(`${name} is ${bytes.length} bytes, more than the limit of ${max}`);
        return this.u32(bytes.length).raw(bytes);
    }
    /** A `String`: u32 length, then UTF-8. */
    string(text, max, name) {
        const encoded = new TextEncoder().encode(text);
        if (encoded.length > max)
            throw new RangeError(`${name} is ${encoded.length} bytes, more than the limit of ${max}`);
        return this.u32(encoded.length).raw(encoded);
    }
    /** A `Vec<T>`: u32 count, then each item. */
    list(items, max, name, write) {
        if (items.length > max)
            throw new RangeError(`${name} has ${items.length} items, more than the limit of ${max}`);
        this.u32(items.length);
        for (const item of items)
            write(this, item);
        return this;
    }
    /** An `Option<T>`: 0, or 1 then the value. */
    option(value, write) {
        if (value === null || value === undefined)
            return this.u8(0);
        this.u8(1);
        write(this, value);
        return this;
    }
}
/** Reads borsh values from a byte array, refusing anything malformed. */
export class Reader {
    at = 0;
    bytes;
    typeName;
    constructor(bytes, typeName) {
        this.bytes = bytes;
        this.typeName = typeName;
    }
    /** Bytes not yet read. */
    remaining() {
        return this.bytes.length - this.at;
    }
    /** Offset of the next byte. */
    offset() {
        return this.at;
    }
    fail(message) {
        throw new DecodeError(this.typeName, message);
    }
    take(count, what) {
        if (this.remaining() < count) {
            this.fail(`unexpected end of input reading ${what} at byte ${this.at} (${count} bytes needed, ${this.remaining()} left)`);
        }
        const out = this.bytes.subarray(this.at, this.at + count);
        this.at += count;
        return out;
    }
    u8(what = 'u8') {
        return this.take(1, what)[0];
    }
    u16(what = 'u16') {
        const b = this.take(2, what);
        return b[0] | (b[1] << 8);
    }
    u32(what = 'u32') {
        const b = this.take(4, what);
        return (b[0] | (b[1] << 8) | (b[2] << 16)) + b[3] * 0x1000000;
    }
    uint(size, what) {
        const b = this.take(size, what);
        let value = 0n;
        for (let i = size - 1; i >= 0; i--)
            value = (value << 8n) | BigInt(b[i]);
        return value;
    }
    u64(what = 'u64') {
        return this.uint(8, what);
    }
    u128(what = 'u128') {
        return this.uint(16, what);
    }
    u64BigEndian(what = 'u64') {
        const b = this.take(8, what);
        let value = 0n;
        for (let i = 0; i < 8; i++)
            value = (value << 8n) | BigInt(b[i]);
        return value;
    }
    bool(what = 'bool') {
        const byte = this.u8(what);
        if (byte > 1)
            this.fail(`${what}: invalid bool value ${byte}`);
        return byte === 1;
    }
    /** Exactly `size` bytes, copied. */
    fixed(size, what) {
        return this.take(size, what).slice();
    }
    /** A length prefix, checked against `max` before anything is read or allocated. */
    length(max, what) {
        const length = this.u32(`${what} length`);
        if (length > max)
            this.fail(`${what} length ${length} exceeds the limit of ${max}`);
        return length;
    }
    bytesBounded(max, what) {
        return this.fixed(this.length(max, what), what);
    }
    string(max, what) {
        const bytes = this.take(this.length(max, what), what);
        try {
            return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
        }
        catch {
            return this.fail(`${what} is not valid UTF-8`);
        }
    }
    list(max, what, read) {
        const count = this.length(max, what);
        const items = [];
        for (let i = 0; i < count; i++)
            items.push(read(this));
        return items;
    }
    option(what, read) {
        const tag = this.u8(`${what} option tag`);
        if (tag === 0)
            return null;
        if (tag !== 1)
            this.fail(`${what}: invalid option tag ${tag}`);
        return read(this);
    }
    /** An enum variant index below `count`. */
    tag(count, what) {
        const tag = this.u8(`${what} tag`);
        if (tag >= count)
            this.fail(`unknown ${what} variant ${tag}`);
        return tag;
    }
}
/** Encodes a value canonically. */
export function encode(codec, value) {
    const writer = new Writer();
    codec.write(writer, value);
    return writer.finish();
}
/** Decodes untrusted bytes strictly: bounded size, no trailing bytes, canonical. */
export function decode(codec, bytes) {
    if (!(bytes instanceof Uint8Array))
        throw new DecodeError(codec.typeName, `expected bytes, got ${typeof bytes}`);
    if (bytes.length > codec.maxEncodedSize) {
        throw new DecodeError(codec.typeName, `input is ${bytes.length} bytes, more than the limit of ${codec.maxEncodedSize} bytes`);
    }
    const reader = new Reader(bytes, codec.typeName);
    const value = codec.read(reader);
    if (reader.remaining() !== 0) {
        throw new DecodeError(codec.typeName, `${reader.remaining()} trailing bytes after the value`);
    }
    if (!equalBytes(encode(codec, value), bytes)) {
        throw new DecodeError(codec.typeName, 'encoding is not canonical');
    }
    return value;
}
/** Reads one value of `codec` from `reader` (inside another value), without the outer checks. */
export function readNested(codec, reader) {
    return codec.read(reader);
}
