import { request, type Agent } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';

export interface ServedCertificate {
  readonly serial: string;
  readonly names: readonly string[];
  readonly issuer: string;
  readonly validFrom: number;
  readonly validTo: number;
}

export interface HttpsReply {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

export interface HttpsRequest {
  readonly port: number;
  /** The name the client asks for in the handshake (SNI), and the Host header unless host is given. */
  readonly servername: string;
  readonly path: string;
  readonly host?: string;
  readonly agent?: Agent;
  /** Verify the chain against these roots; without, any certificate is taken. */
  readonly ca?: string;
  readonly method?: string;
  readonly body?: string;
  readonly timeoutMs?: number;
}

/** One HTTPS request to the gateway on loopback, with any name in the handshake and Host. */
export function httpsGet(options: HttpsRequest): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        servername: options.servername,
        path: options.path,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? options.servername },
        agent: options.agent ?? false,
        timeout: options.timeoutMs ?? 5_000,
        ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.path} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The certificate a new handshake on port gets when it asks for servername (checked against ca when given). */
export function servedCertificate(port: number, servername: string | null, ca?: string): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ...(servername === null ? {} : { servername }),
      ...(ca === undefined ? { rejectUnauthorized: false } : { ca }),
      timeout: 5_000,
    });
    socket.once('secureConnect', () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      socket.end();
      resolve({
        serial: cert.serialNumber,
        names: (cert.subjectaltname ?? '')
          .split(', ')
          .filter((n) => n.startsWith('DNS:'))
          .map((n) => n.slice(4)),
        issuer: String(cert.issuer?.CN ?? ''),
        validFrom: Date.parse(cert.valid_from),
        validTo: Date.parse(cert.valid_to),
      });
    });
    socket.once('timeout', () => socket.destroy(new Error('handshake timed out')));
    socket.once('error', reject);
  });
}
