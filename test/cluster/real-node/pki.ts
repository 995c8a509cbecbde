/**
 * The real-node cluster's PKI, made with openssl at every `up` (never committed, never reused): one CA that
 * signs every serving and client certificate, like kubeadm's layout, and the ServiceAccount signing key.
 * ECDSA P-256 keys: generating the whole set takes well under a second.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertSpec {
  /** File name stem: `<name>.crt`, `<name>.key`. */
  name: string;
  cn: string;
  /** Organisations: Kubernetes reads them as groups (e.g. `system:masters`, `system:nodes`). */
  o?: string[];
  usage: ('server' | 'client')[];
  dns?: string[];
  ips?: string[];
}

export interface PkiParams {
  nodeName: string;
  nodeIP: string;
  kubernetesServiceIP: string;
  clusterDomain: string;
}

/** Every certificate of the cluster: who it is (CN/O), what it may do, and which names it serves. */
export function certSpecs(p: PkiParams): CertSpec[] {
  return [
    {
      name: 'apiserver',
      cn: 'kube-apiserver',
      usage: ['server'],
      // Pods reach the API server through the `kubernetes` Service (its ClusterIP and DNS names); the host
      // and the kubelet through the node address.
      dns: [
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        `kubernetes.default.svc.${p.clusterDomain}`,
        'localhost',
        p.nodeName,
      ],
      ips: [p.kubernetesServiceIP, p.nodeIP, '127.0.0.1'],
    },
    // The API server's identity towards kubelets (logs, exec, port-forward): authorised by the kubelet's
    // webhook authorizer, so it needs a group RBAC allows.
    {
      name: 'apiserver-kubelet-client',
      cn: 'kube-apiserver-kubelet-client',
      o: ['system:masters'],
      usage: ['client'],
    },
    { name: 'admin', cn: 'kubernetes-admin', o: ['system:masters'], usage: ['client'] },
    { name: 'controller-manager', cn: 'system:kube-controller-manager', usage: ['client'] },
    { name: 'scheduler', cn: 'system:kube-scheduler', usage: ['client'] },
    { name: 'kube-proxy', cn: 'system:kube-proxy', usage: ['client'] },
    // The Node authorizer and NodeRestriction admission key on exactly this CN/O.
    { name: 'kubelet-client', cn: `system:node:${p.nodeName}`, o: ['system:nodes'], usage: ['client'] },
    // Signed by the cluster CA, and the API server verifies it (--kubelet-certificate-authority).
    {
      name: 'kubelet-serving',
      cn: `system:node:${p.nodeName}`,
      o: ['system:nodes'],
      usage: ['server'],
      dns: [p.nodeName, 'localhost'],
      ips: [p.nodeIP, '127.0.0.1'],
    },
  ];
}

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function subject(cn: string, o: string[] = []): string {
  return [...o.map((x) => `/O=${x}`), `/CN=${cn}`].join('');
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Writes ca.{crt,key}, sa.{key,pub} and every certificate of `certSpecs` into `dir`. */
export function makePki(dir: string, p: PkiParams): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => join(dir, n);
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '3650',
    '-subj',
    '/CN=sd-e2e-real-node-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('sa.key')]);
  openssl(['pkey', '-in', f('sa.key'), '-pubout', '-out', f('sa.pub')]);

  for (const c of certSpecs(p)) {
    const sans = [...(c.dns ?? []).map((d) => `DNS:${d}`), ...(c.ips ?? []).map((i) => `IP:${i}`)];
    const ext = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${c.usage.map((u) => (u === 'server' ? 'serverAuth' : 'clientAuth')).join(',')}`,
      ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n');
    writeFileSync(f(`${c.name}.ext`), `${ext}\n`);
    const csr = openssl(['req', '-new', ...EC, '-keyout', f(`${c.name}.key`), '-subj', subject(c.cn, c.o)]);
    openssl(
      [
        'x509',
        '-req',
        '-CA',
        f('ca.crt'),
        '-CAkey',
        f('ca.key'),
        '-set_serial',
        `0x${randomBytes(12).toString('hex')}`,
        '-days',
        '365',
        '-extfile',
        f(`${c.name}.ext`),
        '-out',
        f(`${c.name}.crt`),
      ],
      csr,
    );
    rmSync(f(`${c.name}.ext`));
  }
}

/** PEM contents of `<name>.crt`/`<name>.key` (for kubeconfigs with embedded data). */
export function pem(dir: string, name: string): { cert: string; key: string } {
  return {
    cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
  };
}
