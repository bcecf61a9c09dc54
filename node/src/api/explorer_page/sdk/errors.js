/**
 * Errors of the SDK. Every error names the problem in its message, in the words the Rust code
 * uses where there is an equivalent, and carries a machine-readable `kind`.
 *
 * - `InputError`: a value given by the caller is malformed (hex, length, address, amount, id).
 * - `DecodeError`: bytes do not decode under the strict canonical codec.
 * - `VerifyError`: evidence (a certificate, a proof, a header) does not check; `expected` and
 *   `actual` hold the two values when the failure compares them.
 * - `HttpError`: a node answered with an error (RFC 9457 problem document when it sent one).
 */
/** Base class of every error the SDK throws on purpose. */
export class TallyError extends Error {
    kind;
    constructor(kind, message) {
        super(message);
        this.kind = kind;
        this.name = new.target.name;
    }
}
/** A caller-supplied value is malformed. `field` names what was being read. */
export class InputError extends TallyError {
    field;
    constructor(field, message) {
        super('input', `${field}: ${message}`);
        this.field = field;
    }
}
/** Bytes did not decode (truncated, trailing bytes, bad tag, oversize list, not canonical). */
export class DecodeError extends TallyError {
    typeName;
    constructor(typeName, message) {
        super('decode', `${typeName}: ${message}`);
        this.typeName = typeName;
    }
}
/** Evidence did not verify. */
export class VerifyError extends TallyError {
    expected;
    actual;
    constructor(kind, message, expected, actual) {
        super(kind, message);
        this.expected = expected;
        this.actual = actual;
    }
}
/** A node answered with an HTTP error, or could not be reached. */
export class HttpError extends TallyError {
    status;
    problem;
    url;
    constructor(url, status, message, problem) {
        super('http', `${url}: ${status === 0 ? '' : `${status} `}${message}`);
        this.status = status;
        this.problem = problem;
        this.url = url;
    }
}
