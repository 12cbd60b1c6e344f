import { describe, expect, it } from 'vitest';
import { EMULATOR_SITE_ID, EMULATOR_SITE_PATH, type GraphEmulator } from '../../emulators/graph/index.js';
import { oneDriveContext, providerFor, siteProviderFor, upsertNames, upserts, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));

/** The site's default library holds shared.txt; a second library, "Contracts", holds contract.pdf. */
function seedSite() {
  emulator.addFile('/', 'shared.txt', 'default library');
  const contracts = emulator.store.addLibrary(EMULATOR_SITE_ID, 'Contracts');
  const contract = emulator.store.addFile(contracts.rootId, 'contract.pdf', '%PDF contract');
  return { contracts, contract };
}

describe('SharePoint site_id', () => {
  it.each([
    ['its composite id', EMULATOR_SITE_ID],
    ['its path form', EMULATOR_SITE_PATH],
  ])('syncs every document library of the site named by %s, as one full enumeration', async (_, siteId) => {
    const { contracts, contract } = seedSite();
    const { pages, changes } = await walk(siteProviderFor(emulator), oneDriveContext(emulator, { site_id: siteId }), null);

    expect(upsertNames(changes)).toEqual(['contract.pdf', 'shared.txt']);
    expect(upserts(changes).find((i) => i.sourceId === contract.id)?.fetch).toEqual({ driveId: contracts.id, itemId: contract.id });
    expect(pages.every((p) => p.fullEnumeration)).toBe(true);
    expect(pages.map((p) => p.enumerationComplete ?? false)).toEqual([...pages.slice(1).map(() => false), true]); // the sweep waits for the last library
  });

  it('syncs only the libraries the config names, and names the site\'s libraries when one is unknown', async () => {
    seedSite();
    const provider = siteProviderFor(emulator);
    const { changes } = await walk(provider, oneDriveContext(emulator, { site_id: EMULATOR_SITE_ID, libraries: 'contracts' }), null);
    expect(upsertNames(changes)).toEqual(['contract.pdf']);

    await expect(provider.listChanges(oneDriveContext(emulator, { site_id: EMULATOR_SITE_ID, libraries: ['Budgets'] }), null)).rejects.toMatchObject({
      name: 'ScopeGoneError', // a named library deleted since is a scope gone: the error names the documents still indexed
      code: 'invalidConfig',
      message: expect.stringMatching(/"Budgets".*its libraries: Documents, Contracts/),
    });
  });

  it('picks up changes in every library on later syncs, and a library added since', async () => {
    const { contract } = seedSite();
    const provider = siteProviderFor(emulator);
    const ctx = oneDriveContext(emulator, { site_id: EMULATOR_SITE_ID });
    const first = await walk(provider, ctx, null);

    emulator.updateFile(contract.id, '%PDF contract v2');
    const minutes = emulator.store.addLibrary(EMULATOR_SITE_ID, 'Minutes');
    emulator.store.addFile(minutes.rootId, 'minutes.md', '# minutes');
    const second = await walk(provider, ctx, first.cursor);

    expect(upsertNames(second.changes)).toEqual(['contract.pdf', 'minutes.md']);
    expect(second.pages.every((p) => !p.fullEnumeration)).toBe(true);
  });

  it('keeps a folder scope inside the site\'s default library', async () => {
    seedSite();
    emulator.addFolder('/', 'Projects');
    emulator.addFile('/Projects', 'plan.txt', 'plan');
    const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator, { site_id: EMULATOR_SITE_ID, folder_path: '/Projects' }), null);
    expect(upsertNames(changes)).toEqual(['plan.txt']);
  });
});
