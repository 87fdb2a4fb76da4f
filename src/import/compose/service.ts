// One Compose service → one Flotilla service: each part of the mapping in its own file,
// run in the order their inputs need (ports before the routes they suggest, the image
// before the ports it implies), then every key left over listed with a hint.
import { didYouMean } from '../../spec/suggest.ts';
import { mapCommand, mapImage } from './command.ts';
import { mapContainerOptions } from './container-options.ts';
import { mapDependsOn } from './depends-on.ts';
import { mapDeploy } from './deploy.ts';
import { mapEnvironment } from './environment.ts';
import { mapHealthcheck } from './healthcheck.ts';
import { TRANSLATED_SERVICE_KEYS, UNTRANSLATED_SERVICE_KEYS } from './keys.ts';
import { mapServiceNetworks } from './networks.ts';
import { mapPorts } from './ports.ts';
import { suggestRoutes } from './routes.ts';
import { mapServiceSecrets } from './secrets.ts';
import type { ServiceState } from './service-state.ts';
import { mapVolumes } from './volumes.ts';

export function mapService(state: ServiceState, usedNetworks: Set<string>): void {
  mapImage(state);
  mapPorts(state);
  mapCommand(state);
  mapEnvironment(state);
  mapVolumes(state);
  mapServiceSecrets(state);
  mapServiceNetworks(state, usedNetworks);
  mapDependsOn(state);
  mapHealthcheck(state);
  mapDeploy(state);
  mapContainerOptions(state);
  suggestRoutes(state);
  listUntranslated(state);
}

const KNOWN_KEYS = [...TRANSLATED_SERVICE_KEYS, ...Object.keys(UNTRANSLATED_SERVICE_KEYS)];

function listUntranslated(state: ServiceState): void {
  for (const [key, entry] of state.node.entries) {
    if (TRANSLATED_SERVICE_KEYS.includes(key) || key.startsWith('x-')) continue;
    const hint = Object.hasOwn(UNTRANSLATED_SERVICE_KEYS, key)
      ? UNTRANSLATED_SERVICE_KEYS[key]
      : undefined;
    if (hint !== undefined)
      state.context.note(
        'untranslated',
        entry.keyPos,
        state.path(key),
        `${key} has no equivalent`,
        hint,
      );
    else
      state.context.note(
        'untranslated',
        entry.keyPos,
        state.path(key),
        `\`${key}\` is not a Compose service key`,
        didYouMean(key, KNOWN_KEYS) ?? 'Compose would refuse it too: remove it or fix its name',
      );
  }
}
