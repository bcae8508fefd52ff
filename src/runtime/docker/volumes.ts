import type Docker from 'dockerode';
import type { VolumeSpec } from '../task-runtime.js';
import { engineCall, statusOf } from './engine-errors.js';
import { labelFilters } from './tasks.js';

/** The engine's named volumes (local driver). */
export class DockerVolumes {
  constructor(private readonly docker: Docker) {}

  async ensure(spec: VolumeSpec): Promise<void> {
    // Creating a volume that exists answers it unchanged: the call is its own check.
    await engineCall(`create volume ${spec.name}`, () => this.docker.createVolume({ Name: spec.name, Driver: 'local', Labels: { ...spec.labels } }));
  }

  async remove(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const { Volumes } = await engineCall('list volumes', () => this.docker.listVolumes({ filters: { label: labelFilters(labels) } }));
    const inUse: string[] = [];
    for (const volume of Volumes ?? []) {
      try {
        await this.docker.getVolume(volume.Name).remove();
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) continue;
        // 409: a container still mounts it; its data stays.
        if (status === 409) inUse.push(volume.Name);
        else throw error;
      }
    }
    return inUse;
  }
}
