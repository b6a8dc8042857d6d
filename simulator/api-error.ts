/** An Aster error reply: HTTP status plus the `{code,msg}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    msg: string,
  ) {
    super(msg);
  }
}

export const bad = (code: number, msg: string, status = 400): ApiError => new ApiError(status, code, msg);
export const missing = (name: string): ApiError =>
  bad(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
export const invalid = (name: string): ApiError => bad(-1130, `Data sent for parameter '${name}' is not valid.`);
