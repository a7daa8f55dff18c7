// Starts oauth2-mock-server (npm, pinned in bench/node/package.json) on loopback for bench/mock_throughput.py.
//   node oauth2_mock_server.mjs <port> [ES256|RS256]
// Prints "READY <issuer>" on stdout once listening; stops on SIGTERM/SIGINT.
import { OAuth2Server } from "oauth2-mock-server";

const port = Number(process.argv[2] ?? 0);
const alg = process.argv[3] ?? "ES256";
const server = new OAuth2Server();
await server.issuer.keys.generate(alg);
await server.start(port, "127.0.0.1");
console.log(`READY ${server.issuer.url}`);
const stop = async () => { await server.stop().catch(() => {}); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
