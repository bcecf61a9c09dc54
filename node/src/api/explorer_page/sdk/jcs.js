/**
 * RFC 8785 JSON Canonicalization Scheme, with the strict parse of `client/src/jcs.rs`.
 *
 * Why a parser of our own: JCS requires I-JSON (RFC 7493), and `JSON.parse` silently accepts
 * what I-JSON forbids (duplicate member names: the last wins; lone surrogates in `\u` escapes).
 * A badge whose JSON the Rust verifier refuses must not get a hash here, so the parse refuses the
 * same texts, with the same limits (4 MiB, 64 levels) and errors that say where. The canonical
 * output relies on the JavaScript engine's own serializations, which are what RFC 8785 §3.2.2
 * specifies: `JSON.stringify` of a string (escapes only `"`, `\` and controls, `\u00xx` lower
 * case) and of a number (ECMAScript `Number.prototype.toString`), and member names sorted by
 * UTF-16 code units (JavaScript's default string order).
 */
import { TallyError } from './errors.js';
/** The largest JSON text accepted, in bytes. */
export const JCS_INPUT_BYTES_MAX = 4 * 1024 * 1024;
/** The deepest nesting of arrays and objects accepted. */
export const JCS_DEPTH_MAX = 64;
/** Why a text could not be canonicalized. `at` is "line L, column C (byte B)" when known. */
export class JcsError extends TallyError {
    constructor(message) {
        super('jcs', message);
    }
}
export function isJsonObject(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
/** The member `name` of an object value. */
export function jsonGet(value, name) {
    if (!isJsonObject(value))
        return undefined;
    return value.members.find(([key]) => key === name)?.[1];
}
export function jsonTypeName(value) {
    if (value === null)
        return 'null';
    if (Array.isArray(value))
        return 'array';
    if (typeof value === 'object')
        return 'object';
    if (typeof value === 'boolean')
        return 'boolean';
    return typeof value;
}
class Parser {
    text;
    at = 0;
    constructor(text) {
        this.text = text;
    }
    position(at) {
        const before = this.text.slice(0, at);
        const line = before.split('\n').length;
        const lineStart = before.lastIndexOf('\n') + 1;
        const column = [...before.slice(lineStart)].length + 1;
        return `line ${line}, column ${column} (byte ${new TextEncoder().encode(before).length})`;
    }
    syntax(at, problem) {
        return new JcsError(`at ${this.position(at)}: ${problem}`);
    }
    found(at) {
        const c = this.text.codePointAt(at);
        return c === undefined ? 'found the end of the text' : `found ${JSON.stringify(String.fromCodePoint(c))}`;
    }
    peek() {
        return this.text[this.at];
    }
    skipWhitespace() {
        while (this.at < this.text.length) {
            const c = this.text[this.at];
            if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r')
                return;
            this.at++;
        }
    }
    value(depth) {
        const c = this.peek();
        if (c === '{')
            return this.object(depth + 1);
        if (c === '[')
            return this.array(depth + 1);
        if (c === '"')
            return this.string();
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9'))
            return this.number();
        if (c === 't')
            return this.literal('true', true);
        if (c === 'f')
            return this.literal('false', false);
        if (c === 'n')
            return this.literal('null', null);
        throw this.syntax(this.at, `expected a JSON value, ${this.found(this.at)}`);
    }
    literal(word, value) {
        if (!this.text.startsWith(word, this.at))
            throw this.syntax(this.at, `expected \`${word}\``);
        this.at += word.length;
        return value;
    }
    enter(depth) {
        if (depth > JCS_DEPTH_MAX) {
            throw new JcsError(`at ${this.position(this.at)}: arrays and objects nest deeper than the limit of ${JCS_DEPTH_MAX} levels`);
        }
    }
    array(depth) {
        this.enter(depth);
        this.at++;
        const items = [];
        this.skipWhitespace();
        if (this.peek() === ']') {
            this.at++;
            return items;
        }
        for (;;) {
            this.skipWhitespace();
            items.push(this.value(depth));
            this.skipWhitespace();
            const c = this.peek();
            if (c === ',')
                this.at++;
            else if (c === ']') {
                this.at++;
                return items;
            }
            else
                throw this.syntax(this.at, `expected ',' or ']' in an array, ${this.found(this.at)}`);
        }
    }
    object(depth) {
        this.enter(depth);
        this.at++;
        const members = [];
        this.skipWhitespace();
        if (this.peek() === '}') {
            this.at++;
            return { members: [] };
        }
        for (;;) {
            this.skipWhitespace();
            const nameAt = this.at;
            if (this.peek() !== '"')
                throw this.syntax(this.at, `expected a member name in double quotes, ${this.found(this.at)}`);
            const name = this.string();
            this.skipWhitespace();
            if (this.peek() !== ':')
                throw this.syntax(this.at, `expected ':' after a member name, ${this.found(this.at)}`);
            this.at++;
            this.skipWhitespace();
            members.push([name, this.value(depth), nameAt]);
            this.skipWhitespace();
            const c = this.peek();
            if (c === ',')
                this.at++;
            else if (c === '}') {
                this.at++;
                break;
            }
            else
                throw this.syntax(this.at, `expected ',' or '}' in an object, ${this.found(this.at)}`);
        }
        // A stable sort by UTF-16 code units keeps equal names in text order.
        members.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        for (let i = 1; i < members.length; i++) {
            if (members[i - 1][0] === members[i][0]) {
                const at = Math.max(members[i - 1][2], members[i][2]);
                throw new JcsError(`at ${this.position(at)}: duplicate member name ${JSON.stringify(members[i][0])} in one object (RFC 8785 requires I-JSON: names must be unique)`);
            }
        }
        return { members: members.map(([name, value]) => [name, value]) };
    }
    string() {
        const open = this.at;
        this.at++;
        let out = '';
        for (;;) {
            const runStart = this.at;
            while (this.at < this.text.length) {
                const code = this.text.charCodeAt(this.at);
                if (code === 0x22 || code === 0x5c || code < 0x20)
                    break;
                this.at++;
            }
            out += this.text.slice(runStart, this.at);
            if (this.at >= this.text.length)
                throw this.syntax(open, 'string is not closed');
            const code = this.text.charCodeAt(this.at);
            if (code === 0x22) {
                this.at++;
                return out;
            }
            if (code === 0x5c)
                out += this.escape();
            else {
                throw this.syntax(this.at, `control character U+${code.toString(16).toUpperCase().padStart(4, '0')} must be escaped in a string`);
            }
        }
    }
    escape() {
        const escapeAt = this.at;
        const kind = this.text[this.at + 1];
        if (kind === undefined)
            throw this.syntax(escapeAt, 'string is not closed');
        this.at += 2;
        const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (kind in simple)
            return simple[kind];
        if (kind !== 'u')
            throw this.syntax(escapeAt, `invalid escape; after '\\' ${this.found(escapeAt + 1)}`);
        const first = this.hex4(escapeAt);
        if (first >= 0xd800 && first <= 0xdbff) {
            if (this.text.startsWith('\\u', this.at)) {
                const secondAt = this.at;
                this.at += 2;
                const second = this.hex4(secondAt);
                if (second >= 0xdc00 && second <= 0xdfff)
                    return String.fromCharCode(first, second);
            }
            throw this.loneSurrogate(escapeAt, first);
        }
        if (first >= 0xdc00 && first <= 0xdfff)
            throw this.loneSurrogate(escapeAt, first);
        return String.fromCharCode(first);
    }
    loneSurrogate(at, unit) {
        return new JcsError(`at ${this.position(at)}: lone surrogate \\u${unit.toString(16).padStart(4, '0')} in a string (RFC 8785 requires I-JSON: no lone surrogates)`);
    }
    hex4(escapeAt) {
        const digits = this.text.slice(this.at, this.at + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(digits))
            throw this.syntax(escapeAt, 'a \\u escape needs four hex digits');
        this.at += 4;
        return parseInt(digits, 16);
    }
    number() {
        const start = this.at;
        const rest = this.text.slice(start);
        const match = /^-?(0|[1-9]\d*)?/.exec(rest);
        if (match[1] === undefined) {
            const at = start + match[0].length;
            throw this.syntax(at, `expected a digit, ${this.found(at)}`);
        }
        this.at += match[0].length;
        if (match[1] === '0' && /[0-9]/.test(this.peek() ?? ''))
            throw this.syntax(start, 'a number may not have leading zeros');
        if (this.peek() === '.') {
            this.at++;
            if (!/[0-9]/.test(this.peek() ?? ''))
                throw this.syntax(this.at, `expected a digit after the decimal point, ${this.found(this.at)}`);
            while (/[0-9]/.test(this.peek() ?? ''))
                this.at++;
        }
        if (this.peek() === 'e' || this.peek() === 'E') {
            this.at++;
            if (this.peek() === '+' || this.peek() === '-')
                this.at++;
            if (!/[0-9]/.test(this.peek() ?? ''))
                throw this.syntax(this.at, `expected a digit in the exponent, ${this.found(this.at)}`);
            while (/[0-9]/.test(this.peek() ?? ''))
                this.at++;
        }
        const text = this.text.slice(start, this.at);
        const value = Number(text);
        if (!Number.isFinite(value)) {
            throw new JcsError(`at ${this.position(start)}: number ${text} is outside the range of an IEEE 754 double`);
        }
        return value;
    }
}
/** Decodes UTF-8 strictly, with the size limit checked first. */
export function jcsText(bytes) {
    if (bytes.length > JCS_INPUT_BYTES_MAX) {
        throw new JcsError(`JSON text is ${bytes.length} bytes, more than the limit of ${JCS_INPUT_BYTES_MAX} bytes`);
    }
    try {
        return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    }
    catch {
        let valid = 0;
        // Find where the valid prefix ends, for the error (a rare path).
        for (let end = bytes.length; end > 0; end--) {
            try {
                new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
                valid = end;
                break;
            }
            catch {
                continue;
            }
        }
        throw new JcsError(`JSON text is not valid UTF-8 at byte ${valid}`);
    }
}
/** Parses JSON text strictly (RFC 8259, I-JSON names and strings, the limits above). */
export function parseJson(input) {
    const text = typeof input === 'string' ? input : jcsText(input);
    if (typeof input === 'string' && new TextEncoder().encode(text).length > JCS_INPUT_BYTES_MAX) {
        throw new JcsError(`JSON text is more than the limit of ${JCS_INPUT_BYTES_MAX} bytes`);
    }
    if (text.startsWith('\ufeff')) {
        throw new JcsError('JSON text starts with a byte order mark (U+FEFF); RFC 8259 §8.1 forbids adding one, remove it');
    }
    const parser = new Parser(text);
    parser.skipWhitespace();
    if (parser.at === text.length)
        throw new JcsError('JSON text is empty');
    const value = parser.value(0);
    parser.skipWhitespace();
    if (parser.at !== text.length)
        throw new JcsError(`at ${parser.position(parser.at)}: text continues after the JSON value`);
    return value;
}
function write(value, out) {
    if (value === null)
        out.push('null');
    else if (typeof value === 'boolean')
        out.push(value ? 'true' : 'false');
    else if (typeof value === 'number')
        out.push(JSON.stringify(value));
    else if (typeof value === 'string')
        out.push(JSON.stringify(value));
    else if (Array.isArray(value)) {
        out.push('[');
        value.forEach((item, i) => {
            if (i > 0)
                out.push(',');
            write(item, out);
        });
        out.push(']');
    }
    else {
        out.push('{');
        value.members.forEach(([name, item], i) => {
            if (i > 0)
                out.push(',');
            out.push(JSON.stringify(name), ':');
            write(item, out);
        });
        out.push('}');
    }
}
/** The canonical text of a parsed value. */
export function canonicalText(value) {
    const out = [];
    write(value, out);
    return out.join('');
}
/** The RFC 8785 canonical form of a JSON text, as UTF-8 bytes. */
export function canonicalize(input) {
    return new TextEncoder().encode(canonicalText(parseJson(input)));
}
