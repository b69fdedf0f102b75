/**
 * The second section of a run's outputs (files written beside the code): its listing, its
 * URLs, and previews that read only the beginning of a file, against a real HTTP server.
 */

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

import { ServerConnection } from '@jupyterlab/services';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  IOutputListing,
  listRunOutputs,
  sectionFileText,
  sectionFileUrl
} from '../../src/util/outputSections';
import { IOutputFile } from '../../src/util/outputTree';
import { readBeginning, RunnerApi } from '../../src/util/runnerApi';
import { FakeApi } from '../support/fakeApi';

const PNG: IOutputFile = { path: 'figures/fig 1.png', size: 9, mtime: 0, mime_type: 'image/png' };

describe('listRunOutputs', () => {
  it('gives both sections as the server lists them', async () => {
    const api = new FakeApi();
    const listing: IOutputListing = {
      files: [],
      total_size: 0,
      project_files: [PNG],
      project_total_size: 9,
      project_zip_folder: 'project'
    };
    api.listOutputs = async () => listing;
    expect(await listRunOutputs(api, 'r1')).toEqual(listing);
  });

  it('lists no file beside the code when the server has no such section', async () => {
    const api = new FakeApi();
    api.outputs.set('r1', [PNG]);
    const listing = await listRunOutputs(api, 'r1');
    expect(listing.files).toEqual([PNG]);
    expect(listing.project_files).toEqual([]);
    expect(listing.project_zip_folder).toBe('project');
  });
});

describe('sectionFileUrl', () => {
  const api = new FakeApi();

  it('names the section for a file written beside the code', () => {
    expect(sectionFileUrl(api, 'r1', PNG.path, 'project', true)).toBe(
      'http://127.0.0.1:9/pyrunner/api/runs/r1/outputs/figures/fig%201.png?section=project&download=1'
    );
  });

  it("leaves OUTPUT_FOLDER's URLs as they always were", () => {
    expect(sectionFileUrl(api, 'r1', 'output_1/a.csv', 'outputs')).toBe(
      api.outputUrl('r1', 'output_1/a.csv')
    );
    expect(sectionFileUrl(api, 'r1', 'a b.csv', 'outputs', true)).toBe(
      api.outputUrl('r1', 'a b.csv', true)
    );
  });
});

describe('sectionFileText against a real HTTP server', () => {
  let server: Server;
  let api: RunnerApi;
  let asked: string[];

  beforeEach(async () => {
    asked = [];
    server = createServer((request: IncomingMessage, response: ServerResponse) => {
      asked.push(request.url ?? '');
      const url = new URL(request.url ?? '', 'http://x');
      if (url.searchParams.get('section') !== 'project') {
        response.writeHead(404, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ message: "no output 'big.txt'" }));
        return;
      }
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end('x'.repeat(100_000));
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    api = new RunnerApi(
      ServerConnection.makeSettings({
        baseUrl: `http://127.0.0.1:${port}/`,
        token: '',
        appendToken: false
      })
    );
  });

  afterEach(async () => {
    await new Promise(resolve => server.close(resolve));
  });

  it('asks for the project section and reads only the beginning', async () => {
    const { text, cut } = await sectionFileText(api, 'r1', 'big.txt', 'project', 1000);
    expect(asked).toHaveLength(1);
    const url = new URL(asked[0], 'http://x');
    expect(url.pathname).toBe('/pyrunner/api/runs/r1/outputs/big.txt');
    expect(url.searchParams.get('section')).toBe('project');
    expect(text).toBe('x'.repeat(1000));
    expect(cut).toBe(true);
  });

  it("says the server's message when the file is not there", async () => {
    await expect(sectionFileText(api, 'r1', 'big.txt', 'outputs')).rejects.toThrow(
      "no output 'big.txt'"
    );
  });
});

describe('readBeginning', () => {
  it('returns a short body whole, not cut', async () => {
    expect(await readBeginning(new Response('a,b\n1,2\n'), 1000)).toEqual({
      text: 'a,b\n1,2\n',
      cut: false
    });
  });

  it('says a body exactly as long as the limit is not cut', async () => {
    expect(await readBeginning(new Response('12345'), 5)).toEqual({ text: '12345', cut: false });
  });
});
