export default function Home() {
  return (
    <main>
      <h1>byok-ai on Next.js</h1>
      <p>
        The byok routes answer under <code>/api/byok</code>: try <code>GET /api/byok/keys</code> with an{" "}
        <code>x-user</code> header.
      </p>
    </main>
  );
}
