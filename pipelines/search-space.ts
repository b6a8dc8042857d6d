/**
 * A tunable parameter, declared beside the operator settings it belongs to and keyed by the
 * setting's env name (e.g. TRAILING_STOP_BUFFER). `research/` samples these; operators never
 * import `research/`.
 */
export type ParamSpec =
  | {
      readonly type: 'float';
      readonly low: number;
      readonly high: number;
      readonly log?: boolean;
      readonly step?: number;
    }
  | {
      readonly type: 'int';
      readonly low: number;
      readonly high: number;
      readonly log?: boolean;
      readonly step?: number;
    }
  | { readonly type: 'categorical'; readonly choices: readonly (string | number | boolean)[] };

export type SearchSpace = Readonly<Record<string, ParamSpec>>;
