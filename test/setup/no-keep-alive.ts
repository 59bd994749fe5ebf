// Jest setupFilesAfterEnv: requests made through Node's global http.Agent (supertest's, node:http's) close their
// connection when answered. That agent keeps connections alive (Node >= 19), and a kept connection holds the server
// it reached open for the server's 5 s keep-alive: a jest worker told to exit inside that window could not, and was
// force-exited ("a worker process has failed to exit gracefully"). Each worker process has one such agent.
import http from "node:http";

http.globalAgent = new http.Agent({ keepAlive: false });
