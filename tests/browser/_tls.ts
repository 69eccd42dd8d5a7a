/**
 * A throwaway self-signed TLS certificate for the `*.arcgis.com` browser run, made with the `openssl` CLI (present
 * on Debian). Chromium trusts it through `--ignore-certificate-errors-spki-list=<spkiSha256>`; Deno's own clients
 * can trust it through `Deno.createHttpClient({ caCerts: [certPem] })`.
 *
 * @module
 */

/** A generated certificate. */
export interface TestCertificate {
  /** The certificate, PEM. */
  certPem: string;
  /** Its private key, PEM (PKCS#8). */
  keyPem: string;
  /** Base64 of the SHA-256 of the DER SubjectPublicKeyInfo, as Chromium's SPKI allowlist wants it. */
  spkiSha256: string;
}

async function _openssl(args: string[], cwd: string): Promise<Uint8Array> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr).slice(0, 500)}`);
  }
  return output.stdout;
}

/** Generates an EC P-256 self-signed certificate valid for `names` (DNS names or IPv4 addresses), 2 days. */
export async function createTestCertificate(names: readonly string[]): Promise<TestCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "atb-tls-" });
  try {
    const san = names.map((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`).join(",");
    await _openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "key.pem",
      "-out",
      "cert.pem",
      "-days",
      "2",
      "-subj",
      "/CN=arcgis-token-broker test",
      "-addext",
      `subjectAltName=${san}`,
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ], dir);
    const spkiDer = await _openssl(["pkey", "-in", "key.pem", "-pubout", "-outform", "DER"], dir);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spkiDer as Uint8Array<ArrayBuffer>));
    let binary = "";
    for (const b of digest) binary += String.fromCharCode(b);
    return {
      certPem: await Deno.readTextFile(`${dir}/cert.pem`),
      keyPem: await Deno.readTextFile(`${dir}/key.pem`),
      spkiSha256: btoa(binary),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
