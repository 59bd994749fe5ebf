// Who is signed in. DEMO ONLY: this trusts an `x-user` header, so that the tests (and curl) can sign in as anyone.
// In your app, ask your session, e.g. with Auth.js: `return (await auth())?.user?.id;`
export async function currentUserId(request: Request): Promise<string | undefined> {
  return request.headers.get("x-user") ?? undefined;
}
