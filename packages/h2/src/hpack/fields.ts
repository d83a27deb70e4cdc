// The header fields a call needs, and the record a decoded header block fills.

/** Which of the needed fields a header is (0: none of them). */
export const FIELD_OTHER = 0;
export const FIELD_METHOD = 1;
export const FIELD_PATH = 2;
export const FIELD_STATUS = 3;
export const FIELD_CONTENT_TYPE = 4;
export const FIELD_GRPC_STATUS = 5;

const NAMES: readonly (readonly [number, string])[] = [
  [FIELD_METHOD, ':method'],
  [FIELD_PATH, ':path'],
  [FIELD_STATUS, ':status'],
  [FIELD_CONTENT_TYPE, 'content-type'],
  [FIELD_GRPC_STATUS, 'grpc-status'],
];
const NAME_BYTES = NAMES.map(([id, name]) => [id, Buffer.from(name, 'latin1')] as const);

/** The field id of the name in `bytes[start, end)`. */
export function fieldIdOf(bytes: Uint8Array, start: number, end: number): number {
  const len = end - start;
  for (const [id, name] of NAME_BYTES) {
    if (name.length !== len) continue;
    let i = 0;
    while (i < len && bytes[start + i] === name[i]) i++;
    if (i === len) return id;
  }
  return FIELD_OTHER;
}

/** The field id of a name given as a string. */
export function fieldIdOfName(name: string): number {
  for (const [id, n] of NAMES) if (n === name) return id;
  return FIELD_OTHER;
}

/**
 * What one header block said about the fields a call needs. A field left undefined is absent
 * when `complete` is true, and unknown when it is false (the block referred to a dynamic-table
 * entry the decoder does not have, or could not be decoded at all).
 */
export class HeaderBlock {
  method: string | undefined = undefined;
  path: string | undefined = undefined;
  /** `:status`; NaN when present but not a 3-digit number. */
  status: number | undefined = undefined;
  contentType: string | undefined = undefined;
  /** `grpc-status`; NaN when present but not a decimal number. */
  grpcStatus: number | undefined = undefined;
  /** Every representation of the block was decoded. */
  complete = true;
  /** The block broke HPACK's rules (RFC 7541 §4–6); the table is not trusted after it. */
  error = false;

  reset(): void {
    this.method = undefined;
    this.path = undefined;
    this.status = undefined;
    this.contentType = undefined;
    this.grpcStatus = undefined;
    this.complete = true;
    this.error = false;
  }

  /** Records one decoded field. */
  set(field: number, value: string): void {
    switch (field) {
      case FIELD_METHOD:
        this.method = value;
        break;
      case FIELD_PATH:
        this.path = value;
        break;
      case FIELD_STATUS:
        this.status = parseDecimal(value);
        break;
      case FIELD_CONTENT_TYPE:
        this.contentType = value;
        break;
      case FIELD_GRPC_STATUS:
        this.grpcStatus = parseDecimal(value);
        break;
    }
  }
}

/** A non-negative decimal of at most 9 digits, or NaN. */
export function parseDecimal(s: string): number {
  const n = s.length;
  if (n === 0 || n > 9) return Number.NaN;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    v = v * 10 + c;
  }
  return v;
}
