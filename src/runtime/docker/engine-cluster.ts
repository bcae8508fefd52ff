import type Docker from 'dockerode';
import { NodesNeedSwarmError } from '../../domain/node-errors.js';
import type { Cluster, ClusterNode } from '../cluster.js';
import { engineCall } from './engine-errors.js';

/** One Docker engine as a cluster: its machine is the one node, and there is nothing to change. */
export class EngineCluster implements Cluster {
  readonly orchestrator = 'engine' as const;

  constructor(private readonly docker: Docker) {}

  async listNodes(): Promise<ClusterNode[]> {
    const info = (await engineCall('describe itself', () => this.docker.info())) as {
      ID: string;
      Name: string;
      MemTotal: number;
      NCPU: number;
      ServerVersion: string;
      Labels?: string[];
    };
    const labels = Object.fromEntries((info.Labels ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    return [
      {
        id: info.ID,
        name: info.Name,
        address: '',
        role: 'manager',
        leader: true,
        status: 'ready',
        availability: 'active',
        draining: false,
        memoryBytes: info.MemTotal,
        cpus: info.NCPU,
        labels,
        engineVersion: info.ServerVersion,
      },
    ];
  }

  joinCommand(): Promise<string> {
    return Promise.reject(new NodesNeedSwarmError('Adding a node'));
  }

  setAvailability(): Promise<void> {
    return Promise.reject(new NodesNeedSwarmError('Draining or activating a node'));
  }

  setLabels(): Promise<void> {
    return Promise.reject(new NodesNeedSwarmError('Labelling a node'));
  }

  removeNode(): Promise<void> {
    return Promise.reject(new NodesNeedSwarmError('Removing a node'));
  }
}
