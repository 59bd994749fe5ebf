// Lets async route handlers fail into the router's error handler on Express 4 (which ignores rejected promises) as on 5.
import type { NextFunction, Request, Response } from "express";

/** Wraps an async handler (or middleware, which gets `next`) so a rejection reaches `next(error)`. */
export function asyncRoute(handler: (req: Request, res: Response, next: NextFunction) => Promise<void>) {
  return function asyncRouteHandler(req: Request, res: Response, next: NextFunction): void {
    handler(req, res, next).catch(next);
  };
}
