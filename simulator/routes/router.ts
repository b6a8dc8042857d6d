import type { SimContext } from '../context.ts';
import { accountRoutes } from './account.ts';
import { marketRoutes } from './market.ts';
import { orderRoutes } from './orders.ts';
import type { Route, Security } from './route.ts';
import { userStreamRoutes } from './user-stream.ts';

const DEFAULT_VERSIONS: readonly number[] = [1, 3];

/** The route table: "METHOD name" → route, from the four route modules. */
export class Router {
  private readonly routes: ReadonlyMap<string, Route>;

  constructor(sim: SimContext) {
    this.routes = new Map(
      Object.entries({
        ...marketRoutes(sim),
        ...orderRoutes(sim),
        ...accountRoutes(sim),
        ...userStreamRoutes(sim),
      }),
    );
  }

  /** the route answering `method name` under `version`, or undefined (404) */
  find(method: string, name: string, version: number): Route | undefined {
    const r = this.routes.get(`${method} ${name}`);
    return r && (r.versions ?? DEFAULT_VERSIONS).includes(version) ? r : undefined;
  }

  static security(route: Route, version: number): Security {
    const s = route.security ?? 'SIGNED';
    return typeof s === 'function' ? s(version) : s;
  }

  /** request weight of a call; unknown routes weigh 1 */
  weight(method: string, name: string, params: URLSearchParams): number {
    const w = this.routes.get(`${method} ${name}`)?.weight ?? 1;
    return typeof w === 'function' ? w(params) : w;
  }
}
