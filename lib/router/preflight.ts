// OPTIONS on the byok routes (CORS preflights that reach the router): the same no-store and helmet headers as the rest.
import type { NextFunction, Request, RequestHandler, Response } from "express";

/**
 * OPTIONS requests match none of the byok routes, so Express answers them itself (its automatic
 * `Allow` answer) after every layer has run: this layer, mounted after the routes, gives that answer
 * `Cache-Control: no-store` and helmet's headers first. It never asks for a user: a browser sends a
 * preflight without cookies. Other methods only get here when no route matched, and pass through.
 *
 * @param secure - the router's helmet middleware (with its defaults), or `undefined` with `helmet: false`
 */
export function preflightHeaders(secure: RequestHandler | undefined): RequestHandler {
  return function byokPreflightHeaders(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== "OPTIONS") return next();
    res.setHeader("Cache-Control", "no-store");
    if (secure) secure(req, res, next);
    else next();
  };
}
