// A private certificate authority for the TLS tests, made with openssl (node:crypto cannot make
// certificates): the authority, an unrelated one, and a server certificate for loopback (and for
// the names a test asks for, such as the proxy tests' host name).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  /** PEM of the authority that issued `cert`. */
  ca: string;
  /** PEM of another authority, unrelated to `cert`. */
  otherCa: string;
  /** The server's key and certificate (127.0.0.1, localhost, and the names asked for). */
  key: string;
  cert: string;
}

export function makeCertificates(options: { dnsNames?: string[] } = {}): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-tls-"));
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    const authority = (name: string): void =>
      run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "2",
        "-subj",
        `/CN=tslab-oauth test ${name}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      );
    authority("ca");
    authority("other-ca");
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
    writeFileSync(
      join(dir, "server.ext"),
      `subjectAltName=IP:127.0.0.1,DNS:localhost${(options.dnsNames ?? []).map((name) => `,DNS:${name}`).join("")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
    );
    run(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "2",
      "-extfile",
      "server.ext",
    );
    const read = (name: string): string => readFileSync(join(dir, name), "utf8");
    return { ca: read("ca.pem"), otherCa: read("other-ca.pem"), key: read("server.key"), cert: read("server.pem") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
