import type { Command } from 'commander';
import { resolveServerConfig, SERVER_DEFAULTS, type RawServerOptions } from '../server/config.js';

export function registerServerCommand(program: Command): void {
  const server = program
    .command('server')
    .description('Run the control plane; it supervises nginx (the gateway) and the registry')
    .option('--data-dir <dir>', `state, logs and generated keys (env BERTH_DATA_DIR, default ${SERVER_DEFAULTS.dataDir})`)
    .option('--api-listen <host:port>', `API address (env BERTH_API_LISTEN, default ${SERVER_DEFAULTS.apiListen})`)
    .option('--gateway-listen <host:port>', `gateway address (env BERTH_GATEWAY_LISTEN, default ${SERVER_DEFAULTS.gatewayListen})`)
    .option('--gateway-admin-port <port>', "nginx's admin endpoint on 127.0.0.1 (env BERTH_GATEWAY_ADMIN_PORT, default: gateway port + 1)")
    .option('--gateway-user <name>', "when run as root: the unprivileged account nginx's workers run as (env BERTH_GATEWAY_USER, default www-data, else nobody)")
    .option('--network-pool <cidr>', `IPv4 range each project's network gets a /22 of (env BERTH_NETWORK_POOL, default ${SERVER_DEFAULTS.networkPool})`)
    .option('--registry-listen <host:port>', `registry address (env BERTH_REGISTRY_LISTEN, default ${SERVER_DEFAULTS.registryListen})`)
    .option('--public-url <url>', 'URL services are reached under (env BERTH_PUBLIC_URL, default http://<gateway-listen>)')
    .option('--memory-capacity <MiB>', "memory reservations may add up to (env BERTH_MEMORY_CAPACITY, default: the engine's total memory)")
    .option('--health-timeout <seconds>', `how long new tasks may take to become healthy (env BERTH_HEALTH_TIMEOUT, default ${SERVER_DEFAULTS.healthTimeout})`)
    .option('--drain <seconds>', `how long old tasks keep serving after the switch (env BERTH_DRAIN, default ${SERVER_DEFAULTS.drain})`)
    .option('--tls <mode>', `HTTPS on the gateway: off, acme (certificates from an ACME server) or files (your own) (env BERTH_TLS, default ${SERVER_DEFAULTS.tls})`)
    .option('--gateway-tls-listen <host:port>', `where the gateway serves HTTPS (env BERTH_GATEWAY_TLS_LISTEN, default ${SERVER_DEFAULTS.gatewayTlsListen})`)
    .option('--acme-directory <url>', "with --tls acme: the ACME server's directory URL (env BERTH_ACME_DIRECTORY)")
    .option('--acme-email <address>', 'with --tls acme: the contact for the ACME account (env BERTH_ACME_EMAIL)')
    .option('--acme-ca-file <file>', 'with --tls acme: a CA to trust for a private ACME server, besides the system ones (env BERTH_ACME_CA_FILE)')
    .option('--tls-cert <file>', 'with --tls files: the certificate chain, PEM (env BERTH_TLS_CERT)')
    .option('--tls-key <file>', 'with --tls files: its private key, PEM (env BERTH_TLS_KEY)')
    .option('--public-domain <domain>', 'also serve each service at <project>-<service>.<domain>, its path unchanged (env BERTH_PUBLIC_DOMAIN)')
    .option('--docker-host <socket>', `the Docker engine's socket, unix:///path or a path (env BERTH_DOCKER_HOST, default ${SERVER_DEFAULTS.dockerHost})`)
    .option('--orchestrator <kind>', `swarm (tasks as Swarm services on every node), engine (containers on that engine) or auto: swarm when the engine is a Swarm manager (env BERTH_ORCHESTRATOR, default ${SERVER_DEFAULTS.orchestrator})`)
    .option('--host-ports <min-max>', 'host ports stacks may publish on, e.g. 12000-12999 (env BERTH_HOST_PORTS; default none: every port is reached through the gateway)')
    .option('--allow-bind-mount <dir>', 'a host directory stacks may bind-mount from; repeat for more (env BERTH_ALLOW_BIND_MOUNT, colon-separated; default none)', (dir: string, dirs: string[] = []) => [...dirs, dir])
    .option('--metrics-listen <addr>', "also serve GET /metrics without a token here: HOST:PORT, or a port on 127.0.0.1 (env BERTH_METRICS_LISTEN; default off: /metrics on the API with the admin token only)")
    .option('--stop-grace <seconds>', `SIGTERM to SIGKILL grace for stopping tasks (env BERTH_STOP_GRACE, default ${SERVER_DEFAULTS.stopGrace})`)
    .addHelpText(
      'after',
      '\nExamples:\n  BERTH_ADMIN_TOKEN=s3cret berth server --data-dir /var/lib/berth --public-url https://srv.example.org\n' +
        '  berth server --public-url https://apps.example.org --public-domain apps.example.org --tls acme \\\n' +
        '    --acme-directory https://acme-v02.api.letsencrypt.org/directory --acme-email ops@example.org\n',
    )
    .action(async (options: RawServerOptions) => {
      const config = resolveServerConfig(options, process.env);
      // Loaded only here: the server pulls in Fastify, dockerode and SQLite, which every other
      // command would otherwise load at start (a third of a second).
      const { BerthServer } = await import('../server/server.js');
      const server = await BerthServer.start(config);
      if (server.admin.file) process.stderr.write(`berth: admin token is in ${server.admin.file}\n`);
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        server.app.log.info(`${signal}: stopping; services, nginx and the registry keep running`);
        server.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`berth: stopping failed: ${String(error)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
  server
    .command('rotate-key')
    .description('Re-encrypt every secret under a new key; run it while the server is stopped. Safe to run again after an interruption: it finishes the rotation begun')
    .option('--data-dir <dir>', `the server's data dir (env BERTH_DATA_DIR, default ${SERVER_DEFAULTS.dataDir})`)
    .addHelpText('after', '\nExample:\n  berth server rotate-key --data-dir /var/lib/berth\n')
    .action(async (options: { dataDir?: string }, command: Command) => {
      const { runRotateKey } = await import('../server/rotate-key-command.js');
      // `server` has a --data-dir of its own, which takes the flag wherever it stands.
      const dataDir = options.dataDir ?? (command.parent?.opts() as { dataDir?: string } | undefined)?.dataDir;
      const rotation = await runRotateKey(dataDir ?? process.env.BERTH_DATA_DIR ?? SERVER_DEFAULTS.dataDir);
      process.stdout.write(`${rotation.resumed ? 'finished the rotation begun earlier' : 'rotated'}: ${rotation.resealed} secret(s) re-encrypted; every secret is now under key ${rotation.keyId}, the only key in the key file\n`);
    });
}
